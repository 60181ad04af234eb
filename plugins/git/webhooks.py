"""GitHub's webhook format, shared by every git plugin: signatures and push events."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.git.contract import PushEvent

__all__ = ["parse_push_event", "sign", "verify_signature"]

_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header value for `body`."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    if not secret or not signature or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), signature)


def parse_push_event(body: bytes) -> PushEvent:
    try:
        payload: Any = json.loads(body)
        repository = payload["repository"]["full_name"]
        ref, before, after = payload["ref"], payload["before"], payload["after"]
        commits = tuple(commit["id"] for commit in payload.get("commits") or [])
    except (ValueError, KeyError, TypeError) as error:
        raise WebhookRejected(f"not a push event: {error}") from None
    if not all(isinstance(value, str) for value in (repository, ref, before, after, *commits)):
        raise WebhookRejected("not a push event: fields must be strings")
    return PushEvent(repository, ref, before, after, commits)
