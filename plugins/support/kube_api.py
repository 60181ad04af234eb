"""One Kubernetes API server through the official client, for every plugin that needs one.

The client blocks, so every call runs in a worker thread (`anyio.to_thread`).
Every failure becomes one of the calling plugin's own errors (`KubeErrors`)
with a message fit to show: what was being done, the API's own message with
the token and the caller's secrets masked, never a stack of client internals.
Typed calls (`call`) and raw JSON requests (`request`, `items`) share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from anyio import to_thread
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from home_idp.plugins.support.masking import mask_secrets

__all__ = ["KubeApi", "KubeErrors", "api_message"]

T = TypeVar("T")

# How much of the API's message an error keeps.
_DETAIL = 400


@dataclass(frozen=True)
class KubeErrors:
    """The plugin's error for each kind of failure.

    `error`: refused for good (a bad request, no right); `unavailable`: the
    API is away or failing, worth retrying; `not_found` (404) and `conflict`
    (409), which callers often expect and catch. The last three are best
    subclasses of `error`.
    """

    error: type[Exception]
    unavailable: type[Exception]
    not_found: type[Exception]
    conflict: type[Exception]


def api_message(error: ApiException) -> str:
    """The `message` of the API's Status answer, or the HTTP reason without one."""
    try:
        body = json.loads(error.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(error.reason or "no message")


class KubeApi:
    """An API client whose calls run in a thread and fail with the plugin's errors.

    `timeouts` is (connect, read) for one request; `secrets` (the token) are
    masked out of every message.
    """

    def __init__(
        self,
        configuration: k8s.Configuration,
        errors: KubeErrors,
        timeouts: tuple[float, float],
        secrets: Iterable[str],
    ) -> None:
        self.client = k8s.ApiClient(configuration)
        self.errors = errors
        self.timeouts = timeouts
        self.secrets = tuple(secret for secret in secrets if secret)

    def mask(self, text: str, extra: Iterable[str] = ()) -> str:
        """`text` with the token and `extra` secrets masked."""
        return mask_secrets(text, (*self.secrets, *extra))

    async def call(self, doing: str, call: Callable[[], T], masked: Iterable[str] = ()) -> T:
        """Run one call of a typed API (`CoreV1Api`, …) in a thread."""
        try:
            return await to_thread.run_sync(call)
        except ApiException as error:
            raise self.failure(int(error.status or 0), api_message(error), doing, masked) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self.unreachable(doing, error) from None
        except ValidationError:
            # pydantic's message quotes the input, which may hold a secret.
            raise self.errors.error(
                f"the Kubernetes API sent an unexpected answer while {doing}"
            ) from None

    async def request(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        masked: Iterable[str] = (),
    ) -> dict[str, Any]:
        """One raw JSON request: one code path for every kind, objects as plain documents."""

        def call() -> tuple[int, bytes]:
            serialized = self.client.param_serialize(
                method,
                path,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=dict(body) if body is not None else None,
                auth_settings=["BearerToken"],
            )
            response = self.client.call_api(*serialized, _request_timeout=self.timeouts)
            data = response.read()  # type: ignore[no-untyped-call]
            return int(response.status), bytes(data or b"")

        try:
            status, data = await to_thread.run_sync(call)
        except ApiException as error:
            # The client raises these itself only for TLS errors and unsendable bodies.
            raise self.errors.unavailable(
                f"the Kubernetes API could not be reached while {doing} "
                f"({self.mask(str(error.reason or 'no reason'), masked)[:200]})"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self.unreachable(doing, error) from None
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            answer = None
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else None
            raise self.failure(status, str(message or "no message"), doing, masked)
        if not isinstance(answer, dict):
            raise self.errors.error(f"the Kubernetes API sent an unexpected answer while {doing}")
        return answer

    async def items(
        self, path: str, selector: str, doing: str, masked: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """The items of a list, by label selector."""
        listed = await self.request(
            "GET", path, doing, query={"labelSelector": selector}, masked=masked
        )
        items = listed.get("items")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def failure(
        self, status: int, message: str, doing: str, masked: Iterable[str] = ()
    ) -> Exception:
        """The plugin's error for an answer with HTTP `status` (0: no answer at all)."""
        errors = self.errors
        detail = self.mask(message, masked)[:_DETAIL]
        if status == 0:
            return errors.unavailable(f"the Kubernetes API could not be reached while {doing}")
        if status == 404:
            return errors.not_found(f"not found while {doing}: {detail}")
        if status == 401:
            return errors.error(f"the Kubernetes API refused the credentials while {doing} (401)")
        text = f"the Kubernetes API answered {status} while {doing}: {detail}"
        if status == 409:
            return errors.conflict(text)
        if status >= 500 or status == 429:
            return errors.unavailable(text)
        return errors.error(text)

    def unreachable(self, doing: str, error: Exception) -> Exception:
        """The plugin's error for a connection that failed (`error`, named only by its type)."""
        return self.errors.unavailable(
            f"the Kubernetes API could not be reached while {doing} ({type(error).__name__})"
        )

    async def aclose(self) -> None:
        """Close the connections to the API server."""
        await to_thread.run_sync(self.client.close)
