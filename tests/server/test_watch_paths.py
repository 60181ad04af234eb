"""Watch paths: which globs an app may keep, and which pushes they let through."""

from __future__ import annotations

import time

import pytest

from home_idp.server.apps.watch_paths import (
    MAX_GLOB_LENGTH,
    MAX_WATCH_PATHS,
    touches,
    validate_watch_paths,
)
from home_idp.server.errors import FieldError, ValidationFailed


def refusal(globs: list[str]) -> FieldError:
    with pytest.raises(ValidationFailed) as caught:
        validate_watch_paths(globs)
    [error] = caught.value.field_errors
    assert error.field == "watchPaths"
    return error


# -- validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "globs",
    [
        [],
        ["src/**"],
        ["*.py", "docs/", "Dockerfile", "web/*.js", "**/test_*.py"],
        ["src/", "!src/docs/", "!*.md"],
        ["a/[bc]/?.txt", "src/**/tests/**", "**/*.min.js"],
        ["x" * MAX_GLOB_LENGTH],
        [f"dir{n}/**" for n in range(MAX_WATCH_PATHS)],
    ],
)
def test_valid_globs_are_kept_in_order(globs: list[str]) -> None:
    assert validate_watch_paths(globs) == globs


@pytest.mark.parametrize(
    ("glob", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("!", "is empty"),
        ("x" * (MAX_GLOB_LENGTH + 1), "longer than 255"),
        ("src/\x00", "control character"),
        ("src\n*.py", "control character"),
        ("src/\x7f", "control character"),
        (" src/**", "space"),
        ("src/** ", "space"),
        ("src\\main.py", "'\\'"),
        ("/src/**", "is absolute"),
        ("!/src/**", "is absolute"),
        ("../other/**", "'..'"),
        ("src/../../etc", "'..'"),
        ("./src/**", "'.'"),
        ("src//main.py", "empty folder name"),
        ("#notes", "comment"),
        ("src/[abc", "not a valid glob"),
        ("src/[z-a].py", "not a valid glob"),
        ("*a*a*a*b", "too many wildcards"),
        ("**/a/**/b/**/c", "too many wildcards"),
        ("a/*/*/*/*/b", "too many wildcards"),
    ],
)
def test_a_bad_glob_is_named_in_the_error(glob: str, problem: str) -> None:
    error = refusal(["docs/", glob])

    assert problem in error.message
    shown = glob if len(glob) <= 60 else glob[:60] + "..."
    assert repr(shown) in error.message


def test_a_leading_negation_is_refused() -> None:
    # It would exclude from nothing, so the app would never be released.
    error = refusal(["!docs/", "src/"])

    assert "'!docs/'" in error.message
    assert "narrows" in error.message


def test_at_most_fifty_globs() -> None:
    error = refusal([f"dir{n}/" for n in range(MAX_WATCH_PATHS + 1)])

    assert "at most 50" in error.message


def test_a_control_character_is_not_echoed_raw() -> None:
    error = refusal(["a\x1b[2Jb"])

    assert "\x1b" not in error.message


# -- matching -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("globs", "path", "touched"),
    [
        (["src/**"], "src/app/main.py", True),
        (["src/**"], "src", False),
        (["src/**"], "lib/src/main.py", False),
        (["src/**"], "docs/index.md", False),
        (["*.py"], "setup.py", True),
        (["*.py"], "a/b/c.py", True),
        (["*.py"], "a/b/c.pyc", False),
        (["docs/"], "docs/index.md", True),
        (["docs/"], "guide/docs/index.md", True),
        (["docs/"], "docs", False),
        (["Dockerfile"], "Dockerfile", True),
        (["Dockerfile"], "services/web/Dockerfile", True),
        (["web/*.js"], "web/app.js", True),
        (["web/*.js"], "web/lib/app.js", False),
        (["src/**/test_*.py"], "src/a/b/test_x.py", True),
        (["src/**/test_*.py"], "src/test_x.py", True),
        (["a/[bc]/?.txt"], "a/c/1.txt", True),
        (["a/[bc]/?.txt"], "a/d/1.txt", False),
        (["src/", "!src/docs/"], "src/main.py", True),
        (["src/", "!src/docs/"], "src/docs/guide.md", False),
        (["src/", "!src/docs/", "src/docs/api/"], "src/docs/api/ref.md", True),
        (["src/**", "!*.md"], "src/README.md", False),
    ],
)
def test_a_path_matches_as_in_gitignore(globs: list[str], path: str, touched: bool) -> None:
    assert touches([path], validate_watch_paths(globs)) is touched


def test_no_globs_watch_the_whole_repository() -> None:
    assert touches(["anything.txt"], [])
    assert touches([], [])
    assert touches(None, [])


def test_unknown_paths_touch_everything() -> None:
    assert touches(None, ["src/**"])


def test_a_push_that_changed_nothing_touches_nothing() -> None:
    assert not touches(frozenset(), ["src/**"])


def test_any_one_matching_path_is_enough() -> None:
    assert touches(["README.md", "docs/a.md", "src/x.py"], ["src/**"])
    assert not touches(["README.md", "docs/a.md"], ["src/**"])


def test_a_path_too_long_to_match_counts_as_touched() -> None:
    assert touches(["docs/" + "a" * 2000], ["src/**"])


def test_a_push_of_very_many_paths_counts_as_touched() -> None:
    assert touches((f"docs/{n}.md" for n in range(10_000)), ["src/**"])
    assert not touches([f"docs/{n}.md" for n in range(1_000)], ["src/**"])


@pytest.mark.parametrize(
    "glob", ["**/a*a*b", "a/**/a/**/a*b", "*a*/**/a/b", "**/a*/**/b", "*a*a*b/c"]
)
def test_the_costliest_allowed_globs_match_quickly(glob: str) -> None:
    # Paths built to make a backtracking matcher try every split.
    segment = "a" * 255
    paths = [
        "/".join(["a"] * 512)[:1023] + "c",
        "/".join([segment] * 4)[:1023] + "c",
        "/".join(["aa"] * 341)[:1023] + "c",
        segment,
    ]
    globs = validate_watch_paths([glob])
    started = time.perf_counter()

    assert not touches(paths, globs)
    assert time.perf_counter() - started < 2.0
