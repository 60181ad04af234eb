"""Errors that plugins of more than one kind raise."""

from __future__ import annotations

__all__ = ["WebhookRejected"]


class WebhookRejected(Exception):
    """A webhook body is not a push event this plugin understands."""
