"""The platform repo on GitHub (or GitHub Enterprise Server), through PyGithub.

PyGithub blocks, so every call runs in a worker thread (`anyio.to_thread`).
Commits go through the git data API (blobs, trees, commits, refs): one commit
per `commit_files` call whatever the number of files, and a ref update that
GitHub refuses unless it is a fast-forward, which is what lets concurrent
writers all land.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

import anyio
import github
from anyio import to_thread
from github.GitCommit import GitCommit
from github.GithubException import (
    BadAttributeException,
    BadCredentialsException,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.GitTree import GitTree
from github.Repository import Repository
from pydantic import AfterValidator

from home_idp.plugins.git.contract import (
    CommitAuthor,
    CommitResult,
    GitConfig,
    GitError,
    GitUnavailable,
    PushEvent,
    SourceHookOutcome,
    SourceHookResult,
)
from home_idp.plugins.git.paths import check_repo_path
from home_idp.plugins.git.webhooks import parse_push_event, verify_signature
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import Between, Flag, PluginOptions

__all__ = ["GitHubGit", "git_blob_sha"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
# Bounded, so a branch that never stops moving fails the step instead of spinning.
MAX_COMMIT_ATTEMPTS = 10
_FILE_MODE = "100644"
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
# scp-like `user@host:owner/repo.git`, as GitHub shows its SSH clone URLs.
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^@/:]+):(?P<path>[^/].*)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOOK_EVENTS = ["push"]


def git_blob_sha(content: bytes) -> str:
    """The sha git (and GitHub) gives a blob with this content."""
    header = b"blob %d\0" % len(content)
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class _Change:
    path: str
    content: bytes | None
    sha: str | None


@dataclass(frozen=True)
class _Entry:
    mode: str
    type: str
    sha: str


class _NotFastForward(Exception):
    """The branch moved between reading it and updating it."""


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an http(s) URL")
    if parts.username or parts.password:
        # The token goes in a header; credentials in the URL would end up in messages.
        raise ValueError("must not carry credentials")
    return value.rstrip("/")


def _owner(owner: str) -> str:
    if not _OWNER.match(owner):
        raise ValueError("must be a GitHub user or organisation name")
    return owner


@dataclass(frozen=True)
class _WebHost:
    """Where GitHub's web pages and clones are, worked out from its API URL."""

    scheme: str
    hostname: str
    port: int
    root: str

    @classmethod
    def of(cls, api_url: str) -> _WebHost:
        parts = urlsplit(api_url)
        hostname, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme, 443)
        if path.endswith("/api/v3"):
            # GitHub Enterprise Server serves its API under /api/v3 of the web host.
            return cls(scheme, hostname, port, path.removesuffix("/api/v3"))
        if hostname.startswith("api."):
            # api.github.com, and GHE.com's api.<subdomain>.ghe.com.
            return cls(scheme, hostname.removeprefix("api."), port, path)
        return cls(scheme, hostname, port, path)

    @property
    def netloc(self) -> str:
        default = self.port == _DEFAULT_PORTS.get(self.scheme)
        return self.hostname if default else f"{self.hostname}:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.root}"

    def full_name(self, url: str) -> str | None:
        """`owner/repo` when `url` names a repository on this host (https, ssh or
        scp-like), else None."""
        scp = _SCP_LIKE.match(url) if "://" not in url else None
        if scp is not None:
            host, path = scp["host"].lower(), "/" + scp["path"]
            same_host = host in {self.hostname, f"ssh.{self.hostname}"}
        else:
            parts = urlsplit(url)
            try:
                port = parts.port
            except ValueError:
                return None
            scheme, host, path = parts.scheme.lower(), (parts.hostname or "").lower(), parts.path
            if scheme in _DEFAULT_PORTS:
                same_host = host == self.hostname and (port or _DEFAULT_PORTS[scheme]) == self.port
                path = path.removeprefix(self.root) if path.startswith(f"{self.root}/") else ""
            else:
                # ssh's port is its own (ssh.github.com:443 for SSH over the https port).
                same_host = scheme == "ssh" and host in {self.hostname, f"ssh.{self.hostname}"}
        owner, _, name = path.strip("/").partition("/")
        name = name.removesuffix(".git")
        if not same_host or not _OWNER.match(owner) or not _REPO_NAME.match(name):
            return None
        return None if name in {".", ".."} else f"{owner}/{name}"


class GitHubOptions(PluginOptions):
    """The github plugin's options (see `GitHubGit`)."""

    token: str
    owner: Annotated[str, AfterValidator(_owner)]
    api_url: Annotated[str, AfterValidator(_api_url)] = DEFAULT_API_URL
    private: Flag = True
    timeout: Annotated[float, Between(0, 3600)] = 15.0
    seconds_between_requests: Annotated[float, Between(0, 3600)] = 0.25
    seconds_between_writes: Annotated[float, Between(0, 3600)] = 1.0


class GitHubGit:
    """The platform repo as a GitHub repository, created if missing, with a push webhook.

    Options (`config.options`): `token` (required; needs repo and admin:repo_hook
    access), `owner` (required: a user or an organisation), `api_url` (default
    https://api.github.com; `https://<host>/api/v3` for GitHub Enterprise Server),
    `private` (default "true"), `timeout` (seconds, default 15) and PyGithub's
    pacing `seconds_between_requests` / `seconds_between_writes` (defaults 0.25 /
    1.0, which GitHub recommends to stay clear of its secondary rate limits).
    """

    def __init__(self, config: GitConfig) -> None:
        options = GitHubOptions.read(config.options, "the github git plugin", GitError)
        token, owner = options.token, options.owner
        if not _REPO_NAME.match(config.repo_name) or config.repo_name in {".", ".."}:
            raise GitError(f"{config.repo_name!r} is not a valid GitHub repository name")
        if not _BRANCH.match(config.branch) or ".." in config.branch:
            raise GitError(f"{config.branch!r} is not a valid branch name")
        self._api_url = options.api_url
        self._web = _WebHost.of(options.api_url)
        self._private = options.private
        self._owner = owner
        self._repo_name = config.repo_name
        self._branch = config.branch
        self._webhook_url = config.webhook_url
        self._webhook_secret = config.webhook_secret
        self._token = token  # kept only to mask it out of messages
        self._clone_url: str | None = None
        self._github = github.Github(
            auth=github.Auth.Token(token),
            base_url=self._api_url,
            timeout=int(options.timeout) or 1,
            seconds_between_requests=options.seconds_between_requests or None,
            seconds_between_writes=options.seconds_between_writes or None,
            # A few quick retries on connection errors and 5xx; the engine's
            # reconciler retries a step later, so waiting long here only hides
            # an outage. Rate-limit waits are capped for the same reason.
            retry=github.GithubRetry(total=3, backoff_factor=0.1, max_rate_limit_wait=60),
            # Lazy objects: no request until an attribute is needed, so each
            # operation makes only the requests it has to.
            lazy=True,
        )

    def __repr__(self) -> str:
        return f"GitHubGit(repository={self.repository!r}, api_url={self._api_url!r})"

    @property
    def repository(self) -> str:
        """The repository's full name as push events carry it (`owner/repo`)."""
        return f"{self._owner}/{self._repo_name}"

    @property
    def clone_url(self) -> str:
        """The HTTPS clone URL (GitHub's own answer once `ensure_repo` ran); no credentials."""
        return self._clone_url or f"{self._web.base}/{self.repository}.git"

    @property
    def local_path(self) -> None:
        """The repository lives on GitHub, not on this machine."""
        return None

    async def aclose(self) -> None:
        """Close the HTTP connections to GitHub."""
        await to_thread.run_sync(self._github.close)

    async def ensure_repo(self) -> None:
        """Create the repository (private unless `private` is "false") and its branch if missing.

        An existing repository is left as it is, apart from creating the branch
        when it lacks it (from the default branch, or with a first commit when
        the repository is empty).
        """
        await self._run("ensuring the repository", self._ensure_repo)

    async def commit_files(
        self, files: Mapping[str, bytes | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        """Commit `files` (path → content, None deletes) on the branch in one commit.

        Paths are checked before any request. Files that already hold their
        content, and deletions of absent files, are left out; when nothing is
        left, no commit is made and the current head is returned. A ref update
        refused as not a fast-forward is rebuilt on the new head and retried.
        """
        changes = [
            _Change(
                check_repo_path(path), content, None if content is None else git_blob_sha(content)
            )
            for path, content in files.items()
        ]
        created_blobs: set[str] = set()
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            result = await self._run(
                "committing files",
                lambda: self._commit_once(changes, author, message, created_blobs),
            )
            if result is not None:
                return result
            logger.info(
                "branch %s of %s moved during a commit; retrying (attempt %d)",
                self._branch,
                self.repository,
                attempt,
            )
            # Jitter, so writers that collided do not collide again in lockstep.
            await anyio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 - not a secret
        raise GitUnavailable(
            f"the branch {self._branch!r} of {self.repository} kept moving; "
            f"gave up after {MAX_COMMIT_ATTEMPTS} attempts"
        )

    async def read_file(self, path: str, sha: str) -> bytes | None:
        """The file's content at commit `sha`, or None if the file or the commit is not there."""
        check_repo_path(path)
        if not _SHA.match(sha):
            raise GitError(f"{sha!r} is not a commit sha")
        return await self._run("reading a file", lambda: self._read_file(path, sha))

    async def head(self) -> str | None:
        """The branch's current commit, or None while the branch (or repository) has none."""
        return await self._run("reading the branch head", self._head)

    async def contains(self, sha: str) -> bool:
        """Whether commit `sha` is on the branch: the branch is ahead of it, or is it."""
        if not _SHA.match(sha):
            return False
        return await self._run("looking for a commit", lambda: self._contains(sha))

    async def register_webhook(self) -> None:
        """Make pushes send signed JSON push events to `config.webhook_url`.

        An existing hook with that URL is updated (events, secret) rather than
        duplicated; extra hooks with the same URL are removed.
        """
        if not self._webhook_url:
            raise GitError("no webhook URL is configured for the github git plugin")
        await self._run("registering the webhook", self._register_webhook)

    def source_repository(self, url: str) -> str | None:
        """The `owner/repo` that `url` names on this plugin's GitHub host, else None."""
        return self._web.full_name(url)

    async def register_source_hook(
        self, repo_url: str, hook_url: str, secret: str
    ) -> SourceHookResult:
        """Make pushes to `repo_url`, a repository on this plugin's GitHub host, send
        signed JSON push events to `hook_url`.

        `repo_url` may be an https URL (`https://github.com/o/r(.git)`), an ssh one
        (`ssh://git@github.com/o/r.git`) or scp-like (`git@github.com:o/r.git`);
        with GitHub Enterprise the host is the one `api_url` is on. The hook with
        exactly `hook_url` is updated if there is one, else created. GitHub's 403
        and 404 (the token may not administer the repository, or cannot see it)
        become REFUSED; the token needs admin:repo_hook (classic) or the
        repository's "Webhooks" write permission (fine-grained).
        """
        full_name = self.source_repository(repo_url)
        if full_name is None:
            message = f"the source repository is not a repository on {self._web.netloc}"
            return SourceHookResult(SourceHookOutcome.NOT_SUPPORTED, message)
        where = f"{self._web.netloc}{self._web.root}/{full_name}"
        try:
            created = await to_thread.run_sync(
                lambda: self._register_source_hook(full_name, hook_url, secret)
            )
        except (GithubException, BadAttributeException, OSError) as error:
            refused = (
                isinstance(error, GithubException)
                and error.status in {403, 404}
                and not isinstance(error, RateLimitExceededException)
            )
            if refused:
                logger.warning("GitHub refused to manage the hooks of %s", where)
                message = f"the token may not manage hooks of {full_name}"
                return SourceHookResult(SourceHookOutcome.REFUSED, message, where)
            doing = "registering the source webhook"
            failure = self._translate(error, doing, full_name, also_mask=(secret,))
            logger.warning("%s", failure)
            return SourceHookResult(SourceHookOutcome.FAILED, str(failure), where)
        logger.info("%s the source webhook of %s", "created" if created else "updated", where)
        outcome = SourceHookOutcome.CREATED if created else SourceHookOutcome.UPDATED
        return SourceHookResult(outcome, f"registered on {where}", where)

    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` (X-Hub-Signature-256) is right for `body`; constant time."""
        return verify_signature(self._webhook_secret, body, signature)

    def parse_push(self, body: bytes) -> PushEvent:
        """The push event in `body`; raises WebhookRejected for anything else."""
        return parse_push_event(body)

    # Blocking parts: each runs whole in a worker thread.

    def _repo(self) -> Repository:
        # Lazy: builds the URL without a request.
        return self._github.get_repo(self.repository)

    def _ensure_repo(self) -> None:
        repo = self._repo()
        try:
            clone_url = repo.clone_url
        except UnknownObjectException:
            repo = self._create_repo()
            clone_url = repo.clone_url
        self._clone_url = clone_url
        if self._branch_sha(repo, self._branch) is not None:
            return
        default_sha = self._branch_sha(repo, repo.default_branch)
        if default_sha is not None:
            try:
                repo.create_git_ref(f"refs/heads/{self._branch}", default_sha)
            except GithubException as error:
                # Another replica created it first: that is the goal reached.
                if error.status != 422 or self._branch_sha(repo, self._branch) is None:
                    raise
            return
        # An empty repository: the git data API refuses to work on one (409),
        # the contents API can make its first commit.
        repo.create_file(
            "README.md",
            "Initialise the home-idp platform repository",
            f"# {self._repo_name}\n\nManaged by home-idp.\n",
            branch=self._branch,
        )

    def _create_repo(self) -> Repository:
        login = self._github.get_user().login
        description = "home-idp platform repository"
        logger.info("creating the GitHub repository %s", self.repository)
        try:
            if login.lower() == self._owner.lower():
                return self._github.get_user().create_repo(
                    self._repo_name, description=description, private=self._private, auto_init=True
                )
            organisation = self._github.get_organization(self._owner)
            return organisation.create_repo(
                self._repo_name, description=description, private=self._private, auto_init=True
            )
        except GithubException as error:
            if error.status != 422:
                raise
            # Created meanwhile by another replica.
            repo = self._repo()
            _ = repo.clone_url
            return repo

    def _branch_sha(self, repo: Repository, branch: str) -> str | None:
        try:
            return repo.get_git_ref(f"heads/{branch}").object.sha
        except GithubException as error:
            # 404: no such branch; 409: the repository has no commits at all.
            if error.status in {404, 409}:
                return None
            raise

    def _head(self) -> str | None:
        return self._branch_sha(self._repo(), self._branch)

    def _commit_once(
        self,
        changes: list[_Change],
        author: CommitAuthor,
        message: str,
        created_blobs: set[str],
    ) -> CommitResult | None:
        repo = self._repo()
        ref = repo.get_git_ref(f"heads/{self._branch}")
        try:
            head_sha = ref.object.sha
        except GithubException as error:
            if error.status in {404, 409}:
                raise GitError(
                    f"the branch {self._branch!r} of {self.repository} does not exist; "
                    "ensure_repo creates it"
                ) from None
            raise
        base = repo.get_git_commit(head_sha)
        existing = self._entries(repo, base, [change.path for change in changes])
        elements: list[github.InputGitTreeElement] = []
        for change in changes:
            current = existing.get(change.path)
            if change.content is None or change.sha is None:
                if current is not None:
                    # GitHub refuses to delete a path that is not there, so only present ones.
                    elements.append(
                        github.InputGitTreeElement(
                            change.path, current.mode, current.type, sha=None
                        )
                    )
                continue
            if current is not None and current.type == "blob" and current.sha == change.sha:
                continue
            if change.sha not in created_blobs:
                blob = repo.create_git_blob(base64.b64encode(change.content).decode(), "base64")
                if blob.sha != change.sha:
                    raise GitError(f"GitHub stored {change.path} under an unexpected blob sha")
                created_blobs.add(change.sha)
            mode = current.mode if current is not None and current.type == "blob" else _FILE_MODE
            elements.append(github.InputGitTreeElement(change.path, mode, "blob", sha=change.sha))
        if not elements:
            return CommitResult(head_sha, changed=False)
        tree = repo.create_git_tree(elements, base_tree=base.tree)
        if tree.sha == base.tree.sha:
            return CommitResult(head_sha, changed=False)
        commit = repo.create_git_commit(
            message, tree, [base], author=github.InputGitAuthor(author.name, author.email)
        )
        try:
            ref.edit(commit.sha, force=False)
        except GithubException as error:
            if error.status == 422 and "fast forward" in _server_message(error).lower():
                return None
            raise
        return CommitResult(commit.sha, changed=True)

    def _entries(self, repo: Repository, commit: GitCommit, paths: list[str]) -> dict[str, _Entry]:
        """The current tree entries at `paths` (absent paths are left out)."""
        wanted = set(paths)
        tree = repo.get_git_tree(commit.tree.sha, recursive=True)
        if not tree.truncated:
            return {
                element.path: _Entry(element.mode, element.type, element.sha)
                for element in tree.tree
                if element.path in wanted
            }
        # GitHub truncates very large recursive listings; walk down to each path instead.
        found: dict[str, _Entry] = {}
        listings: dict[str, GitTree] = {}
        for path in wanted:
            tree_sha: str | None = commit.tree.sha
            *directories, name = path.split("/")
            for directory in directories:
                if tree_sha is None:
                    break
                entry = _listing_entry(repo, listings, tree_sha, directory)
                tree_sha = entry.sha if entry is not None and entry.type == "tree" else None
            if tree_sha is not None:
                leaf = _listing_entry(repo, listings, tree_sha, name)
                if leaf is not None:
                    found[path] = leaf
        return found

    def _read_file(self, path: str, sha: str) -> bytes | None:
        repo = self._repo()
        try:
            found = repo.get_contents(path, ref=sha)
        except GithubException as error:
            if error.status in {404, 409, 422}:
                return None
            raise
        if isinstance(found, list) or found.type != "file":
            return None
        if found.encoding == "base64":
            return found.decoded_content
        # Files over 1 MB come without inline content; the blob API has it.
        blob = repo.get_git_blob(found.sha)
        return base64.b64decode(blob.content)

    def _contains(self, sha: str) -> bool:
        try:
            comparison = self._repo().compare(sha, self._branch, comparison_commits_per_page=1)
            status = comparison.status
        except GithubException as error:
            # 404: unknown commit (or branch); 422: not comparable.
            if error.status in {404, 422}:
                return False
            raise
        return status in {"ahead", "identical"}

    def _register_webhook(self) -> None:
        repo = self._repo()
        config = {
            "url": self._webhook_url,
            "content_type": "json",
            "secret": self._webhook_secret,
            "insecure_ssl": "0",
        }
        matching = [
            hook for hook in repo.get_hooks() if hook.config.get("url") == self._webhook_url
        ]
        if not matching:
            repo.create_hook("web", config, events=["push"], active=True)
            return
        first, *duplicates = matching
        first.edit("web", config, events=["push"], active=True)
        for duplicate in duplicates:
            duplicate.delete()

    def _register_source_hook(self, full_name: str, hook_url: str, secret: str) -> bool:
        """Whether the hook was created (else updated)."""
        repo = self._github.get_repo(full_name)
        config = {"url": hook_url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}
        try:
            return _create_or_update_hook(repo, config)
        except GithubException as error:
            # GitHub keeps one hook per URL: another request may have made it between
            # the listing and the creation (422), and a second listing finds it.
            if error.status != 422:
                raise
            return _create_or_update_hook(repo, config)

    # Errors.

    async def _run(self, doing: str, call: Callable[[], T]) -> T:
        try:
            return await to_thread.run_sync(call)
        except GitError as error:
            raise type(error)(self._mask(str(error))) from None
        except (GithubException, BadAttributeException, OSError) as error:
            raise self._translate(error, doing) from error

    def _translate(
        self,
        error: Exception,
        doing: str,
        repository: str | None = None,
        also_mask: tuple[str, ...] = (),
    ) -> GitError:
        where = f"{doing} for {repository or self.repository}"
        if isinstance(error, BadCredentialsException):
            return GitError(f"GitHub refused the token while {where} (401)")
        if isinstance(error, RateLimitExceededException):
            return GitUnavailable(f"GitHub's rate limit was hit while {where}")
        if isinstance(error, GithubException):
            detail = self._mask(_server_message(error), also_mask)[:200]
            cls = GitUnavailable if error.status >= 500 else GitError
            return cls(f"GitHub answered {error.status} while {where}: {detail}")
        if isinstance(error, BadAttributeException):
            return GitError(f"GitHub sent an unexpected answer while {where}")
        # requests' errors (connection refused, timeouts, too many 5xx) are OSErrors.
        return GitUnavailable(f"GitHub at {self._api_url} could not be reached while {where}")

    def _mask(self, text: str, also: tuple[str, ...] = ()) -> str:
        return mask_secrets(text, [self._token, *also])


def _create_or_update_hook(repo: Repository, config: dict[str, str]) -> bool:
    """Whether a hook was created; an existing one with the same URL is updated instead."""
    existing = next((h for h in repo.get_hooks() if h.config.get("url") == config["url"]), None)
    if existing is None:
        repo.create_hook("web", config, events=_HOOK_EVENTS, active=True)
        return True
    existing.edit("web", config, events=_HOOK_EVENTS, active=True)
    return False


def _listing_entry(
    repo: Repository, listings: dict[str, GitTree], tree_sha: str, name: str
) -> _Entry | None:
    if tree_sha not in listings:
        listings[tree_sha] = repo.get_git_tree(tree_sha)
    for element in listings[tree_sha].tree:
        if element.path == name:
            return _Entry(element.mode, element.type, element.sha)
    return None


def _server_message(error: GithubException) -> str:
    data = error.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return error.message or "no message"
