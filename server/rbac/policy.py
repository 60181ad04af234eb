"""Policies and their evaluation: deny wins, and no policy means no access."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from home_idp.server.errors import FieldError, ValidationFailed

__all__ = ["ACTIONS", "RESOURCES", "Rule", "evaluate", "parse_rule"]

# What a project role can be granted on. Later managers add their objects here.
RESOURCES = (
    "project",
    "member",
    "app",
    "dockerfile",
    "release",
    "secret",
    "config",
    "log",
    "resource",
    "pod",
    "trace",
)
ACTIONS = ("read", "create", "update", "delete", "deploy")
WILDCARD = "*"
_PATTERN = re.compile(r"^[a-z0-9*?-]{1,63}$")


@dataclass(frozen=True)
class Rule:
    """One policy: `effect` on `action` of `resource` in projects matching the pattern."""

    effect: str
    resource: str
    action: str
    project_pattern: str = WILDCARD

    def applies_to(self, resource: str, action: str, project: str) -> bool:
        return (
            self.resource in (resource, WILDCARD)
            and self.action in (action, WILDCARD)
            and fnmatchcase(project, self.project_pattern)
        )


def _field_name(key: str) -> str:
    """Field names as the API spells them."""
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def parse_rule(raw: Mapping[str, object], index: int = 0) -> Rule:
    """Build a Rule from user input, or raise ValidationFailed naming each bad field."""
    errors: list[FieldError] = []

    def text(key: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        cleaned = value.strip() if isinstance(value, str) else ""
        if not cleaned:
            # Blank counts as missing: it must never slip past the checks below.
            errors.append(FieldError(f"policies[{index}].{_field_name(key)}", "is required"))
        return cleaned

    effect, resource, action = (text(key).lower() for key in ("effect", "resource", "action"))
    # Not lower-cased: project names are, so "Web-*" is a mistake to report.
    pattern = text("project_pattern", WILDCARD)
    if effect and effect not in ("allow", "deny"):
        errors.append(FieldError(f"policies[{index}].effect", "must be 'allow' or 'deny'"))
    if resource and resource not in (*RESOURCES, WILDCARD):
        errors.append(
            FieldError(
                f"policies[{index}].resource", f"must be one of {', '.join(RESOURCES)} or '*'"
            )
        )
    if action and action not in (*ACTIONS, WILDCARD):
        errors.append(
            FieldError(f"policies[{index}].action", f"must be one of {', '.join(ACTIONS)} or '*'")
        )
    if pattern and not _PATTERN.fullmatch(pattern):
        errors.append(
            FieldError(
                f"policies[{index}].projectPattern",
                "must be a project name with optional '*' and '?' wildcards",
            )
        )
    if errors:
        raise ValidationFailed("the policy is not valid", errors)
    return Rule(effect, resource, action, pattern)


def evaluate(rules: Iterable[Rule], resource: str, action: str, project: str) -> bool:
    """True when some rule allows the request and no rule denies it."""
    allowed = False
    for rule in rules:
        if rule.applies_to(resource, action, project):
            if rule.effect != "allow":
                return False  # deny, or anything unrecognised: fail closed
            allowed = True
    return allowed
