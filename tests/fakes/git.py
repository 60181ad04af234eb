"""An in-memory platform repo: commits in a dict, GitHub-format push webhooks, HMAC-signed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from home_idp.plugins.git.contract import (
    CommitAuthor,
    CommitResult,
    GitConfig,
    GitError,
    PushEvent,
)
from home_idp.plugins.git.paths import check_repo_path
from home_idp.plugins.git.webhooks import parse_push_event, sign, verify_signature
from tests.fakes.webhooks import WebhookOutbox

__all__ = ["FakeGit"]

_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class _Commit:
    sha: str
    parent: str | None
    tree: Mapping[str, bytes]


class FakeGit:
    """The platform repo held in memory; pushes notify `config.webhook_url` once registered."""

    def __init__(self, config: GitConfig, outbox: WebhookOutbox | None = None) -> None:
        self._config = config
        self.outbox = outbox or WebhookOutbox()
        self._commits: dict[str, _Commit] = {}
        self._head: str | None = None
        self._hooked = False
        self._lock = asyncio.Lock()

    @property
    def repository(self) -> str:
        return f"home-idp/{self._config.repo_name}"

    @property
    def clone_url(self) -> str:
        return f"https://git.fake.test/{self.repository}.git"

    @property
    def local_path(self) -> Path | None:
        return None

    async def ensure_repo(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def commits_held(self) -> AsyncIterator[None]:
        """Hold every commit until the block ends: releases wait at their commit step."""
        async with self._lock:
            yield

    async def commit_files(
        self, files: Mapping[str, bytes | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        for path in files:
            check_repo_path(path)
        async with self._lock:  # one writer at a time: every commit lands on the last
            before = self._head
            tree = dict(self._commits[before].tree) if before else {}
            for path, content in files.items():
                if content is None:
                    tree.pop(path, None)
                else:
                    tree[path] = bytes(content)
            if before is not None and tree == self._commits[before].tree:
                return CommitResult(before, changed=False)
            if before is None and not tree:
                raise GitError("nothing to commit on an empty branch")
            seed = json.dumps([before, sorted(tree), author.name, message, len(self._commits)])
            sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
            self._commits[sha] = _Commit(sha, before, tree)
            self._head = sha
        if self._hooked:
            self._notify(before, sha, author, message)
        return CommitResult(sha, changed=True)

    async def read_file(self, path: str, sha: str) -> bytes | None:
        check_repo_path(path)
        commit = self._commits.get(sha)
        return None if commit is None else commit.tree.get(path)

    async def head(self) -> str | None:
        return self._head

    async def contains(self, sha: str) -> bool:
        at = self._head
        while at is not None:
            if at == sha:
                return True
            at = self._commits[at].parent
        return False

    async def register_webhook(self) -> None:
        self._hooked = True

    # GitHub's webhook format, as every git plugin speaks it.
    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        return verify_signature(self._config.webhook_secret, body, signature)

    def parse_push(self, body: bytes) -> PushEvent:
        return parse_push_event(body)

    async def aclose(self) -> None:
        await self.outbox.aclose()

    def _notify(self, before: str | None, after: str, author: CommitAuthor, message: str) -> None:
        body = json.dumps(
            {
                "ref": f"refs/heads/{self._config.branch}",
                "before": before or _ZERO_SHA,
                "after": after,
                "repository": {"full_name": self.repository, "clone_url": self.clone_url},
                "commits": [
                    {
                        "id": after,
                        "message": message,
                        "author": {"name": author.name, "email": author.email},
                    }
                ],
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(self._config.webhook_secret, body),
        }
        self.outbox.post(self._config.webhook_url, headers, body)
