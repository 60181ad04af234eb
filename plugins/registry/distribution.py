"""The `distribution` registry plugin: the CNCF registry (`docker-registry`), local default.

The registry has no projects: a home-idp project is the first path segment
of its repositories (`<project>/<app>`). It sends push notifications to
home-idp with the shared secret in an `Authorization` header, configured in
its `notifications.endpoints`. Tags are read over the registry's v2 API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryConfig,
    RegistryCredentials,
    RegistryError,
    RegistryUnavailable,
)
from home_idp.plugins.registry.endpoint import RegistryEndpoint
from home_idp.plugins.support.dns_names import is_dns_label

__all__ = ["MANIFEST_TYPES", "DistributionRegistry", "check_repository"]

# What a HEAD on a manifest accepts, so the registry answers with the digest
# of the manifest as it was pushed (OCI or Docker, single or multi-platform).
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PAGE = 1000


def check_repository(repository: str, tag: str | None = None) -> None:
    """Refuse names the distribution spec does not allow before they reach a URL."""
    if len(repository) > 255 or not _REPOSITORY.match(repository):
        raise RegistryError(f"{repository[:80]!r} is not a valid repository name")
    if tag is not None and not _TAG.match(tag):
        raise RegistryError(f"{tag[:80]!r} is not a valid tag")


class DistributionRegistry(RegistryEndpoint):
    """A CNCF distribution registry reached over its v2 HTTP API."""

    def __init__(self, config: RegistryConfig) -> None:
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(
                f"the registry URL must be http(s)://host[:port], not {config.url!r}"
            )
        super().__init__(config.url, config.webhook_secret)
        username = config.options.get("username")
        password = config.options.get("password")
        # Optional: a registry behind htpasswd gives home-idp one account,
        # used by the builder to push and by the cluster to pull.
        self._account = RegistryCredentials(username, password) if username and password else None
        self._http = httpx.AsyncClient(
            base_url=f"{parts.scheme}://{parts.netloc}",
            auth=(username, password) if self._account and username and password else None,
            timeout=httpx.Timeout(10.0, connect=3.0),
        )

    async def ensure_project(self, project: str, known: ProjectAccess | None) -> ProjectAccess:
        if not is_dns_label(project):
            raise RegistryError(f"the project name {project[:80]!r} is not a DNS-1123 label")
        # Nothing to create: repositories appear on first push. The check
        # that the registry answers at all turns a dead registry into a
        # retryable error before a build is started in vain.
        await self._get("/v2/")
        return ProjectAccess(push=self._account, pull=self._account)

    async def tag_digest(self, repository: str, tag: str) -> str | None:
        check_repository(repository, tag)
        response = await self._request(
            "HEAD", f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        self._raise_for(response)
        digest: str | None = response.headers.get("docker-content-digest")
        if not digest:
            raise RegistryError("the registry answered without a Docker-Content-Digest")
        return digest

    async def list_tags(self, repository: str) -> list[str]:
        check_repository(repository)
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={_PAGE}"
        while url is not None:
            response = await self._request("GET", url)
            if response.status_code == 404:
                return []
            self._raise_for(response)
            tags += response.json().get("tags") or []
            # The registry pages with a Link header: </v2/...?last=x&n=..>; rel="next".
            next_link = response.links.get("next", {}).get("url")
            url = next_link if next_link and next_link.startswith("/v2/") else None
        return sorted(tags)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str) -> httpx.Response:
        response = await self._request("GET", path)
        self._raise_for(response)
        return response

    async def _request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, headers=headers)
        except httpx.TransportError as error:
            raise RegistryUnavailable(
                f"the registry at {self._host} is unreachable ({type(error).__name__})"
            ) from None

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise RegistryUnavailable(f"the registry answered {response.status_code}")
        if response.status_code >= 400:
            raise RegistryError(
                f"the registry refused {response.request.method} "
                f"{response.request.url.path[:120]}: {response.status_code}"
            )
