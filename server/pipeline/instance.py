"""Which server this is, across restarts: the name its workers hold jobs under.

A worker's lease on a job names the server that holds it. A server killed
in the middle of a step comes back under the same name, so it knows the
leases its previous life held and takes them back at once, instead of
waiting for them to run out. (Other replicas still wait the whole lease: to
them a silent server may be alive and busy.)

Two live servers must never share a name, or one would take back the
other's running steps. A name is therefore a slot in the data dir's
`instances/` folder, locked (flock) for the life of the process. The kernel
drops the lock when the process dies, however it dies, so a slot that can be
locked belongs to no live server, and nothing (a slow event loop, a stalled
database) can make a live server lose it. Replicas that share a data dir
each lock a slot of their own, the first free one, so a restarted server
gets its old slot back unless another one started meanwhile.

The name is a hash of a random token kept in the slot file, the host name
and the slot's path: a data dir copied to another machine or folder does
not bring its names along.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_SLOTS", "InstanceName", "InstanceSlots", "one_life_name"]

log = logging.getLogger(__name__)

# More servers than this on one data dir get a name for one life only.
MAX_SLOTS = 64
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class InstanceName:
    """A server's name for its leases, and the slot lock that keeps it its own."""

    name: str
    # The slot file's descriptor, locked; None for a name of one life only.
    _lock: int | None = None

    @property
    def survives_restarts(self) -> bool:
        return self._lock is not None

    def release(self) -> None:
        """Free the slot (on shutdown; death frees it too)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def one_life_name() -> InstanceName:
    """A random name no other server has, known only to this process."""
    return InstanceName(secrets.token_hex(8))


class InstanceSlots:
    """The lockable slots of a data dir, each a file `instances/<n>.lock`."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def claim(self) -> InstanceName:
        """The name of the first free slot, locked until `release()` or death.

        When no slot can be had (all held, or the data dir is read-only) the
        server runs under a name of one life: correct, only slower to recover.
        """
        try:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for slot in range(MAX_SLOTS):
                name = self._try_slot(self._folder / f"{slot}.lock")
                if name is not None:
                    return name
        except OSError as error:
            log.warning("no instance slot in %s (%s)", self._folder, error)
            return one_life_name()
        log.warning(
            "all %d instance slots in %s are held; this server's work waits for its "
            "leases to run out if it is restarted",
            MAX_SLOTS,
            self._folder,
        )
        return one_life_name()

    @staticmethod
    def _try_slot(path: Path) -> InstanceName | None:
        # Not inherited by child processes (PEP 446), so a git or build process
        # that outlives the server cannot keep its slot locked.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            token = _slot_token(descriptor)
        except BlockingIOError:  # another live server holds this slot
            os.close(descriptor)
            return None
        except BaseException:
            os.close(descriptor)
            raise
        seed = f"{socket.gethostname()}\0{path.resolve()}\0{token}"
        return InstanceName(hashlib.sha256(seed.encode()).hexdigest()[:16], descriptor)


def _slot_token(descriptor: int) -> str:
    """The slot's random token, written on first use (the caller holds the lock)."""
    token = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
    if _TOKEN.fullmatch(token):
        return token
    token = secrets.token_hex(16)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{token}\n".encode(), 0)
    with contextlib.suppress(OSError):
        os.fsync(descriptor)
    return token
