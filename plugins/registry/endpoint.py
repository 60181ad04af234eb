"""What every registry plugin answers alike: where the registry is, and its webhooks.

Image references start with the registry's host (and port), and builders must
be told when it speaks plain HTTP; both follow from its URL. Every registry
sends its push webhooks with the shared secret in an `Authorization` header,
in one of the two formats `webhooks` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from home_idp.plugins.registry.contract import RegistryWebhook
from home_idp.plugins.registry.webhooks import parse_registry_webhook, verify_shared_secret

__all__ = ["RegistryEndpoint"]


class RegistryEndpoint:
    """A registry at `url` (`http(s)://host[:port]`, checked by the plugin first)
    whose webhooks carry `webhook_secret`."""

    def __init__(self, url: str, webhook_secret: str) -> None:
        parts = urlsplit(url)
        self._host = parts.netloc
        self._insecure = parts.scheme == "http"
        self._webhook_secret = webhook_secret

    @property
    def host(self) -> str:
        """The registry's host (and port) as image references start."""
        return self._host

    @property
    def insecure(self) -> bool:
        """Whether the registry is reached over plain HTTP."""
        return self._insecure

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request carries the shared secret in `Authorization`; constant time."""
        return verify_shared_secret(self._webhook_secret, headers)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> RegistryWebhook:
        """The pushes in a webhook body; raises WebhookRejected for another format."""
        return parse_registry_webhook(body)
