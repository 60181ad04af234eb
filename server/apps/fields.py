"""Validation of app settings before they reach git, a build or a manifest."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from home_idp.plugins.support.dns_names import is_dns_label
from home_idp.server.errors import ValidationFailed
from home_idp.server.settings import MAX_STABILITY_SECONDS

__all__ = [
    "MAX_ENV_VARS",
    "validate_context_path",
    "validate_env",
    "validate_env_name",
    "validate_health_path",
    "validate_ingress_host",
    "validate_port",
    "validate_replicas",
    "validate_secret_value",
    "validate_shared_env",
    "validate_source_ref",
    "validate_source_repo",
    "validate_stability_seconds",
    "without_credentials",
]

MAX_ENV_VARS = 100
MAX_ENV_VALUE = 32 * 1024
MAX_SECRET_BYTES = 64 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,252}$")
# The user and the host start with a letter or digit: `-oProxyCommand=…` must never
# reach git or ssh as an option (CVE-2017-1000117).
_SCP_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._/~-]+$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")
_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,254}$")


def validate_source_repo(url: str) -> str:
    """An https, http, ssh or git URL, or scp-like user@host:path; nothing a shell or git
    could take for an option or a local file."""
    problem = None
    if len(url) > 500 or any(c.isspace() or ord(c) < 32 for c in url):
        problem = "must be at most 500 characters, without spaces"
    elif not _SCP_LIKE.fullmatch(url):
        problem = _url_problem(url)
    if problem:
        raise ValidationFailed.for_field("sourceRepo", problem)
    return url


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http", "ssh", "git"} or not parts.hostname:
        return "must be an https://, http://, ssh:// or git:// URL, or user@host:path"
    # A URL is shown to every viewer of the app and lands in logs: a password
    # or token in it would be too. ssh's user name (git@) is no secret.
    if parts.password is not None or (parts.username and parts.scheme != "ssh"):
        return (
            "must not hold credentials: set them as the app's source credential "
            "(setSourceCredential), which is stored encrypted and never shown"
        )
    if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
        # ssh would take `ssh://-oProxyCommand=…` for an option.
        return "the host and the user must not start with '-'"
    try:
        parts.port  # noqa: B018 - only for the ValueError of a port out of range
    except ValueError:
        return "has an invalid port"
    return None


def without_credentials(url: str) -> str:
    """`url` as it may be shown: a password or token that an app saved before
    URLs with credentials were refused is left out."""
    parts = urlsplit(url)
    if "://" not in url or "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    # ssh's user name is no secret (git@); anything else before the @ may be.
    keep = f"{userinfo.partition(':')[0]}@" if parts.scheme == "ssh" else ""
    return parts._replace(netloc=keep + host).geturl()


def validate_source_ref(ref: str, field: str = "sourceRef") -> str:
    """A branch, tag or commit name as git accepts it (no '..', no '-' at the start)."""
    components = ref.split("/")
    if (
        not _REF.fullmatch(ref)
        or ".." in ref
        or any(not c or c.startswith(".") or c.endswith(".lock") for c in components)
        or ref.endswith(".")
    ):
        raise ValidationFailed.for_field(field, "is not a valid git branch, tag or commit")
    return ref


def validate_context_path(path: str) -> str:
    """A relative folder inside the source repo; '.' is its root."""
    if path in {"", "."}:
        return "."
    segments = path.strip("/").split("/")
    if (
        path.startswith("/")
        or len(path) > 255
        or any(not _PATH_SEGMENT.fullmatch(s) or s in {".", ".."} for s in segments)
    ):
        raise ValidationFailed.for_field(
            "contextPath",
            "must be a relative folder of the source repo, without '..' or a leading '/' or '-'",
        )
    return "/".join(segments)


def validate_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValidationFailed.for_field("port", "must be between 1 and 65535")
    return port


def validate_replicas(replicas: int) -> int:
    if not 0 <= replicas <= 50:
        raise ValidationFailed.for_field("replicas", "must be between 0 and 50")
    return replicas


def validate_stability_seconds(seconds: int) -> int:
    if not 0 <= seconds <= MAX_STABILITY_SECONDS:
        raise ValidationFailed.for_field(
            "stabilitySeconds", f"must be between 0 and {MAX_STABILITY_SECONDS} seconds"
        )
    return seconds


def validate_health_path(path: str) -> str:
    if not _HEALTH_PATH.fullmatch(path):
        raise ValidationFailed.for_field("healthPath", "must be an HTTP path starting with '/'")
    return path


def validate_env_name(name: str, field: str = "env") -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValidationFailed.for_field(
            field, f"{name[:60]!r} is not a valid variable name (letters, digits, '_')"
        )
    return name


def validate_env(env: Mapping[str, str]) -> dict[str, str]:
    if len(env) > MAX_ENV_VARS:
        raise ValidationFailed.for_field("env", f"at most {MAX_ENV_VARS} variables")
    for name, value in env.items():
        validate_env_name(name)
        if len(value) > MAX_ENV_VALUE or "\x00" in value:
            raise ValidationFailed.for_field("env", f"the value of {name} is too long or binary")
    return dict(env)


def validate_secret_value(value: str) -> str:
    """A secret's value: 1 to MAX_SECRET_BYTES bytes of text."""
    if not value or len(value.encode()) > MAX_SECRET_BYTES or "\x00" in value:
        raise ValidationFailed.for_field("value", f"must be 1 to {MAX_SECRET_BYTES} bytes of text")
    return value


def validate_shared_env(names: list[str]) -> list[str]:
    """Names of the project's shared variables; whether they exist is checked on save."""
    if len(names) > MAX_ENV_VARS:
        raise ValidationFailed.for_field("sharedEnv", f"at most {MAX_ENV_VARS} names")
    if len(set(names)) < len(names):
        raise ValidationFailed.for_field("sharedEnv", "each name may appear only once")
    for name in names:
        validate_env_name(name, "sharedEnv")
    return sorted(names)


def validate_ingress_host(host: str) -> str:
    """A DNS name (RFC 1123 subdomain) for the app's Ingress; '' removes the Ingress."""
    if host == "":
        return host
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(is_dns_label(x) for x in labels):
        raise ValidationFailed.for_field(
            "ingressHost", "must be a lower-case DNS name such as web.example.com"
        )
    return host
