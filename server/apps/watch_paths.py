"""An app's watch paths: the globs that say which changed files of its source
repository start a release when pushed.

The globs follow .gitignore: `*.py` and `docs/` match at any depth, a glob
with a slash inside (`src/**`, `web/*.js`) is relative to the repository
root, `**` spans folders, and `!glob` takes back what the globs before it
matched (`src/`, then `!src/docs/`), the last matching glob winning. Users
know this language from .gitignore, and pathspec's GitIgnoreSpec implements
it as git does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore import GitIgnorePatternError
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from home_idp.server.errors import ValidationFailed

__all__ = ["MAX_GLOB_LENGTH", "MAX_WATCH_PATHS", "touches", "validate_watch_paths"]

MAX_WATCH_PATHS = 50
MAX_GLOB_LENGTH = 255
_FIELD = "watchPaths"

# pathspec matches with Python regular expressions, which backtrack: each
# wildcard that can match at many lengths multiplies the work, and a glob
# such as `*a*a*a*b` took 88 s on one 1,000-character file name. Globs are
# held to three such wildcards (at most two of them `**`), and paths are
# matched only up to these sizes; a bigger push counts as touching, the side
# that errs toward a release rather than a missed one.
_MAX_WILDCARDS = 3
_MAX_DOUBLE_STARS = 2
_MAX_MATCHED_PATH = 1024
_MAX_MATCHED_PATHS = 5000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_watch_paths(globs: list[str]) -> list[str]:
    """The globs, checked; ValidationFailed on `watchPaths` names the first bad one."""
    if len(globs) > MAX_WATCH_PATHS:
        raise ValidationFailed.for_field(
            _FIELD, f"at most {MAX_WATCH_PATHS} globs, not {len(globs)}"
        )
    for index, glob in enumerate(globs):
        problem = _problem(glob, first=index == 0)
        if problem:
            raise ValidationFailed.for_field(_FIELD, f"{_shown(glob)} {problem}")
    return list(globs)


def touches(paths: Iterable[str] | None, globs: Sequence[str]) -> bool:
    """Whether a push that changed `paths` concerns an app that watches `globs`.

    No globs means the whole repository; None for `paths` means the push did
    not say what it changed, so it may have changed anything.
    """
    if not globs or paths is None:
        return True
    spec = _spec(tuple(globs))
    for count, path in enumerate(paths):
        if count >= _MAX_MATCHED_PATHS or len(path) > _MAX_MATCHED_PATH:
            return True
        if spec.match_file(path):
            return True
    return False


@lru_cache(maxsize=512)
def _spec(globs: tuple[str, ...]) -> GitIgnoreSpec:
    # Every push is matched against every app that follows its branch:
    # compile each app's globs once.
    return GitIgnoreSpec.from_lines(globs)


def _shown(glob: str) -> str:
    return repr(glob if len(glob) <= 60 else glob[:60] + "...")


def _problem(glob: str, *, first: bool) -> str | None:
    """What is wrong with one glob, or None."""
    body = glob.removeprefix("!")
    segments = body.split("/")
    if not body.strip():
        return "is empty"
    if len(glob) > MAX_GLOB_LENGTH:
        return f"is longer than {MAX_GLOB_LENGTH} characters"
    if _CONTROL.search(glob):
        return "holds a control character"
    if glob != glob.strip():
        # .gitignore drops trailing spaces but keeps leading ones: either
        # way the glob would not say what it seems to.
        return "starts or ends with a space"
    if "\\" in glob:
        return "holds a '\\': folders are separated by '/'"
    if body.startswith("/"):
        return "is absolute: globs are relative to the repository root ('src/**', not '/src/**')"
    if any(segment in {".", ".."} for segment in segments):
        return "holds a '.' or '..' folder: globs name paths inside the repository"
    if "" in segments[:-1]:
        return "holds an empty folder name ('//')"
    if glob.startswith("#"):
        return "starts with '#', which .gitignore reads as a comment"
    if first and glob.startswith("!"):
        return "excludes from nothing: a '!' glob only narrows the globs before it"
    return _pattern_problem(glob) or _complexity_problem(segments)


def _pattern_problem(glob: str) -> str | None:
    try:
        pattern = GitIgnoreSpecPattern(glob)
    except (GitIgnorePatternError, ValueError, re.error):
        return "is not a valid glob"
    if pattern.include is None:
        # git drops a glob it cannot read (an unclosed '[') without a word.
        return "is not a valid glob (check its '[...]')"
    return None


def _complexity_problem(segments: list[str]) -> str | None:
    # The counting follows pathspec's translation: a glob without an inner
    # slash gets an implicit leading `**/`, and a trailing `**` (or `/`) is a
    # plain prefix match that costs nothing.
    implicit = len(segments) == 1 or (len(segments) == 2 and segments[1] == "")
    counted = ["**"] * implicit + segments
    while counted and counted[-1] in {"", "**"}:
        counted.pop()
    double_stars = counted.count("**")
    stars = sum(segment.count("*") for segment in counted if segment != "**")
    if double_stars > _MAX_DOUBLE_STARS or double_stars + stars > _MAX_WILDCARDS:
        return (
            f"has too many wildcards: use at most {_MAX_WILDCARDS} '*' or '**', "
            f"at most {_MAX_DOUBLE_STARS} of them '**' (a glob without a '/' inside "
            "starts with an implicit '**/', and a final '/**' is free)"
        )
    return None
