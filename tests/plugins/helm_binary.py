"""The pinned Helm binary the tests run (installed by .ci/install_helm.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

__all__ = ["DEMO_CHART", "helm_binary", "helm_environment"]

DEMO_CHART = Path(__file__).parent / "charts" / "demo"


def helm_binary() -> str:
    """Its path; a skip outside CI when it is missing, a failure under CI=true."""
    helm = Path(sys.executable).parent / "helm"
    if not helm.exists():
        message = "no helm in the venv: run .venv/bin/python .ci/install_helm.py"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(helm)


def helm_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Helm keeps its cache and config under `home`, not the user's."""
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
