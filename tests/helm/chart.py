"""Running the pinned Helm on the chart, and picking rendered documents apart."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CHART",
    "FULL_VALUES",
    "HELM",
    "NAMESPACE",
    "RELEASE",
    "ROOT",
    "Helm",
    "decoded",
    "of_kind",
    "one",
]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "home-idp"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
# Installed next to the venv's Python by .ci/install_helm.py.
HELM = Path(sys.executable).parent / "helm"
RELEASE = "idp"
NAMESPACE = "platform"


@dataclass(frozen=True)
class Helm:
    """The helm binary with its cache, config and data dirs in a scratch dir."""

    binary: Path
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HELM_")}
        env |= {
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        return subprocess.run(
            [str(self.binary), *args], env=env, capture_output=True, text=True, timeout=120
        )

    def template(self, *options: str) -> list[dict[str, Any]]:
        """The chart rendered with `options` (e.g. "-f", path, "--set", "a=b"), as documents."""
        result = self.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *options)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def refuse(self, *options: str) -> str:
        """Render with `options`, which must fail; the error output."""
        result = self.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *options)
        assert result.returncode != 0, f"rendered with {options}:\n{result.stdout[:2000]}"
        return result.stderr


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The only document of `kind`."""
    found = of_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} documents of kind {kind}"
    return found[0]


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's data, base64-decoded."""
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
