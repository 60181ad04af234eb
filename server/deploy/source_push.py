"""Push webhooks from an app's source repository host: who sent one, whether it
is genuine, and what it says.

Pure functions over headers and bytes, with no database: the gateway records a
delivery and acts on it; this module only reads it. GitHub, Gitea, Forgejo and
GitLab each name their headers and sign their bodies in their own way, and
describe a push in one of two shapes: GitHub's (which Gitea and Forgejo copy)
and GitLab's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

__all__ = [
    "Delivery",
    "EventKind",
    "PushCommit",
    "PushRejected",
    "SourcePush",
    "SourceSender",
    "delivery_of",
    "detect",
    "parse_push",
    "same_repository",
    "verify",
]

_T = TypeVar("_T")


class PushRejected(Exception):
    """A delivery that cannot be read as a push; the message is safe to show its sender."""


class SourceSender(StrEnum):
    """The kind of git host that sent a delivery."""

    GITHUB = "github"
    GITEA = "gitea"
    FORGEJO = "forgejo"
    GITLAB = "gitlab"


class EventKind(StrEnum):
    """What a delivery's event header announces."""

    PUSH = "push"  # a branch or a tag was pushed (or deleted)
    PING = "ping"  # the host checks that the webhook works
    OTHER = "other"


# Tried in this order: Forgejo also sends every Gitea header, and both also
# send GitHub's, so the most specific name must win.
_EVENT_HEADERS = (
    (SourceSender.FORGEJO, "x-forgejo-event"),
    (SourceSender.GITEA, "x-gitea-event"),
    (SourceSender.GITLAB, "x-gitlab-event"),
    (SourceSender.GITHUB, "x-github-event"),
)
_DELIVERY_HEADERS = {
    SourceSender.GITHUB: ("x-github-delivery",),
    SourceSender.GITEA: ("x-gitea-delivery",),
    SourceSender.FORGEJO: ("x-forgejo-delivery",),
    # Idempotency-Key (GitLab 17) stays the same when a delivery is retried,
    # which is what a replay check wants. X-Gitlab-Webhook-UUID (16.2) is new
    # on every request. X-Gitlab-Event-UUID is shared by every webhook that
    # one event sets off, so it comes last.
    SourceSender.GITLAB: ("idempotency-key", "x-gitlab-webhook-uuid", "x-gitlab-event-uuid"),
}
_PUSH_EVENTS = {
    SourceSender.GITHUB: frozenset({"push"}),
    SourceSender.GITEA: frozenset({"push"}),
    SourceSender.FORGEJO: frozenset({"push"}),
    SourceSender.GITLAB: frozenset({"Push Hook", "Tag Push Hook"}),
}
# Only GitHub has a ping event. Gitea's and Forgejo's "Test delivery" and
# GitLab's "Test" button send an ordinary push event instead.
_PING_EVENTS = {SourceSender.GITHUB: frozenset({"ping"})}
_SIGNATURE_HEADERS = {
    SourceSender.GITHUB: "x-hub-signature-256",
    SourceSender.GITEA: "x-gitea-signature",
    SourceSender.FORGEJO: "x-forgejo-signature",
}

# GitHub lists at most 20 commits and gives no total: a push of 20 or more
# may have changed paths that no listed commit shows.
_GITHUB_MAX_LISTED_COMMITS = 20
# SHA-1 or SHA-256 object names; all zeros stands for "no commit".
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}", re.IGNORECASE)
# Keys of the repository objects that name the pushed repository itself (a
# mirror_url or a fork's parent names another one, so they are left out).
_GITHUB_URL_KEYS = ("clone_url", "git_url", "ssh_url", "html_url", "url")
_GITLAB_URL_KEYS = (
    "git_http_url",
    "git_ssh_url",
    "http_url",
    "ssh_url",
    "web_url",
    "homepage",
    "url",
)


@dataclass(frozen=True)
class Delivery:
    """The headers that name a delivery: its sender, event and id."""

    sender: SourceSender
    event: str
    # None when the sender gave no id (GitLab before 14): no replay check then.
    delivery_id: str | None

    @property
    def kind(self) -> EventKind:
        if self.event in _PUSH_EVENTS[self.sender]:
            return EventKind.PUSH
        if self.event in _PING_EVENTS.get(self.sender, frozenset()):
            return EventKind.PING
        return EventKind.OTHER


@dataclass(frozen=True)
class PushCommit:
    """The commit a ref points at after a push, as the payload describes it."""

    sha: str
    author: str | None
    message: str
    url: str | None


@dataclass(frozen=True)
class SourcePush:
    """One push, read from any sender's payload."""

    sender: SourceSender
    repository_urls: frozenset[str]
    ref: str
    # None: the ref did not exist before (a new branch or tag).
    before: str | None
    # None: the ref was deleted.
    after: str | None
    head: PushCommit | None
    # None when the payload does not tell every changed path: a new ref, a
    # forced push, or commits left out or listed without their paths. The
    # caller then treats the push as touching everything.
    changed_paths: frozenset[str] | None
    pusher: str | None

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None

    @property
    def deleted(self) -> bool:
        return self.after is None

    @property
    def created(self) -> bool:
        return self.before is None


# -- headers -------------------------------------------------------------------


def detect(headers: Mapping[str, str]) -> SourceSender:
    """The sender named by a delivery's (lower-cased) headers."""
    for sender, header in _EVENT_HEADERS:
        if headers.get(header):
            return sender
    raise PushRejected(
        "unknown sender: expected an X-GitHub-Event, X-Gitea-Event, X-Forgejo-Event "
        "or X-Gitlab-Event header"
    )


def delivery_of(headers: Mapping[str, str]) -> Delivery:
    """The sender, event and delivery id of a delivery, each from the sender's own headers."""
    sender = detect(headers)
    event = next(headers[name] for kind, name in _EVENT_HEADERS if kind is sender)
    delivery_id = next(
        (headers[name] for name in _DELIVERY_HEADERS[sender] if headers.get(name)), None
    )
    return Delivery(sender, event, delivery_id)


def verify(sender: SourceSender, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether the delivery carries proof of `secret`, as its sender gives it.

    An empty secret proves nothing: Gitea sends an empty signature when no
    secret is set, and GitLab sends no token.
    """
    if not secret:
        return False
    if sender is SourceSender.GITLAB:
        # GitLab sends the secret itself, not a signature of the body.
        return _same(headers.get("x-gitlab-token"), secret)
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    expected = f"sha256={digest}" if sender is SourceSender.GITHUB else digest
    given = headers.get(_SIGNATURE_HEADERS[sender])
    return _same(given.lower() if given is not None else None, expected)


def _same(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, which a
    # forged header may well hold.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


# -- payloads ------------------------------------------------------------------


def parse_push(sender: SourceSender, body: bytes) -> SourcePush:
    """The push a delivery's JSON body describes; PushRejected when it is no push."""
    payload = _load(body)
    if sender is SourceSender.GITLAB:
        return _parse_gitlab(payload)
    return _parse_github_shaped(sender, payload)


def _load(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        if body.lstrip().startswith(b"payload="):
            raise PushRejected(
                "the body is form-encoded: set the webhook's content type to application/json"
            ) from None
        raise PushRejected("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise PushRejected("the body is not a JSON object")
    return payload


def _parse_github_shaped(sender: SourceSender, payload: dict[str, Any]) -> SourcePush:
    ref, before, after = _ref_and_shas(payload)
    urls = _urls(_required(payload, "repository", dict, ""), "repository", _GITHUB_URL_KEYS)
    commits = _listed_commits(payload)
    head_commit = _optional(payload, "head_commit", dict, "")
    head = _commit(head_commit, "head_commit") if head_commit is not None else None
    if sender is SourceSender.GITHUB:
        all_listed = len(commits) < _GITHUB_MAX_LISTED_COMMITS
    else:
        # Gitea and Forgejo list at most FEED_MAX_COMMIT_NUM commits (5 by
        # default) and give the real count; versions without it are not trusted.
        total = _optional_count(payload, "total_commits")
        all_listed = total is not None and total <= len(commits)
    # After a forced push the listed commits do not explain the change from
    # `before`: commits may have been dropped as well as added.
    forced = _optional(payload, "forced", bool, "") is True
    pusher = _optional(payload, "pusher", dict, "") or {}
    return SourcePush(
        sender=sender,
        repository_urls=urls,
        ref=ref,
        before=before,
        after=after,
        head=head or _head_among(commits, after),
        changed_paths=_changed_paths(commits, before, after, complete=all_listed and not forced),
        pusher=_first_text(pusher, ("login", "username", "name"), "pusher"),
    )


def _parse_gitlab(payload: dict[str, Any]) -> SourcePush:
    kind = _optional(payload, "object_kind", str, "")
    if kind is not None and kind not in {"push", "tag_push"}:
        raise PushRejected(f"not a push event (object_kind {kind[:40]!r})")
    ref, before, after = _ref_and_shas(payload)
    urls: set[str] = set()
    for key in ("project", "repository"):
        described = _optional(payload, key, dict, "")
        if described is not None:
            urls |= _urls(described, key, _GITLAB_URL_KEYS, required=False)
    if not urls:
        raise PushRejected("the payload names no repository URL (project.git_http_url...)")
    commits = _listed_commits(payload)
    # GitLab lists at most 20 commits; total_commits_count is the real count.
    total = _optional_count(payload, "total_commits_count")
    return SourcePush(
        sender=SourceSender.GITLAB,
        repository_urls=frozenset(urls),
        ref=ref,
        before=before,
        after=after,
        head=_head_among(commits, after),
        changed_paths=_changed_paths(
            commits, before, after, complete=total is not None and total <= len(commits)
        ),
        pusher=_first_text(payload, ("user_username", "user_name"), ""),
    )


@dataclass(frozen=True)
class _Listed:
    commit: PushCommit
    # None when the sender did not list the commit's paths.
    paths: frozenset[str] | None


def _ref_and_shas(payload: dict[str, Any]) -> tuple[str, str | None, str | None]:
    ref = _required(payload, "ref", str, "")
    if not ref.startswith("refs/") or any(ord(c) < 32 or c == "\x7f" for c in ref):
        raise PushRejected("ref must be a full ref name, such as refs/heads/main")
    before = _sha(_required(payload, "before", str, ""), "before")
    after = _sha(_required(payload, "after", str, ""), "after")
    return ref, _unless_zero(before), _unless_zero(after)


def _sha(value: str, where: str) -> str:
    if not _SHA.fullmatch(value):
        raise PushRejected(f"{where} must be a commit id (40 or 64 hex digits)")
    return value.lower()


def _unless_zero(sha: str) -> str | None:
    return None if sha.strip("0") == "" else sha


def _urls(
    described: dict[str, Any], where: str, keys: Iterable[str], *, required: bool = True
) -> frozenset[str]:
    urls = {url for key in keys if (url := _optional(described, key, str, where))}
    if required and not urls:
        raise PushRejected(f"{where} names no URL ({where}.clone_url...)")
    return frozenset(urls)


def _listed_commits(payload: dict[str, Any]) -> list[_Listed]:
    listed = _optional(payload, "commits", list, "") or []
    return [_listed(item, f"commits[{index}]") for index, item in enumerate(listed)]


def _listed(item: object, where: str) -> _Listed:
    if not isinstance(item, dict):
        raise PushRejected(f"{where} must be an object")
    return _Listed(_commit(item, where), _paths(item, where))


def _commit(described: dict[str, Any], where: str) -> PushCommit:
    author = _optional(described, "author", dict, where)
    return PushCommit(
        sha=_sha(_required(described, "id", str, where), f"{where}.id"),
        author=_optional(author, "name", str, f"{where}.author") if author else None,
        message=_required(described, "message", str, where),
        url=_optional(described, "url", str, where),
    )


def _paths(described: dict[str, Any], where: str) -> frozenset[str] | None:
    paths: set[str] = set()
    for key in ("added", "modified", "removed"):
        listed = _optional(described, key, list, where)
        if listed is None:
            return None
        if not all(isinstance(path, str) for path in listed):
            raise PushRejected(f"{where}.{key} must be a list of strings")
        paths.update(listed)
    return frozenset(paths)


def _head_among(commits: list[_Listed], after: str | None) -> PushCommit | None:
    return next((listed.commit for listed in commits if listed.commit.sha == after), None)


def _changed_paths(
    commits: list[_Listed], before: str | None, after: str | None, *, complete: bool
) -> frozenset[str] | None:
    if after is None:
        return frozenset()  # a deletion adds nothing to deploy
    # A new ref has no earlier state to compare with, and an empty list on a
    # moved ref (reset to an older commit) hides what changed.
    if before is None or not commits or not complete:
        return None
    changed: set[str] = set()
    for listed in commits:
        if listed.paths is None:
            return None
        changed |= listed.paths
    return frozenset(changed)


def _required(described: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T:
    value = _optional(described, key, kind, where)
    if value is None:
        raise PushRejected(f"{_name(where, key)} is missing")
    return value


def _optional(described: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T | None:
    value = described.get(key)
    if value is None:
        return None
    # bool is an int to isinstance; a count or a flag must be the right one.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PushRejected(f"{_name(where, key)} must be {_KIND_NAMES.get(kind, 'valid')}")
    return value


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    dict: "an object",
    list: "a list",
    bool: "true or false",
    int: "a whole number",
}


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _optional_count(payload: dict[str, Any], key: str) -> int | None:
    return _optional(payload, key, int, "")


def _first_text(described: dict[str, Any], keys: Iterable[str], where: str) -> str | None:
    return next((text for key in keys if (text := _optional(described, key, str, where))), None)


# -- repository URLs -----------------------------------------------------------

_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_SCHEME_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
# git's scp-like syntax: [user@]host:path, with no slash before the colon.
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^@/:\[\]\s]+):(?P<path>(?!//).+)")


def same_repository(url_a: str, url_b: str) -> bool:
    """Whether two git URLs name the same repository, whatever their form.

    https, http, ssh and git URLs and scp-like `git@host:owner/repo.git` all
    reduce to (host, port, path): the scheme and the user are dropped, a
    default port counts as none, and the path loses its slashes at either
    end and one trailing `.git`.

    The host is compared without case (DNS ignores it), and so is the path:
    GitHub, GitLab, Gitea and Forgejo resolve owner and repository names
    without case and refuse two names that differ only in case, so a match
    never joins two repositories of these hosts, and `github.com/octo/app`
    finds the push of `github.com/Octo/App` that a case-sensitive compare
    would silently miss.
    """
    key_a = _repository_key(url_a)
    return key_a is not None and key_a == _repository_key(url_b)


def _repository_key(url: str) -> tuple[str, int | None, str] | None:
    url = url.strip()
    port: int | None
    if "://" in url:
        parts = urlsplit(url)
        scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        if scheme not in _DEFAULT_PORTS:
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        host, path = parts.hostname or "", unquote(parts.path)
        if port == _DEFAULT_PORTS[scheme]:
            port = None
    else:
        match = _SCP_LIKE.fullmatch(url)
        if match is None:
            return None
        host, path, port = match["host"], match["path"], None
    segments = [segment for segment in path.split("/") if segment]
    if segments and segments[-1].lower().endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    host = host.lower().rstrip(".")
    if not host or not any(segments):
        return None
    return host, port, "/".join(segment for segment in segments if segment).casefold()
