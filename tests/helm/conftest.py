"""The pinned helm binary: skipped without it on a workstation, a failure in CI."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helm.chart import FULL_VALUES, HELM, Helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    if not HELM.exists():
        message = f"{HELM} is missing: install it with `.venv/bin/python .ci/install_helm.py`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Helm(HELM, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def default_docs(helm: Helm) -> list[dict[str, Any]]:
    """The chart with its default values."""
    return helm.template()


@pytest.fixture(scope="session")
def full_docs(helm: Helm) -> list[dict[str, Any]]:
    """The chart with everything on (ci/full-values.yaml)."""
    return helm.template("-f", str(FULL_VALUES))
