"""Per-request DataLoaders: related objects cost one query per batch, not per row."""

# `_per_request` gives each field of `Loaders` a default factory, not a shared
# default, which is what RUF009 looks for.
# ruff: noqa: RUF009

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Generator, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.functions import Max
from tortoise.models import Model

from home_idp.server.apps.models import App, AppFile, AppSecret, DockerfileVersion
from home_idp.server.pipeline.models import Release, ReleaseStep
from home_idp.server.rbac.models import Membership, Policy, Project, Role, User

__all__ = ["Deferred", "Loaders", "resolve_loaded"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=Model)


def _by_id(model: type[M]) -> Callable[[Sequence[int]], Awaitable[list[M | None]]]:
    """A batch function that loads rows of `model` by primary key."""

    async def load(ids: Sequence[int]) -> list[M | None]:
        found = {row.pk: row for row in await model.filter(id__in=ids)}
        return [found.get(i) for i in ids]

    return load


def _grouped(rows: Iterable[T], owner: Callable[[T], int], ids: Sequence[int]) -> list[list[T]]:
    """The rows of each id in `ids`, in their order (a DataLoader's answer)."""
    grouped: dict[int, list[T]] = defaultdict(list)
    for row in rows:
        grouped[owner(row)].append(row)
    return [grouped[i] for i in ids]


async def _members_of_projects(ids: Sequence[int]) -> list[list[Membership]]:
    memberships = await Membership.filter(project_id__in=ids).order_by("id")
    return _grouped(memberships, lambda membership: membership.project_id, ids)


async def _memberships_of_users(ids: Sequence[int]) -> list[list[Membership]]:
    memberships = await Membership.filter(user_id__in=ids).order_by("id")
    return _grouped(memberships, lambda membership: membership.user_id, ids)


async def _policies_of_roles(ids: Sequence[int]) -> list[list[Policy]]:
    policies = await Policy.filter(role_id__in=ids).order_by("id")
    return _grouped(policies, lambda policy: policy.role_id, ids)


async def _steps_of_releases(ids: Sequence[int]) -> list[list[ReleaseStep]]:
    steps = await ReleaseStep.filter(release_id__in=ids).order_by("position")
    return _grouped(steps, lambda step: step.release_id, ids)  # type: ignore[attr-defined]


async def _secrets_of_apps(ids: Sequence[int]) -> list[list[AppSecret]]:
    secrets = await AppSecret.filter(app_id__in=ids).order_by("name")
    return _grouped(secrets, lambda secret: secret.app_id, ids)  # type: ignore[attr-defined]


async def _files_of_apps(ids: Sequence[int]) -> list[list[AppFile]]:
    files = await AppFile.filter(app_id__in=ids).order_by("name")
    return _grouped(files, lambda file: file.app_id, ids)


async def _latest_dockerfiles(ids: Sequence[int]) -> list[DockerfileVersion | None]:
    newest = (
        await DockerfileVersion.filter(app_id__in=ids)
        .group_by("app_id")
        .annotate(top=Max("id"))
        .values_list("top", flat=True)
    )
    found = {v.app_id: v for v in await DockerfileVersion.filter(id__in=newest)}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]


async def _live_releases(app_ids: Sequence[int]) -> list[int | None]:
    rows = await App.filter(id__in=app_ids).values_list("id", "live_release_id")
    live = dict(rows)
    return [live.get(i) for i in app_ids]


class Deferred(Generic[K, T, R]):
    """`convert` of what `loader` gives for `key`, loaded through the batch when awaited.

    Performance code, kept for what `tests/bench/api.py` measures: the members of
    a page of projects, each with a user and a role.

    Unlike a coroutine it costs nothing (and warns about nothing) if no one awaits
    it, so an object can hold one for a field the query may not ask for.
    """

    __slots__ = ("_convert", "_key", "_loader")

    def __init__(self, loader: DataLoader[K, T], key: K, convert: Callable[[T], R]) -> None:
        self._loader = loader
        self._key = key
        self._convert = convert

    def __await__(self) -> Generator[Any, None, R]:
        return self._load().__await__()

    async def _load(self) -> R:
        return self._convert(await self._loader.load(self._key))


def resolve_loaded(loader: DataLoader[K, T], key: K, convert: Callable[[T], R]) -> R | Awaitable[R]:
    """`convert` of what `loader` gives for `key`: at once when the loader already
    holds it, else a `Deferred` that loads it through the batch like any `load`.

    Every awaitable a field yields costs graphql-core a coroutine to complete it
    and a place in a gather; a page of 250 members with a user and a role each
    costs 500 of them even when their rows were loaded ahead in one batch. A
    plain value costs none.
    """
    future = loader.cache_map.get(key) if loader.cache else None
    if (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    ):
        return convert(future.result())
    # A failed batch raises when the field awaits it, so the error stays on that field.
    return Deferred(loader, key, convert)


def _per_request(load: Callable[[list[K]], Awaitable[Sequence[T]]]) -> DataLoader[K, T]:
    """A field of `Loaders`: a new DataLoader of `load` for every request."""
    return field(default_factory=lambda: DataLoader(load))


@dataclass
class Loaders:
    """Made fresh for every request, so nothing is cached across callers."""

    user: DataLoader[int, User | None] = _per_request(_by_id(User))
    role: DataLoader[int, Role | None] = _per_request(_by_id(Role))
    project: DataLoader[int, Project | None] = _per_request(_by_id(Project))
    app: DataLoader[int, App | None] = _per_request(_by_id(App))
    dockerfile_version: DataLoader[int, DockerfileVersion | None] = _per_request(
        _by_id(DockerfileVersion)
    )
    release: DataLoader[int, Release | None] = _per_request(_by_id(Release))
    steps_of_release: DataLoader[int, list[ReleaseStep]] = _per_request(_steps_of_releases)
    members_of_project: DataLoader[int, list[Membership]] = _per_request(_members_of_projects)
    memberships_of_user: DataLoader[int, list[Membership]] = _per_request(_memberships_of_users)
    policies_of_role: DataLoader[int, list[Policy]] = _per_request(_policies_of_roles)
    secrets_of_app: DataLoader[int, list[AppSecret]] = _per_request(_secrets_of_apps)
    files_of_app: DataLoader[int, list[AppFile]] = _per_request(_files_of_apps)
    latest_dockerfile: DataLoader[int, DockerfileVersion | None] = _per_request(_latest_dockerfiles)
    live_release_of_app: DataLoader[int, int | None] = _per_request(_live_releases)
