"""Text that may quote log lines (a failed release's error, a span's status), as
the caller may see it: the lines only for those who may read the project's logs."""

from __future__ import annotations

from home_idp.plugins.support.log_excerpt import has_log_lines, hide_log_lines
from home_idp.schema.core.context import Info

__all__ = ["shown_in_project"]


async def shown_in_project(info: Info, project: str | None, text: str) -> str:
    """`text` with the log lines it quotes hidden unless the caller may read the
    logs of `project` (no project: hidden)."""
    if not has_log_lines(text):
        return text
    if project is not None and await info.context.rbac.authz.can("log", "read", project):
        return text
    return hide_log_lines(text)
