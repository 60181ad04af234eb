"""Kubernetes' name rules (RFC 1123), which every name home-idp hands to a cluster,
a registry or a path follows: one spelling of them for plugins and server alike."""

from __future__ import annotations

import re

__all__ = ["DNS1123_LABEL", "DNS1123_LABEL_PATTERN", "is_dns_label", "is_dns_subdomain"]

# A label is what namespaces are: it is also safe as a path segment and as a
# registry repository component.
DNS1123_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS1123_LABEL = re.compile(rf"^{DNS1123_LABEL_PATTERN}$")
# A subdomain is what most object names (pods among them) are; its length is
# checked apart, as the pattern would be unreadable with it.
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns_label(name: str) -> bool:
    """Whether all of `name` is a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends."""
    return DNS1123_LABEL.fullmatch(name) is not None


def is_dns_subdomain(name: str) -> bool:
    """Whether all of `name` is a DNS-1123 subdomain of at most 253 characters."""
    return len(name) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(name) is not None
