"""Config files for the `container` deployer: checked, written, bind-mounted read-only.

Each container gets a folder of its own, `<files dir>/<container name>/`,
holding one file per `ConfigFile`; the engine bind-mounts each file,
read-only, at its mount path. The folder lives as long as its container.
Config files are not secret (secrets go through the env file): the folders
are 0755 and the files 0644, so that a container user other than root
reads them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from home_idp.plugins.deployer.contract import ConfigFile, DeployError

__all__ = ["check_files", "mount_args", "remove_files", "write_files"]

_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
# No ',' (it separates --mount's fields), ':' (--volume's), no spaces or quotes.
_MOUNT_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]{1,1023}$")
# What may stand in a host path inside `--mount=…,source=<path>,…`.
_SOURCE_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]+$")


def check_files(files: Sequence[ConfigFile]) -> None:
    """Refuse a file name or mount path that could reach the command line wrongly."""
    names: set[str] = set()
    paths: set[str] = set()
    for file in files:
        name, path = file.name, file.mount_path
        if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or name in (".", ".."):
            raise DeployError(
                f"the config file name {str(name)[:80]!r} is not usable "
                "(letters, digits, '.', '_' and '-', at most 253 characters)"
            )
        if name in names:
            raise DeployError(f"two config files are named {name!r}")
        names.add(name)
        if not isinstance(path, str) or not _MOUNT_PATH.fullmatch(path):
            raise DeployError(
                f"the mount path {str(path)[:80]!r} of {name} is not usable (an absolute "
                "path of letters, digits and '._@+-/', at most 1024 characters)"
            )
        segments = path[1:].split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            raise DeployError(
                f"the mount path {path[:80]!r} of {name} holds an empty, '.' or '..' segment"
            )
        if path in paths:
            raise DeployError(f"two config files are mounted at {path[:80]!r}")
        paths.add(path)
        if not isinstance(file.content, str):
            raise DeployError(f"the content of {name} is not text")
        try:
            file.content.encode()
        except UnicodeEncodeError:
            raise DeployError(f"the content of {name} is not valid text") from None


def write_files(folder: Path, files: Sequence[ConfigFile]) -> list[tuple[Path, str]]:
    """Write the files afresh into `folder`; (host file, mount path) for each.

    Raises DeployError when the folder's path cannot go on the engine's
    command line, or the files cannot be written (the folder is then gone).
    """
    if not _SOURCE_PATH.fullmatch(str(folder)):
        raise DeployError(
            f"config files cannot be mounted from {str(folder)[:200]!r}: the data dir's "
            "path must hold only letters, digits and '._@+-/'"
        )
    remove_files(folder)
    written: list[tuple[Path, str]] = []
    try:
        for directory in (folder.parent, folder):
            directory.mkdir(mode=0o755, exist_ok=True)
            directory.chmod(0o755)  # the umask may have taken bits away
        for file in files:
            target = folder / file.name
            # O_NOFOLLOW: the folder is fresh, but a link planted in it is never followed.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(target, flags, 0o644)
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(file.content.encode())
            written.append((target, file.mount_path))
    except OSError as error:
        remove_files(folder)
        raise DeployError(f"the config files could not be written: {error.strerror}") from None
    return written


def mount_args(written: Sequence[tuple[Path, str]]) -> list[str]:
    """The engine's `--mount` options for the written files (podman and docker read them)."""
    return [
        f"--mount=type=bind,source={source},destination={destination},readonly"
        for source, destination in written
    ]


def remove_files(folder: Path) -> None:
    """Remove a container's files; nothing to do when there are none."""
    shutil.rmtree(folder, ignore_errors=True)
