"""The banner shown while the server does not answer."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["OfflineBanner"]


class OfflineBanner(Static):
    """Visible while `app.offline` is true; the app retries by itself meanwhile."""

    def on_mount(self) -> None:
        self.watch(self.app, "offline", self._show, init=True)

    def _show(self, offline: bool) -> None:
        server = getattr(self.app, "server_url", "the server")
        self.update(f"Cannot reach {server}; retrying…")
        self.display = offline
