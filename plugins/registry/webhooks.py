"""Registry webhooks, shared by every registry plugin: the secret header and both formats.

The CNCF distribution registry sends an envelope of events
(`{"events": [{"id", "action", "target": {...}}]}`); Harbor sends one event
per request (`{"type": "PUSH_ARTIFACT", "event_data": {...}}`). Both are told
apart by their shape, so one endpoint serves either registry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.registry.contract import ImagePush, RegistryWebhook

__all__ = ["authorization_value", "parse_registry_webhook", "verify_shared_secret"]

_MAX_EVENTS = 1000
_DIGEST_PREFIX = "sha256:"


def authorization_value(secret: str) -> str:
    """The `Authorization` header value a registry is told to send."""
    return f"Bearer {secret}"


def verify_shared_secret(secret: str, headers: Mapping[str, str]) -> bool:
    """Whether the request's `Authorization` header carries `secret`; constant time."""
    sent = headers.get("authorization")
    if not secret or not sent:
        return False
    return hmac.compare_digest(sent.encode(), authorization_value(secret).encode())


def parse_registry_webhook(body: bytes) -> RegistryWebhook:
    """The pushes in a distribution or Harbor webhook body."""
    try:
        payload: Any = json.loads(body)
    except ValueError as error:
        raise WebhookRejected(f"not JSON: {error}") from None
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return _distribution(payload["events"], body)
    if isinstance(payload, dict) and isinstance(payload.get("type"), str):
        return _harbor(payload, body)
    raise WebhookRejected("neither a distribution event envelope nor a Harbor event")


def _distribution(events: list[Any], body: bytes) -> RegistryWebhook:
    if len(events) > _MAX_EVENTS:
        raise WebhookRejected(f"more than {_MAX_EVENTS} events in one delivery")
    ids: list[str] = []
    pushes: list[ImagePush] = []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("target"), dict):
            raise WebhookRejected("a distribution event without a target")
        event_id = event.get("id")
        ids.append(event_id if isinstance(event_id, str) else "")
        target = event["target"]
        if event.get("action") != "push" or "tag" not in target:
            # Pulls, deletes and blob uploads (no tag) are not image pushes.
            continue
        pushes.append(_push(target.get("repository"), target.get("tag"), target.get("digest")))
    # The registry retries a delivery with the same events, hence the same ids.
    delivery_id = ids[0] if len(ids) == 1 and ids[0] else _digest_of(ids, body)
    return RegistryWebhook(delivery_id, "push" if pushes else "other", tuple(pushes))


def _harbor(payload: dict[str, Any], body: bytes) -> RegistryWebhook:
    kind = str(payload["type"])[:64]
    # Harbor sends no delivery id; a retry resends the same body.
    delivery_id = "harbor-" + hashlib.sha256(body).hexdigest()[:40]
    if kind != "PUSH_ARTIFACT":
        return RegistryWebhook(delivery_id, kind, ())
    data = payload.get("event_data")
    if not isinstance(data, dict) or not isinstance(data.get("repository"), dict):
        raise WebhookRejected("a Harbor push without event_data.repository")
    repository = data["repository"].get("repo_full_name")
    resources = data.get("resources")
    if not isinstance(resources, list) or len(resources) > _MAX_EVENTS:
        raise WebhookRejected("a Harbor push without a list of resources")
    pushes = []
    for resource in resources:
        if not isinstance(resource, dict):
            raise WebhookRejected("a Harbor resource that is not an object")
        pushes.append(_push(repository, resource.get("tag") or None, resource.get("digest")))
    return RegistryWebhook(delivery_id, kind, tuple(pushes))


def _push(repository: Any, tag: Any, digest: Any) -> ImagePush:
    if not isinstance(repository, str) or not repository or len(repository) > 255:
        raise WebhookRejected("a push without a repository name")
    if tag is not None and (not isinstance(tag, str) or len(tag) > 128):
        raise WebhookRejected("a push whose tag is not a string")
    if not isinstance(digest, str) or not digest.startswith(_DIGEST_PREFIX) or len(digest) > 100:
        raise WebhookRejected("a push without a sha256 digest")
    return ImagePush(repository, tag, digest)


def _digest_of(ids: list[str], body: bytes) -> str:
    material = "\n".join(ids).encode() if all(ids) else body
    return "events-" + hashlib.sha256(material).hexdigest()[:40]
