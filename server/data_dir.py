"""The data dir holds the keys, the SQLite database and the platform repo: owner only.

It is made mode 0700 and the files directly in it mode 0600 (executable bits
of the owner kept), even when an older release or a hand-made directory left
them readable by others. Subfolders keep their own modes: container storage
and git objects there manage theirs, and the 0700 above them already keeps
everyone else out.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["create_private_file", "secure_data_dir"]

log = logging.getLogger(__name__)

_OTHERS = 0o077


def secure_data_dir(path: Path) -> None:
    """Create `path` if needed, make it 0700 and take group and other bits off its files."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(path, 0o700)
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            _tighten(entry, stat.S_IMODE(entry.stat().st_mode) & ~_OTHERS)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist.

    SQLite gives its -wal, -shm and journal files the mode of the database
    file, so creating that one private first keeps all of them private.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current != mode:
        if current & _OTHERS:
            log.warning("%s was mode %o; tightening to %o", path.name, current, mode)
        path.chmod(mode)
