"""Validation of names that end up in git paths, namespaces and image names."""

from __future__ import annotations

import re

from home_idp.plugins.support.dns_names import (
    DNS1123_LABEL,
    DNS1123_LABEL_PATTERN,
    is_dns_subdomain,
)
from home_idp.server.errors import ValidationFailed

__all__ = [
    "DNS1123_LABEL",
    "DNS1123_LABEL_PATTERN",
    "RESERVED_NAMESPACES",
    "USERNAME",
    "validate_dns_label",
    "validate_dns_subdomain",
    "validate_project_name",
    "validate_username",
]

USERNAME = re.compile(r"^[a-z0-9]([-_.a-z0-9]{0,38}[a-z0-9])?$")


def validate_dns_label(value: str, field: str = "name") -> str:
    """Return `value` if it is a DNS-1123 label, else raise ValidationFailed."""
    return _matching(
        DNS1123_LABEL,
        value,
        field,
        "must be a DNS-1123 label: 1-63 lower-case letters, digits or '-', "
        "starting and ending with a letter or digit",
    )


def validate_dns_subdomain(value: str, field: str = "name") -> str:
    """Return `value` if it is a DNS-1123 subdomain (at most 253), else raise ValidationFailed."""
    if not is_dns_subdomain(value):
        raise ValidationFailed.for_field(
            field, "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.'"
        )
    return value


# A project's name becomes its namespace, where home-idp may write with cluster-wide
# rights: never the cluster's own namespaces, nor those of home-idp and its components.
RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "home-idp", "argocd", "harbor"}
)


def validate_project_name(value: str, field: str = "name") -> str:
    """A DNS-1123 label that is not a reserved namespace (nor `kube-*`)."""
    validate_dns_label(value, field)
    if value in RESERVED_NAMESPACES or value.startswith("kube-"):
        raise ValidationFailed.for_field(
            field, f"{value!r} is a namespace of the cluster or of home-idp; choose another name"
        )
    return value


def validate_username(value: str, field: str = "username") -> str:
    """Usernames: 1-40 lower-case letters, digits, '-', '_' or '.'."""
    return _matching(
        USERNAME,
        value,
        field,
        "must be 1-40 lower-case letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
    )


def _matching(pattern: re.Pattern[str], value: str, field: str, rule: str) -> str:
    """Return `value` if `pattern` matches all of it, else raise ValidationFailed with `rule`."""
    if not pattern.fullmatch(value):
        raise ValidationFailed.for_field(field, rule)
    return value
