# home-idp's server image: ghcr.io/home-idp/home-idp:<version> (helm/README.md).
# Build from the repository root: docker build -t ghcr.io/home-idp/home-idp:0.1.0 .
#
# bookworm (Debian 12), the release home-idp is developed and tested on; one
# base for both stages, so the venv's interpreter path exists in the final one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Builder: the locked dependencies (exact versions, hashes checked) into a
# venv, then a wheel of home-idp built with the locked setuptools.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/home-idp
COPY requirements.txt ./
RUN /opt/home-idp/bin/pip install --no-cache-dir --require-hashes -r requirements.txt
COPY pyproject.toml README.md ./
COPY server ./server
COPY schema ./schema
COPY plugins ./plugins
COPY tui ./tui
RUN /opt/home-idp/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/home-idp/bin/pip install --no-cache-dir --no-deps /wheels/*.whl

# Final: the venv, git, and an unprivileged user; nothing to build with.
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="home-idp" \
      org.opencontainers.image.description="A self-hosted internal developer platform" \
      org.opencontainers.image.source="https://github.com/home-idp/home-idp" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# git: the local platform repo (a bare repo in the data dir, served over smart
# HTTP) is driven by the git binary.
# DL3008 (pin apt package versions) is ignored: Debian drops a package's old
# version from the archive with each security update, so a pinned git would
# stop building; the base image's tag already fixes the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 home-idp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/home-idp \
        --no-create-home --shell /usr/sbin/nologin home-idp \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/home-idp
COPY --from=builder /opt/home-idp /opt/home-idp
ENV PATH=/opt/home-idp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME_IDP_DATA_DIR=/var/lib/home-idp
# Numeric, so that runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/home-idp
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["home-idp"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
