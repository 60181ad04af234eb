"""The GitHub stand-in's repositories: real git objects in memory, and their JSON shapes.

Object ids are computed as git computes them (`<type> <size>\\0<content>`,
sha1), so a blob sha the plugin works out locally matches the stand-in's.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "HOOKS_ADMIN",
    "HOOKS_NONE",
    "HOOKS_READ",
    "ZERO_SHA",
    "Commit",
    "FakeRepo",
    "Hook",
    "account_json",
    "iso",
]

ZERO_SHA = "0" * 40
_MODES = {"100644", "100755", "040000", "160000", "120000"}
_KIND = {"100644": "blob", "100755": "blob", "120000": "blob", "040000": "tree", "160000": "commit"}
_VERIFICATION = {
    "verified": False,
    "reason": "unsigned",
    "signature": None,
    "payload": None,
    "verified_at": None,
}

# What the stand-in's token may do with a repository's hooks: a classic token
# with admin:repo_hook on a repository it administers, a fine-grained token with
# the "Webhooks" read permission only, or a token with no right on them at all.
HOOKS_ADMIN, HOOKS_READ, HOOKS_NONE = "admin", "read", "none"

# path -> (mode, type, sha) for every non-tree entry below a tree
Flat = dict[str, tuple[str, str, str]]


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object_id(kind: str, data: bytes) -> str:
    header = b"%s %d\0" % (kind.encode(), len(data))
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def account_json(base_url: str, login: str, kind: str, number: int) -> dict[str, Any]:
    """A user or organisation, as GitHub shows one."""
    path = "orgs" if kind == "Organization" else "users"
    return {
        "login": login,
        "id": number,
        "node_id": f"U_{number}",
        "type": kind,
        "site_admin": False,
        "url": f"{base_url}/{path}/{login}",
        "html_url": f"{base_url}/{login}",
        "repos_url": f"{base_url}/{path}/{login}/repos",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass
class Commit:
    tree: str
    parents: tuple[str, ...]
    message: str
    author: dict[str, str]
    committer: dict[str, str]


@dataclass
class Hook:
    id: int
    config: dict[str, str]
    events: list[str]
    active: bool
    created_at: str = field(default_factory=lambda: iso(time.time()))
    updated_at: str = field(default_factory=lambda: iso(time.time()))


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    private: bool
    owner_type: str
    default_branch: str = "main"
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)
    rejected_updates: int = 0
    hooks_access: str = HOOKS_ADMIN

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # Objects.

    def put_blob(self, data: bytes) -> str:
        sha = _object_id("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: list[tuple[str, str, str, str]]) -> str:
        """Store a tree of (mode, type, name, sha) entries, sorted the way git sorts them."""
        ordered = sorted(entries, key=lambda e: (e[2] + "/" if e[1] == "tree" else e[2]).encode())
        raw = b"".join(
            f"{mode.lstrip('0')} {name}".encode() + b"\0" + bytes.fromhex(sha)
            for mode, _, name, sha in ordered
        )
        sha = _object_id("tree", raw)
        self.trees[sha] = ordered
        return sha

    def put_commit(
        self,
        tree: str,
        parents: tuple[str, ...],
        message: str,
        author: Mapping[str, str],
        committer: Mapping[str, str],
    ) -> str:
        people = []
        stamped: list[dict[str, str]] = []
        for role, who in (("author", author), ("committer", committer)):
            date = who.get("date") or iso(time.time())
            when = int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())
            people.append(f"{role} {who['name']} <{who['email']}> {when} +0000\n")
            stamped.append({"name": who["name"], "email": who["email"], "date": iso(when)})
        raw = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents) + "".join(people)
        sha = _object_id("commit", f"{raw}\n{message}".encode())
        self.commits[sha] = Commit(tree, parents, message, stamped[0], stamped[1])
        return sha

    def flatten(self, tree: str, prefix: str = "") -> Flat:
        flat: Flat = {}
        for mode, kind, name, sha in self.trees[tree]:
            if kind == "tree":
                flat.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                flat[prefix + name] = (mode, kind, sha)
        return flat

    def build(self, flat: Flat) -> str:
        entries: list[tuple[str, str, str, str]] = []
        below: dict[str, Flat] = {}
        for path, (mode, kind, sha) in flat.items():
            first, slash, rest = path.partition("/")
            if slash:
                below.setdefault(first, {})[rest] = (mode, kind, sha)
            else:
                entries.append((mode, kind, first, sha))
        entries += [("040000", "tree", name, self.build(sub)) for name, sub in below.items()]
        return self.put_tree(entries)

    def create_tree(self, items: Any, base_tree: Any) -> str:
        """GitHub's "create a tree": entries by path on top of `base_tree`; sha null deletes."""
        if base_tree is not None and base_tree not in self.trees:
            raise ValueError("base_tree is not a valid tree oid")
        if not isinstance(items, list):
            raise ValueError("Invalid tree info")
        flat = self.flatten(base_tree) if base_tree else {}
        for item in items:
            path, mode = item.get("path", ""), item.get("mode")
            if not path or path.startswith("/") or "//" in path or path.endswith("/"):
                raise ValueError(f"tree.path {path!r} is invalid")
            if mode not in _MODES or item.get("type") != _KIND[mode]:
                raise ValueError(f"tree.mode {mode!r} does not match tree.type")
            if item.get("content") is not None:
                sha = self.put_blob(item["content"].encode())
            elif "sha" in item:
                sha = item["sha"]
            else:
                raise ValueError("Must supply tree.sha or tree.content")
            inside = [p for p in flat if p.startswith(path + "/")]
            if sha is None:
                if path not in flat and not inside:
                    raise ValueError(f"tree.path {path!r} does not exist, so it cannot be deleted")
                for gone in [path, *inside]:
                    flat.pop(gone, None)
                continue
            for gone in [*inside, *(p for p in flat if path.startswith(p + "/"))]:
                del flat[gone]
            if item["type"] == "tree":
                if sha not in self.trees:
                    raise ValueError(f"tree.sha {sha} is not a valid tree")
                flat.update({f"{path}/{p}": e for p, e in self.flatten(sha).items()})
            elif item["type"] == "blob" and sha not in self.blobs:
                raise ValueError(f"tree.sha {sha} is not a valid blob")
            else:
                flat[path] = (mode, item["type"], sha)
        return self.build(flat)

    def commit(self, files: Mapping[str, bytes | None], message: str, parent: str | None) -> str:
        """A commit of `files` on top of `parent` (None deletes); no ref moves."""
        flat = self.flatten(self.commits[parent].tree) if parent else {}
        for path, content in files.items():
            if content is None:
                flat.pop(path, None)
            else:
                flat[path] = ("100644", "blob", self.put_blob(content))
        who = {"name": "Someone Else", "email": "someone@example.test"}
        return self.put_commit(self.build(flat), (parent,) if parent else (), message, who, who)

    # Reading.

    def lookup(self, tree: str, path: str) -> tuple[str, str, str] | None:
        """The (mode, type, sha) at `path` below `tree`, or None."""
        entry: tuple[str, str, str] = ("040000", "tree", tree)
        for name in path.split("/") if path else []:
            if entry[1] != "tree":
                return None
            match = [e for e in self.trees[entry[2]] if e[2] == name]
            if not match:
                return None
            entry = (match[0][0], match[0][1], match[0][3])
        return entry

    def resolve(self, ref: str) -> str | None:
        """A branch name, full ref or (abbreviated) commit sha to a commit sha."""
        for candidate in (ref, f"refs/heads/{ref}"):
            if candidate in self.refs:
                return self.refs[candidate]
        if len(ref) >= 4:
            found = [sha for sha in self.commits if sha.startswith(ref.lower())]
            if len(found) == 1:
                return found[0]
        return None

    def ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit it descends from, newest first (breadth first)."""
        seen: dict[str, None] = {}
        queue = deque([sha])
        while queue:
            current = queue.popleft()
            if current not in seen and current in self.commits:
                seen[current] = None
                queue.extend(self.commits[current].parents)
        return list(seen)

    def head(self, branch: str) -> str | None:
        return self.refs.get(f"refs/heads/{branch}")

    def history(self, branch: str) -> list[str]:
        head = self.head(branch)
        return self.ancestors(head) if head else []

    def read(self, ref: str, path: str) -> bytes | None:
        sha = self.resolve(ref)
        entry = self.lookup(self.commits[sha].tree, path) if sha else None
        return self.blobs.get(entry[2]) if entry and entry[1] == "blob" else None

    # JSON, as GitHub answers.

    def api(self, base: str) -> str:
        return f"{base}/repos/{self.full_name}"

    def payload(self, base: str) -> dict[str, Any]:
        path = "users" if self.owner_type == "User" else "orgs"
        return {
            "id": self.id,
            "node_id": f"R_{self.id}",
            "name": self.name,
            "full_name": self.full_name,
            "private": self.private,
            "visibility": "private" if self.private else "public",
            "owner": {
                "login": self.owner,
                "name": self.owner,
                "type": self.owner_type,
                "url": f"{base}/{path}/{self.owner}",
            },
            "html_url": f"{base}/{self.full_name}",
            "url": self.api(base),
            "hooks_url": f"{self.api(base)}/hooks",
            "clone_url": f"{base}/{self.full_name}.git",
            "default_branch": self.default_branch,
            "fork": False,
            "archived": False,
            "permissions": {
                "admin": self.hooks_access == HOOKS_ADMIN,
                "maintain": self.hooks_access == HOOKS_ADMIN,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }

    def ref_json(self, base: str, ref: str) -> dict[str, Any]:
        sha = self.refs[ref]
        return {
            "ref": ref,
            "node_id": f"REF_{ref}",
            "url": f"{self.api(base)}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{self.api(base)}/git/commits/{sha}"},
        }

    def blob_json(self, base: str, sha: str) -> dict[str, Any]:
        data = self.blobs[sha]
        return {
            "sha": sha,
            "node_id": f"B_{sha}",
            "size": len(data),
            "url": f"{self.api(base)}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        }

    def tree_json(self, base: str, sha: str, *, recursive: bool) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []

        def walk(tree: str, prefix: str) -> None:
            for mode, kind, name, entry_sha in self.trees[tree]:
                entry: dict[str, Any] = {"path": prefix + name, "mode": mode, "type": kind}
                entry["sha"] = entry_sha
                if kind != "commit":
                    entry["url"] = f"{self.api(base)}/git/{kind}s/{entry_sha}"
                if kind == "blob":
                    entry["size"] = len(self.blobs[entry_sha])
                entries.append(entry)
                if kind == "tree" and recursive:
                    walk(entry_sha, f"{prefix}{name}/")

        walk(sha, "")
        return {
            "sha": sha,
            "url": f"{self.api(base)}/git/trees/{sha}",
            "tree": entries,
            "truncated": False,
        }

    def commit_json(self, base: str, sha: str) -> dict[str, Any]:
        commit, api = self.commits[sha], self.api(base)
        return {
            "sha": sha,
            "node_id": f"C_{sha}",
            "url": f"{api}/git/commits/{sha}",
            "html_url": f"{base}/{self.full_name}/commit/{sha}",
            "author": commit.author,
            "committer": commit.committer,
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": f"{api}/git/trees/{commit.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/git/commits/{p}",
                    "html_url": f"{base}/{self.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
            "verification": _VERIFICATION,
        }

    def _repo_commit_json(self, base: str, sha: str) -> dict[str, Any]:
        git, api = self.commit_json(base, sha), self.api(base)
        return {
            "sha": sha,
            "node_id": f"C_{sha}",
            "commit": {key: git[key] for key in ("author", "committer", "message", "tree", "url")}
            | {"comment_count": 0, "verification": _VERIFICATION},
            "url": f"{api}/commits/{sha}",
            "html_url": git["html_url"],
            "author": None,
            "committer": None,
            "parents": [{"sha": p, "url": f"{api}/commits/{p}"} for p in self.commits[sha].parents],
        }

    def contents_json(self, base: str, commit: str, path: str) -> Any:
        entry = self.lookup(self.commits[commit].tree, path)
        if entry is None:
            return None

        def item(item_path: str, mode: str, kind: str, sha: str) -> dict[str, Any]:
            url = f"{self.api(base)}/contents/{item_path}?ref={commit}"
            git_url = f"{self.api(base)}/git/{kind}s/{sha}"
            html_url = f"{base}/{self.full_name}/blob/{commit}/{item_path}"
            is_file = kind == "blob"
            return {
                "type": "file" if is_file else "dir" if kind == "tree" else "submodule",
                "size": len(self.blobs[sha]) if is_file else 0,
                "name": item_path.rsplit("/", 1)[-1],
                "path": item_path,
                "sha": sha,
                "url": url,
                "git_url": git_url,
                "html_url": html_url,
                "download_url": f"{base}/raw/{self.full_name}/{commit}/{item_path}"
                if is_file
                else None,
                "_links": {"self": url, "git": git_url, "html": html_url},
            }

        mode, kind, sha = entry
        if kind == "tree":
            prefix = f"{path}/" if path else ""
            return [item(prefix + name, m, k, s) for m, k, name, s in self.trees[sha]]
        found = item(path, mode, kind, sha)
        if kind == "blob":
            found |= {"encoding": "base64", "content": base64.encodebytes(self.blobs[sha]).decode()}
        return found

    def compare_json(self, base: str, base_sha: str, head_sha: str) -> dict[str, Any]:
        base_line, head_line = self.ancestors(base_sha), self.ancestors(head_sha)
        ahead = [sha for sha in head_line if sha not in set(base_line)]
        behind = [sha for sha in base_line if sha not in set(head_line)]
        merge_base = next((sha for sha in head_line if sha in set(base_line)), base_sha)
        if base_sha == head_sha:
            status = "identical"
        else:
            status = "ahead" if not behind else "behind" if not ahead else "diverged"
        url = f"{self.api(base)}/compare/{base_sha}...{head_sha}"
        html = f"{base}/{self.full_name}/compare/{base_sha}...{head_sha}"
        return {
            "url": url,
            "html_url": html,
            "permalink_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "base_commit": self._repo_commit_json(base, base_sha),
            "merge_base_commit": self._repo_commit_json(base, merge_base),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [self._repo_commit_json(base, sha) for sha in reversed(ahead)],
            "files": [],
        }

    def hook_json(self, base: str, hook: Hook) -> dict[str, Any]:
        url = f"{self.api(base)}/hooks/{hook.id}"
        config = dict(hook.config)
        if config.get("secret"):
            config["secret"] = "********"  # GitHub never sends a hook's secret back
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": hook.events,
            "config": config,
            "updated_at": hook.updated_at,
            "created_at": hook.created_at,
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None},
        }

    def push_payload(
        self, base: str, ref: str, before: str, after: str, sender: Mapping[str, Any]
    ) -> dict[str, Any]:
        """GitHub's push event for moving `ref` from `before` to `after` (oldest commit first)."""
        if before == ZERO_SHA:
            known = {
                sha
                for other, head in self.refs.items()
                if other != ref
                for sha in self.ancestors(head)
            }
        else:
            known = set(self.ancestors(before))
        pushed = [sha for sha in self.ancestors(after) if sha not in known][::-1]
        commits = [self._push_commit(base, sha) for sha in pushed[-20:]]
        return {
            "ref": ref,
            "before": before,
            "after": after,
            "created": before == ZERO_SHA,
            "deleted": False,
            "forced": before != ZERO_SHA and before not in self.ancestors(after),
            "base_ref": None,
            "compare": f"{base}/{self.full_name}/compare/{before[:12]}...{after[:12]}",
            "commits": commits,
            "head_commit": self._push_commit(base, after),
            "pusher": {"name": sender["login"], "email": None},
        }

    def _push_commit(self, base: str, sha: str) -> dict[str, Any]:
        commit = self.commits[sha]
        now = self.flatten(commit.tree)
        was = self.flatten(self.commits[commit.parents[0]].tree) if commit.parents else {}
        return {
            "id": sha,
            "tree_id": commit.tree,
            "distinct": True,
            "message": commit.message,
            "timestamp": commit.committer["date"],
            "url": f"{base}/{self.full_name}/commit/{sha}",
            "author": {"name": commit.author["name"], "email": commit.author["email"]},
            "committer": {"name": commit.committer["name"], "email": commit.committer["email"]},
            "added": sorted(set(now) - set(was)),
            "removed": sorted(set(was) - set(now)),
            "modified": sorted(p for p in set(now) & set(was) if now[p] != was[p]),
        }
