"""How a rolled-out release's pods fare, read from their container statuses.

Every field is the API's (`PodStatus.containerStatuses`): `restartCount`,
`ready`, `state` and `lastState` (`terminated.exitCode`, `terminated.reason`,
"OOMKilled" when the kernel killed the container for its memory limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PodsHealth", "pods_health"]

_ENDED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class PodsHealth:
    """The app containers of a release's pods, summed up."""

    ready: bool
    running: bool
    restarts: int
    exit_code: int | None
    oom_killed: bool
    # The pod and container whose log says most: the one that ended last, or the first.
    telling: tuple[str, str] | None


def pods_health(pods: Iterable[Mapping[str, Any]], app: str) -> PodsHealth:
    """Ready when there are pods and every app container is ready; running unless every
    pod ended; the last termination's exit code and reason."""
    ready = running = False
    every_ready, restarts = True, 0
    exit_code: int | None = None
    oom_killed = False
    telling: tuple[str, str] | None = None
    for pod in pods:
        name = str((pod.get("metadata") or {}).get("name") or "")
        status = pod.get("status") or {}
        running = running or status.get("phase") not in _ENDED_PHASES
        statuses = [s for s in status.get("containerStatuses") or [] if isinstance(s, Mapping)]
        mine = [s for s in statuses if s.get("name") == app] or statuses[:1]
        if not mine:
            every_ready = False
            continue
        container = mine[0]
        ready = True
        every_ready = every_ready and bool(container.get("ready"))
        restarts += int(container.get("restartCount") or 0)
        telling = telling or (name, str(container.get("name")))
        state = container.get("state") or {}
        ended = state.get("terminated") or (container.get("lastState") or {}).get("terminated")
        if ended:
            exit_code = int(ended.get("exitCode") or 0)
            oom_killed = oom_killed or ended.get("reason") == "OOMKilled"
            telling = (name, str(container.get("name")))
    return PodsHealth(ready and every_ready, running, restarts, exit_code, oom_killed, telling)
