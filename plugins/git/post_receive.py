"""The platform repo's post-receive hook: a GitHub-format push webhook per pushed ref.

`LocalGit.register_webhook` copies this file, behind a shebang naming the
server's interpreter, into the bare repo's `hooks/post-receive`; the URL and
secret sit next to it in `hooks/home-idp-webhook.json`. It is therefore
standard library only, and it never imports home_idp.

A hook must never make a push fail: every failure prints one line to stderr
and the hook exits 0. A webhook that is lost this way is made up for by
home-idp's reconciler, which checks the repository itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any, TextIO

__all__ = ["CONFIG_NAME", "main", "push_event"]

CONFIG_NAME = "home-idp-webhook.json"
TIMEOUT_SECONDS = 5.0
# GitHub lists at most this many commits in one push event.
MAX_COMMITS = 2048
_FIELD = "\x1f"
_FORMAT = _FIELD.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"])


def _git(*args: str, stdin: str = "") -> str:
    # GIT_DIR comes from receive-pack, which runs the hook in the bare repo.
    result = subprocess.run(  # noqa: S603 - fixed git argv, no shell
        ["git", *args],  # noqa: S607 - git is found on the PATH receive-pack was given
        input=stdin.encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8", "replace")


def _is_zero(sha: str) -> bool:
    return set(sha) == {"0"}


def _changes(sha: str, parents: list[str]) -> dict[str, list[str]]:
    # A merge is described against its first parent, as GitHub does.
    base = [parents[0], sha] if parents else ["--root", sha]
    raw = _git("diff-tree", "-r", "-z", "--no-commit-id", "--no-renames", "--name-status", *base)
    fields = raw.split("\0")
    changes: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        key = {"A": "added", "D": "removed"}.get(status[:1], "modified")
        changes[key].append(path)
    return changes


def _commit(sha: str) -> dict[str, Any]:
    shown = _git("show", "-s", "--no-show-signature", f"--format={_FORMAT}", sha)
    fields = shown.split(_FIELD, _FORMAT.count(_FIELD))
    commit_id, tree, parents, name, email, date, c_name, c_email, _c_date, message = fields
    return {
        "id": commit_id,
        "tree_id": tree,
        "distinct": True,
        "message": message.rstrip("\n"),
        "timestamp": date,
        "author": {"name": name, "email": email},
        "committer": {"name": c_name, "email": c_email},
        **_changes(commit_id, parents.split()),
    }


def push_event(old: str, new: str, ref: str, repository: str) -> dict[str, Any]:
    """The push event GitHub would send for one `old new ref` line of the hook's input."""
    created, deleted = _is_zero(old), _is_zero(new)
    if deleted:
        shas: list[str] = []
    elif created:
        # A new branch lists what no other branch had already.
        refs = _git("for-each-ref", "--format=%(refname)").split()
        others = "".join(f"^{other}\n" for other in refs if other != ref)
        shas = _git("rev-list", "--reverse", "--stdin", new, stdin=others).split()
    else:
        shas = _git("rev-list", "--reverse", f"{old}..{new}").split()
    commits = [_commit(sha) for sha in shas[-MAX_COMMITS:]]
    if commits and commits[-1]["id"] == new:
        head_commit: dict[str, Any] | None = commits[-1]
    else:
        head_commit = None if deleted else _commit(new)
    forced = False
    if not created and not deleted:
        ancestor = subprocess.run(  # noqa: S603
            ["git", "merge-base", "--is-ancestor", old, new],  # noqa: S607
            capture_output=True,
            check=False,
            timeout=60,
        )
        forced = ancestor.returncode != 0
    pusher = os.environ.get("REMOTE_USER") or "home-idp"
    return {
        "ref": ref,
        "before": old,
        "after": new,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "repository": {"full_name": repository, "name": repository.rpartition("/")[2]},
        "commits": commits,
        "head_commit": head_commit,
        "pusher": {"name": pusher, "email": None},
    }


def _post(url: str, secret: str, event: dict[str, Any]) -> None:
    body = json.dumps(event).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in main
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "home-idp-post-receive",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):  # noqa: S310
        pass


def _ref_lines(stream: TextIO) -> list[tuple[str, str, str]]:
    # Iterating lines also yields a last line that lacks its newline.
    lines = []
    for line in stream:
        parts = line.split()
        if len(parts) == 3:
            lines.append((parts[0], parts[1], parts[2]))
    return lines


def _line(error: Exception) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def main(config_path: Path, stdin: TextIO = sys.stdin, stderr: TextIO = sys.stderr) -> int:
    """Send one signed push event per ref in `stdin`; always 0, so the push stands."""
    try:
        config = json.loads(config_path.read_text())
        url, secret, repository = config["url"], config["secret"], config["repository"]
        if not str(url).startswith(("http://", "https://")):
            raise ValueError("the webhook URL must be http(s)")
        for old, new, ref in _ref_lines(stdin):
            try:
                _post(url, secret, push_event(old, new, ref, repository))
            except Exception as error:  # one ref's failure must not stop the others
                stderr.write(f"home-idp: push webhook for {ref} not delivered: {_line(error)}\n")
    except Exception as error:
        stderr.write(f"home-idp: push webhooks not sent: {_line(error)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().with_name(CONFIG_NAME)))
