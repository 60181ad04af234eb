"""Plugin options that are numbers of seconds, read the same way by every deployer."""

from __future__ import annotations

from collections.abc import Mapping

from home_idp.plugins.deployer.contract import DeployError

__all__ = ["seconds_option"]


def seconds_option(options: Mapping[str, str], name: str, default: float, who: str) -> float:
    """`options[name]` as seconds from 0.01 to 600, or `default` when it is not set."""
    value = options.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0.01 <= number <= 600:
        raise DeployError(f"{who}'s `{name}` option must be 0.01 to 600 seconds")
    return number
