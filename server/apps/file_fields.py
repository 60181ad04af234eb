"""Validation of an app's config files before they reach a ConfigMap, a bind mount or git."""

from __future__ import annotations

import re

from home_idp.server.errors import ValidationFailed

__all__ = [
    "MAX_APP_FILES",
    "MAX_FILES_BYTES",
    "MAX_FILE_BYTES",
    "validate_content",
    "validate_file_name",
    "validate_mount_path",
]

# A ConfigMap holds at most 1 MiB, so one file is at most that.
MAX_FILE_BYTES = 1024 * 1024
# Every release keeps its rendered manifests (files included), so an app's
# files together stay small enough to keep per release.
MAX_FILES_BYTES = 4 * 1024 * 1024
MAX_APP_FILES = 32

# A ConfigMap key: it names the file, never a path.
_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
# No ',' or ':' (they separate a bind mount's options), no spaces.
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._@+-]{1,255}$")
# Folders whose content the system or the container runtime owns: a file
# mounted in them could replace a binary, a library or a kernel interface.
_SYSTEM_FOLDERS = (
    "/bin",
    "/boot",
    "/dev",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr/bin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/sbin",
    "/var/run",
)
# Files the runtime writes (hosts, resolv.conf) or that decide who is who.
_SYSTEM_FILES = frozenset(
    {
        "/etc/passwd",
        "/etc/shadow",
        "/etc/group",
        "/etc/gshadow",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/etc/sudoers",
        "/etc/ld.so.preload",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
    }
)


def validate_file_name(name: str) -> str:
    if not _FILE_NAME.fullmatch(name) or name in {".", ".."}:
        raise ValidationFailed.for_field(
            "name", "must be a file name of letters, digits, '.', '_' and '-' (no '/')"
        )
    return name


def validate_mount_path(path: str) -> str:
    """An absolute file path inside the container, away from system folders."""
    problem = _mount_path_problem(path)
    if problem:
        raise ValidationFailed.for_field("mountPath", problem)
    return path


def _mount_path_problem(path: str) -> str | None:
    if not path.startswith("/") or len(path) > 1024:
        return "must be an absolute path (starting with '/'), at most 1024 characters"
    segments = path[1:].split("/")
    if any(s in {"", ".", ".."} for s in segments):
        return "must not hold '..', '.', '//' or end with '/'"
    if not all(_PATH_SEGMENT.fullmatch(s) for s in segments):
        return "may hold only letters, digits and '.', '_', '@', '+', '-' between '/'"
    if len(segments) < 2:
        return "must be a file inside a folder, such as /config/app.yaml"
    if path in _SYSTEM_FILES or any(
        path == folder or path.startswith(folder + "/") for folder in _SYSTEM_FOLDERS
    ):
        return f"{path[:80]} is a system path; mount config files elsewhere (e.g. /config)"
    return None


def validate_content(content: str) -> int:
    """The content's size in bytes; text only, at most MAX_FILE_BYTES."""
    size = len(content.encode())
    if size > MAX_FILE_BYTES:
        raise ValidationFailed.for_field(
            "content", f"is {size} bytes; a config file holds at most {MAX_FILE_BYTES} (1 MiB)"
        )
    if "\x00" in content:
        raise ValidationFailed.for_field("content", "must be text (it holds a NUL character)")
    return size
