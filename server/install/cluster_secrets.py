"""Secrets in the cluster that the components read: made once, never read back out.

The charts are pointed at these Secrets by name, so passwords never appear
in values, in `helm` command lines, in logs or in home-idp's database. A
Secret that exists is kept (upgrades keep their passwords); a key missing
from it is added. The Argo CD repository credential for the platform repo
is written here too.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION

from home_idp.plugins.installer.contract import InstallError
from home_idp.plugins.support.kube_config import KubeOptions, client_configuration
from home_idp.server.install.catalog import GeneratedSecret

__all__ = ["ARGOCD_REPOSITORY_LABEL", "ClusterSecrets"]

ARGOCD_REPOSITORY_LABEL = "argocd.argoproj.io/secret-type"
_IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105
_MANAGED = {"app.kubernetes.io/managed-by": "home-idp"}


class ClusterSecrets:
    """Writes the components' Secrets through the Kubernetes API (blocking client, in a thread)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self._options = dict(options)
        told = self._options.get("api_url") or self._options.get("kubeconfig")
        if not told and not Path(_IN_CLUSTER_TOKEN).exists():
            # An admin's machine: the kubeconfig helm uses too ($KUBECONFIG, ~/.kube/config).
            self._options["kubeconfig"] = os.path.expanduser(KUBE_CONFIG_DEFAULT_LOCATION)
        self._api: k8s.CoreV1Api | None = None

    def _core(self) -> k8s.CoreV1Api:
        if self._api is None:
            who = "the install-manager"
            options = KubeOptions.read(self._options, who, InstallError)
            configuration, _ = client_configuration(options, who, InstallError)
            self._api = k8s.CoreV1Api(k8s.ApiClient(configuration))
        return self._api

    async def ensure_generated(self, namespace: str, secret: GeneratedSecret) -> bool:
        """Make `secret` with random values if it is missing (True), or add missing keys."""
        return await anyio.to_thread.run_sync(self._ensure_generated, namespace, secret)

    def _ensure_generated(self, namespace: str, secret: GeneratedSecret) -> bool:
        api = self._core()
        self._ensure_namespace(namespace)
        try:
            existing = api.read_namespaced_secret(secret.name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise InstallError(_api_error("read", secret.name, error)) from None
            existing = None
        if existing is None:
            body = _secret(secret.name, {key: _random(secret.length(key)) for key in secret.keys})
            self._call("create", secret.name, api.create_namespaced_secret, namespace, body)
            return True
        missing = [key for key in secret.keys if key not in (existing.data or {})]
        if missing:
            patch = {"data": {key: _b64(_random(secret.length(key))) for key in missing}}
            self._call(
                "update", secret.name, api.patch_namespaced_secret, secret.name, namespace, patch
            )
        return False

    async def apply_repository(
        self, namespace: str, name: str, url: str, username: str | None, password: str | None
    ) -> None:
        """Argo CD's credential for a git repository (a labelled Secret), created or replaced."""
        data = {"type": "git", "url": url}
        if username and password:
            data |= {"username": username, "password": password}
        body = _secret(name, data, {ARGOCD_REPOSITORY_LABEL: "repository"})
        await anyio.to_thread.run_sync(self._replace, namespace, name, body)

    async def ensure_database_url(
        self,
        namespace: str,
        name: str,
        *,
        source: str,
        password_key: str,
        host: str,
        user: str,
        database: str,
    ) -> None:
        """A Secret with `database-url` for Postgres, its password read from `source`.

        The password goes from one Secret to the other here only: it is never
        returned, logged or put anywhere else.
        """
        await anyio.to_thread.run_sync(
            self._database_url, namespace, name, source, password_key, (host, user, database)
        )

    def _database_url(
        self,
        namespace: str,
        name: str,
        source: str,
        password_key: str,
        where: tuple[str, str, str],
    ) -> None:
        host, user, database = where
        try:
            stored = self._core().read_namespaced_secret(source, namespace)
        except ApiException as error:
            raise InstallError(_api_error("read", source, error)) from None
        encoded = (stored.data or {}).get(password_key)
        if not encoded:
            raise InstallError(f"the Secret {source} has no {password_key}")
        password = quote(base64.b64decode(encoded).decode(), safe="")
        url = f"postgres://{user}:{password}@{host}:5432/{database}"
        self._replace(namespace, name, _secret(name, {"database-url": url}))

    def _replace(self, namespace: str, name: str, body: k8s.V1Secret) -> None:
        api = self._core()
        self._ensure_namespace(namespace)
        try:
            api.replace_namespaced_secret(name, namespace, body)
        except ApiException as error:
            if error.status != 404:
                raise InstallError(_api_error("replace", name, error)) from None
            self._call("create", name, api.create_namespaced_secret, namespace, body)

    def _ensure_namespace(self, namespace: str) -> None:
        api = self._core()
        try:
            api.read_namespace(namespace)
        except ApiException as error:
            if error.status != 404:
                raise InstallError(_api_error("read", f"namespace {namespace}", error)) from None
            body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace, labels=_MANAGED))
            self._call("create", f"namespace {namespace}", api.create_namespace, body)

    @staticmethod
    def _call(action: str, what: str, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except ApiException as error:
            raise InstallError(_api_error(action, what, error)) from None


def _secret(
    name: str, values: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> k8s.V1Secret:
    return k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name=name, labels={**_MANAGED, **(labels or {})}),
        type="Opaque",
        data={key: _b64(value) for key, value in values.items()},
    )


def _random(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _api_error(action: str, what: str, error: ApiException) -> str:
    # The reason only: a response body could echo what was sent.
    return f"the Kubernetes API refused to {action} {what}: {error.status} {error.reason}"
