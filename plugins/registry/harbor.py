"""The `harbor` registry plugin: Harbor's API v2.0 over httpx.

A home-idp project is a private Harbor project of the same name, with two
project-level robot accounts and a webhook policy that sends PUSH_ARTIFACT
events to home-idp with the shared secret in an `Authorization` header.

Harbor shows a robot's secret only when the robot is made or its secret
refreshed, so `ensure_project` hands back the credentials the server already
holds while their robot still exists, and issues a new secret only when
nothing is known about it.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import httpx

from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryConfig,
    RegistryCredentials,
    RegistryError,
    RegistryUnavailable,
)
from home_idp.plugins.registry.endpoint import RegistryEndpoint
from home_idp.plugins.registry.webhooks import authorization_value
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import Between, Flag, PluginOptions

__all__ = ["PULL_ROBOT", "PUSH_ROBOT", "WEBHOOK_POLICY", "HarborRegistry"]

logger = logging.getLogger(__name__)

API_PATH = "/api/v2.0"
PUSH_ROBOT = "home-idp"
PULL_ROBOT = "home-idp-pull"
WEBHOOK_POLICY = "home-idp"
PUSH_EVENT = "PUSH_ARTIFACT"
PAGE_SIZE = 100  # Harbor's maximum page size
# Bounded, so a server that keeps sending "next" links fails instead of looping.
MAX_PAGES = 1000

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_SECRET_ALPHABET = string.ascii_letters + string.digits
# Harbor reads an all-digit `project_name_or_id` as an id unless told otherwise,
# and a DNS label may be all digits.
_BY_NAME = {"X-Is-Resource-Name": "true"}


@dataclass(frozen=True)
class _RobotSpec:
    name: str
    actions: tuple[str, ...]
    description: str


# Two robots rather than one: the pull secret is copied into every namespace
# that runs the project's images, where far more can read it than the
# builder's; with it alone nobody can overwrite an image.
_PUSH = _RobotSpec(PUSH_ROBOT, ("push", "pull"), "home-idp: builds push the project's images")
_PULL = _RobotSpec(PULL_ROBOT, ("pull",), "home-idp: the cluster pulls the project's images")


class HarborOptions(PluginOptions):
    """The harbor plugin's options (see `HarborRegistry`)."""

    username: str
    password: str
    verify_tls: Flag = True
    timeout: Annotated[float, Between(0, 600, above_low=True)] = 10.0


class HarborRegistry(RegistryEndpoint):
    """A Harbor registry reached over its API v2.0, with basic auth.

    Options (`config.options`): `username` and `password` (required: a Harbor
    administrator or a system robot account allowed to create projects,
    robots and webhook policies), `verify_tls` (default "true"; "false" for a
    self-signed certificate) and `timeout` (seconds, default 10).
    """

    def __init__(self, config: RegistryConfig) -> None:
        options = HarborOptions.read(config.options, "the harbor registry plugin", RegistryError)
        username, password = options.username, options.password
        self._url = _base_url(config.url)
        super().__init__(self._url, config.webhook_secret)
        self._username = username
        self._password = password  # kept only to mask it out of messages
        self._webhook_url = config.webhook_url
        timeout = options.timeout
        self._client = httpx.AsyncClient(
            base_url=self._url + API_PATH,
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            verify=options.verify_tls,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"HarborRegistry(url={self._url!r}, username={self._username!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections to Harbor."""
        await self._client.aclose()

    # Projects, robots and the webhook.

    async def ensure_project(self, project: str, known: ProjectAccess | None) -> ProjectAccess:
        """Create the Harbor project, its robots and its webhook policy if missing; idempotent.

        The push robot (`robot$<project>+home-idp`) may push and pull, the
        pull robot (`robot$<project>+home-idp-pull`) only pull. A robot that
        exists keeps the secret in `known`; without one, its secret is
        refreshed. A disabled or expired robot, or one that lost its rights,
        is set right; so is a webhook policy with another address or secret.
        """
        _check_project(project)
        target = self._webhook_target()
        project_id = await self._ensure_harbor_project(project)
        robots = await self._project_robots(project_id)
        push = await self._ensure_robot(
            project, project_id, _PUSH, robots, known.push if known else None
        )
        pull = await self._ensure_robot(
            project, project_id, _PULL, robots, known.pull if known else None
        )
        await self._ensure_webhook(project, target)
        return ProjectAccess(push=push, pull=pull)

    async def _ensure_harbor_project(self, project: str) -> int:
        found = await self._project_id(project)
        if found is not None:
            return found
        logger.info("creating the Harbor project %s", project)
        await self._request(
            "POST",
            "/projects",
            f"creating the project {project!r}",
            json={"project_name": project, "metadata": {"public": "false"}},
            ok=(201,),
            # 409: another replica created it meanwhile, which is the goal reached.
            absent=(409,),
        )
        found = await self._project_id(project)
        if found is None:
            raise RegistryError(f"Harbor does not list the project {project!r} it just created")
        return found

    async def _project_id(self, project: str) -> int | None:
        listed = await self._list(
            "/projects", f"looking up the project {project!r}", {"name": project}
        )
        for item in listed or []:
            project_id = item.get("project_id")
            if item.get("name") == project and isinstance(project_id, int):
                return project_id
        return None

    async def _project_robots(self, project_id: int) -> list[dict[str, Any]]:
        query = {"q": f"Level=project,ProjectID={project_id}"}
        return await self._list("/robots", "listing the project's robot accounts", query) or []

    async def _ensure_robot(
        self,
        project: str,
        project_id: int,
        spec: _RobotSpec,
        robots: list[dict[str, Any]],
        known: RegistryCredentials | None,
    ) -> RegistryCredentials:
        robot = _find_robot(robots, project, spec)
        if robot is None:
            return await self._create_robot(project, project_id, spec)
        robot_id, name = _robot_identity(robot)
        if not _robot_is_usable(robot, project, spec):
            await self._repair_robot(robot_id, name, project, spec)
        if known is not None and known.username == name and known.password:
            return known
        return await self._refresh_robot(robot_id, name)

    async def _create_robot(
        self, project: str, project_id: int, spec: _RobotSpec
    ) -> RegistryCredentials:
        logger.info("creating the Harbor robot account %s+%s", project, spec.name)
        response = await self._request(
            "POST",
            "/robots",
            f"creating the robot account {spec.name!r} of {project!r}",
            json=_robot_body(spec.name, project, spec),
            ok=(201,),
            absent=(409,),
        )
        if response is None:
            # Another replica created it meanwhile and holds the only copy of
            # its secret: issue a new one here.
            robot = _find_robot(await self._project_robots(project_id), project, spec)
            if robot is None:
                raise RegistryError(f"Harbor refused to create the robot account {spec.name!r}")
            return await self._refresh_robot(*_robot_identity(robot))
        created = _json_object(response, "creating a robot account")
        name, secret = created.get("name"), created.get("secret")
        if not isinstance(name, str) or not isinstance(secret, str) or not name or not secret:
            raise RegistryError("Harbor created a robot account without a name or secret")
        return RegistryCredentials(name, secret)

    async def _repair_robot(self, robot_id: int, name: str, project: str, spec: _RobotSpec) -> None:
        logger.info("re-enabling the Harbor robot account %s and its rights", name)
        await self._request(
            "PUT",
            f"/robots/{robot_id}",
            f"updating the robot account {name!r}",
            # Harbor wants the whole robot, under the name it shows (with its prefix).
            json=_robot_body(name, project, spec),
        )

    async def _refresh_robot(self, robot_id: int, name: str) -> RegistryCredentials:
        logger.info("refreshing the secret of the Harbor robot account %s", name)
        secret = _new_secret()
        response = await self._request(
            "PATCH",
            f"/robots/{robot_id}",
            f"refreshing the secret of {name!r}",
            json={"secret": secret},
        )
        assert response is not None
        answer = _json_object(response, f"refreshing the secret of {name!r}")
        # Harbor answers an empty secret when it was given one, and the secret
        # it made up when it was not: take whichever it used.
        returned = answer.get("secret")
        return RegistryCredentials(
            name, returned if isinstance(returned, str) and returned else secret
        )

    def _webhook_target(self) -> dict[str, Any]:
        parts = urlsplit(self._webhook_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise RegistryError(
                f"the registry webhook URL must be an http(s) URL, not {self._webhook_url!r}"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            # Harbor keeps only scheme, host and path of a webhook address.
            raise RegistryError("the registry webhook URL must not carry a query or credentials")
        if not self._webhook_secret:
            raise RegistryError("no webhook secret is configured for the harbor registry plugin")
        return {
            "type": "http",
            "address": self._webhook_url,
            "auth_header": authorization_value(self._webhook_secret),
            "skip_cert_verify": False,
        }

    async def _ensure_webhook(self, project: str, target: dict[str, Any]) -> None:
        path = f"/projects/{quote(project, safe='')}/webhook/policies"
        doing = f"listing the webhook policies of {project!r}"
        wanted = {
            "name": WEBHOOK_POLICY,
            "description": "home-idp: image pushes advance releases",
            "enabled": True,
            "event_types": [PUSH_EVENT],
            "targets": [target],
        }
        policy = _find_policy(await self._list(path, doing, {}, headers=_BY_NAME) or [])
        if policy is None:
            created = await self._request(
                "POST",
                path,
                f"creating the webhook policy of {project!r}",
                json=wanted,
                ok=(201,),
                absent=(409,),
                headers=_BY_NAME,
            )
            if created is not None:
                return
            # Another replica created it meanwhile; check what it wrote.
            policy = _find_policy(await self._list(path, doing, {}, headers=_BY_NAME) or [])
            if policy is None:
                raise RegistryError(f"Harbor refused to create the webhook policy of {project!r}")
        if _policy_matches(policy, target):
            return
        policy_id = policy.get("id")
        if not isinstance(policy_id, int):
            raise RegistryError("Harbor listed a webhook policy without an id")
        logger.info("updating the Harbor webhook policy of %s", project)
        await self._request(
            "PUT",
            f"{path}/{policy_id}",
            f"updating the webhook policy of {project!r}",
            json=wanted,
            headers=_BY_NAME,
        )

    # Webhooks.

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request carries the shared secret in `Authorization`; constant time."""
        if "authorization" not in headers:
            # A plain dict may spell the name as it came; header names are case-insensitive.
            headers = {name.lower(): value for name, value in headers.items()}
        return super().verify_webhook(headers, body)

    # Tags.

    async def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest of the artifact `<repository>:<tag>`, or None if there is no such tag."""
        path = _repository_path(repository)
        if not _TAG.match(tag):
            raise RegistryError(f"{tag[:80]!r} is not a valid tag")
        response = await self._request(
            "GET",
            f"{path}/artifacts/{tag}",
            f"looking up {repository}:{tag}",
            absent=(404,),
        )
        if response is None:
            return None
        digest = _json_object(response, f"looking up {repository}:{tag}").get("digest")
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise RegistryError(f"Harbor sent an artifact without a digest for {repository}:{tag}")
        return digest

    async def list_tags(self, repository: str) -> list[str]:
        """The repository's tags, sorted; empty when the repository (or project) does not exist."""
        path = _repository_path(repository)
        artifacts = await self._list(
            f"{path}/artifacts",
            f"listing the tags of {repository}",
            {"with_tag": "true"},
            absent=(404,),
        )
        tags: set[str] = set()
        for artifact in artifacts or []:
            # Untagged artifacts come with `tags: null`.
            for tag in artifact.get("tags") or []:
                if isinstance(tag, dict) and isinstance(tag.get("name"), str):
                    tags.add(tag["name"])
        return sorted(tags)

    # HTTP.

    async def _request(
        self,
        method: str,
        url: str | httpx.URL,
        doing: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        absent: tuple[int, ...] = (),
    ) -> httpx.Response | None:
        """The response when its status is in `ok`, None when in `absent`; raises otherwise."""
        try:
            response = await self._client.request(
                method, url, params=params, json=json, headers=headers
            )
        except httpx.TransportError as error:
            # Refused, reset, timed out: the engine retries the step later.
            raise RegistryUnavailable(
                f"Harbor at {self._url} could not be reached while {doing} ({type(error).__name__})"
            ) from error
        if response.status_code in absent:
            return None
        if response.status_code in ok:
            return response
        raise self._error(response, doing)

    async def _list(
        self,
        path: str,
        doing: str,
        params: Mapping[str, str],
        *,
        headers: Mapping[str, str] | None = None,
        absent: tuple[int, ...] = (),
    ) -> list[dict[str, Any]] | None:
        """Every item of a paged Harbor list, or None when its status is in `absent`."""
        items: list[dict[str, Any]] = []
        url: str | httpx.URL = path
        query: dict[str, str] | None = {**params, "page": "1", "page_size": str(PAGE_SIZE)}
        page = 1
        for _ in range(MAX_PAGES):
            response = await self._request(
                "GET", url, doing, params=query, headers=headers, absent=absent
            )
            if response is None:
                return None
            answer = _json(response, doing)
            if not isinstance(answer, list):
                raise RegistryError(f"Harbor sent something other than a list while {doing}")
            items.extend(item for item in answer if isinstance(item, dict))
            link = _next_link(response.headers.get("link", ""))
            if link is not None:
                url, query = self._follow(link, doing), None
            elif answer and len(items) < _total_count(response):
                # No Link header (a proxy may drop it), but X-Total-Count says there is more.
                page += 1
                url, query = path, {**params, "page": str(page), "page_size": str(PAGE_SIZE)}
            else:
                return items
        raise RegistryError(f"Harbor sent more than {MAX_PAGES} pages while {doing}")

    def _follow(self, link: str, doing: str) -> httpx.URL:
        # Harbor's links are paths with their query; basic auth is only ever
        # sent to Harbor itself, so a link elsewhere is refused.
        base = httpx.URL(self._url)
        target = base.join(link)
        same_origin = (target.scheme, target.host, target.port) == (
            base.scheme,
            base.host,
            base.port,
        )
        if not same_origin or not target.raw_path.startswith(API_PATH.encode() + b"/"):
            raise RegistryError(f"Harbor sent a paging link outside its API while {doing}")
        return target

    def _error(self, response: httpx.Response, doing: str) -> RegistryError:
        status = response.status_code
        detail = self._mask(_harbor_message(response))
        if status == 401:
            return RegistryError(
                f"Harbor refused the credentials of {self._username!r} "
                f"while {doing} (401): {detail}"
            )
        if status == 403:
            return RegistryError(
                f"Harbor does not let {self._username!r} do this while {doing} (403): {detail}"
            )
        cls = RegistryUnavailable if status >= 500 or status == 429 else RegistryError
        return cls(f"Harbor answered {status} while {doing}: {detail}")

    def _mask(self, text: str) -> str:
        return mask_secrets(text, [self._password])


# Names.


def _check_project(project: str) -> None:
    if not _DNS_LABEL.match(project):
        raise RegistryError(
            f"{project[:80]!r} is not a valid project name "
            "(a DNS-1123 label: lower-case letters, digits and '-', at most 63)"
        )


def _repository_path(repository: str) -> str:
    """`/projects/<p>/repositories/<r>` for `<p>/<r>`, with `<r>` encoded twice as Harbor wants."""
    project, _, name = repository.partition("/")
    components = name.split("/")
    if (
        len(repository) > 255
        or not _DNS_LABEL.match(project)
        or not all(_COMPONENT.match(component) for component in components)
    ):
        raise RegistryError(
            f"{repository[:80]!r} is not a repository name of the form <project>/<name>"
        )
    # Harbor routes on the decoded path, so a '/' inside the repository name
    # has to survive one decoding: a/b -> a%2Fb -> a%252Fb.
    encoded = quote(quote(name, safe=""), safe="")
    return f"/projects/{project}/repositories/{encoded}"


# Robots and policies as Harbor shows them.


def _permissions(project: str, spec: _RobotSpec) -> list[dict[str, Any]]:
    access = [{"resource": "repository", "action": action} for action in spec.actions]
    return [{"kind": "project", "namespace": project, "access": access}]


def _robot_body(name: str, project: str, spec: _RobotSpec) -> dict[str, Any]:
    return {
        "name": name,
        "description": spec.description,
        "level": "project",
        "duration": -1,  # never expires: the reconciler has no way to renew it in time
        "disable": False,
        "permissions": _permissions(project, spec),
    }


def _find_robot(
    robots: list[dict[str, Any]], project: str, spec: _RobotSpec
) -> dict[str, Any] | None:
    # Harbor shows project robots as `<prefix><project>+<name>`; the prefix
    # ("robot$" by default) is a Harbor setting, and '+' cannot be in a name.
    suffix = f"{project}+{spec.name}"
    for robot in robots:
        name = robot.get("name")
        if (
            robot.get("level", "project") == "project"
            and isinstance(name, str)
            and name.endswith(suffix)
            and "+" not in name[: -len(suffix)]
        ):
            return robot
    return None


def _robot_identity(robot: dict[str, Any]) -> tuple[int, str]:
    robot_id, name = robot.get("id"), robot.get("name")
    if not isinstance(robot_id, int) or not isinstance(name, str):
        raise RegistryError("Harbor listed a robot account without an id or name")
    return robot_id, name


def _robot_is_usable(robot: dict[str, Any], project: str, spec: _RobotSpec) -> bool:
    if robot.get("disable") is True:
        return False
    expires_at = robot.get("expires_at")
    if isinstance(expires_at, int) and expires_at != -1 and expires_at <= time.time():
        return False
    granted: set[str] = set()
    for permission in robot.get("permissions") or []:
        if not isinstance(permission, dict):
            continue
        if permission.get("kind") != "project" or permission.get("namespace") != project:
            continue
        for access in permission.get("access") or []:
            if (
                isinstance(access, dict)
                and access.get("resource") == "repository"
                and access.get("effect") in (None, "", "allow")
                and isinstance(access.get("action"), str)
            ):
                granted.add(access["action"])
    return set(spec.actions) <= granted


def _find_policy(policies: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((policy for policy in policies if policy.get("name") == WEBHOOK_POLICY), None)


def _policy_matches(policy: dict[str, Any], target: dict[str, Any]) -> bool:
    targets = policy.get("targets")
    if policy.get("enabled") is not True or PUSH_EVENT not in (policy.get("event_types") or []):
        return False
    if not isinstance(targets, list) or len(targets) != 1 or not isinstance(targets[0], dict):
        return False
    sent = targets[0]
    return all(
        sent.get(key, False if key == "skip_cert_verify" else None) == value
        for key, value in target.items()
    )


def _new_secret() -> str:
    # Harbor takes a secret of 8 or more characters with an upper-case letter,
    # a lower-case letter and a digit.
    while True:
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(32))
        if (
            any(c.islower() for c in secret)
            and any(c.isupper() for c in secret)
            and any(c.isdigit() for c in secret)
        ):
            return secret


# Answers.


def _json(response: httpx.Response, doing: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RegistryError(f"Harbor sent something other than JSON while {doing}") from None


def _json_object(response: httpx.Response, doing: str) -> dict[str, Any]:
    answer = _json(response, doing)
    if not isinstance(answer, dict):
        raise RegistryError(f"Harbor sent something other than an object while {doing}")
    return answer


def _harbor_message(response: httpx.Response) -> str:
    """Harbor's `errors[].message`, or the start of the body when it sent none."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("errors"), list):
        messages = [
            str(error.get("message") or error.get("code") or "")
            for error in answer["errors"]
            if isinstance(error, dict)
        ]
        if any(messages):
            return "; ".join(message for message in messages if message)[:300]
    return response.text.strip()[:200] or response.reason_phrase or "no message"


def _next_link(header: str) -> str | None:
    found = _NEXT_LINK.search(header)
    return found.group(1) if found else None


def _total_count(response: httpx.Response) -> int:
    try:
        return int(response.headers.get("x-total-count", "0"))
    except ValueError:
        return 0


# Options.


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise RegistryError(f"the Harbor URL must be http(s)://host[:port], not {value!r}")
    if parts.username or parts.password:
        # Credentials go in the `username` and `password` options, never in a
        # URL that messages show.
        raise RegistryError("the Harbor URL must not carry credentials")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise RegistryError(
            f"the Harbor URL must be the registry's address without a path, not {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"
