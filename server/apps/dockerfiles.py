"""Dockerfile versions: every save is a new, immutable version of an app's Dockerfile."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tortoise.queryset import QuerySet

from home_idp.server.apps.dockerfile import diff_dockerfiles, parse_dockerfile
from home_idp.server.apps.lint import LintFinding, lint_dockerfile
from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.errors import NotFound, ValidationFailed
from home_idp.server.rbac.authz import Authorizer

__all__ = ["MAX_MESSAGE", "DockerfileDraft", "DockerfileService"]

MAX_MESSAGE = 500


@dataclass(frozen=True)
class DockerfileDraft:
    """A Dockerfile that parsed, with its lint findings, ready to be stored."""

    content: str
    message: str
    findings: tuple[LintFinding, ...]


class DockerfileService:
    """Reads versions for callers who may read the app, and checks new content."""

    def __init__(self, authz: Authorizer) -> None:
        self._authz = authz

    async def versions(self, app: App) -> QuerySet[DockerfileVersion]:
        await self._authz.require("dockerfile", "read", app.project.name)
        return DockerfileVersion.filter(app_id=app.id)

    async def get(self, version_id: int) -> DockerfileVersion:
        version = await DockerfileVersion.get_or_none(id=version_id).prefetch_related(
            "app__project"
        )
        if version is None or not await self._authz.can(
            "dockerfile", "read", version.app.project.name
        ):
            raise NotFound("no such Dockerfile version")
        return version

    async def latest(self, app: App) -> DockerfileVersion | None:
        await self._authz.require("dockerfile", "read", app.project.name)
        return await DockerfileVersion.filter(app_id=app.id).order_by("-number").first()

    async def diff(self, from_id: int, to_id: int) -> str:
        old, new = await self.get(from_id), await self.get(to_id)
        return diff_dockerfiles(
            old.content,
            new.content,
            f"{old.app.name}/Dockerfile@v{old.number}",
            f"{new.app.name}/Dockerfile@v{new.number}",
        )

    @staticmethod
    async def draft(content: str, message: str) -> DockerfileDraft:
        """Parse (errors name the line) and lint (warnings only, never blocking)."""
        message = message.strip()
        if not message or len(message) > MAX_MESSAGE or "\x00" in message:
            raise ValidationFailed.for_field(
                "message", f"must be 1 to {MAX_MESSAGE} characters describing the change"
            )
        parse_dockerfile(content)
        return DockerfileDraft(content, message, tuple(await lint_dockerfile(content)))

    @staticmethod
    async def store(app: App, draft: DockerfileDraft, author: str) -> DockerfileVersion:
        """Write the next version; call inside a transaction that holds the app's lock."""
        last = await DockerfileVersion.filter(app_id=app.id).order_by("-number").first()
        number = last.number + 1 if last else 1
        return await DockerfileVersion.create(
            app=app,
            number=number,
            content=draft.content,
            author=author,
            message=draft.message,
            lint_findings=[asdict(finding) for finding in draft.findings],
        )
