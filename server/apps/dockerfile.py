"""Dockerfiles checked on save: split into instructions, or refused with the bad line named.

This is not a full BuildKit frontend; it catches what would otherwise only fail
minutes later in a build (a typo in a keyword, a broken exec form, an unclosed
heredoc) and tells the author which line to fix. Every refusal is a
`ValidationFailed` on the field "content".
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from home_idp.server.errors import ValidationFailed

__all__ = [
    "MAX_DOCKERFILE_BYTES",
    "Instruction",
    "ParsedDockerfile",
    "diff_dockerfiles",
    "parse_dockerfile",
]

MAX_DOCKERFILE_BYTES = 256 * 1024

INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
# Docker refuses these as ONBUILD triggers.
_NOT_TRIGGERS = frozenset({"ONBUILD", "FROM", "MAINTAINER"})
_EXEC_FORM = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_TAKES_FLAGS = frozenset({"RUN", "COPY", "ADD"})
_TAKES_HEREDOCS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVES = frozenset({"syntax", "escape", "check"})

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*")
# Like BuildKit, a heredoc starts a word (`<<NAME`, `<<-NAME`, `<<"NAME"`), so a
# shift in `$((a<<b))`, `<< EOF` and a `<<<` here-string are left alone.
_HEREDOC = re.compile(r"(?<!\S)\d*<<(-?)([\"']?)([^\s<>|&;()\"']+)\2")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Instruction:
    """One instruction: its upper-cased keyword, the rest of its text, and where it starts."""

    keyword: str
    arguments: str
    line: int
    # The bodies of `<<EOF` heredocs that follow the instruction, in order.
    heredocs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDockerfile:
    """A Dockerfile that passed the checks, with the images its stages start from."""

    instructions: tuple[Instruction, ...]
    # Images named by FROM, in order and without repeats; references to an
    # earlier stage (`FROM build`) are not images and are left out.
    base_images: tuple[str, ...]
    stage_names: tuple[str, ...]


def _refuse(line: int | None, message: str) -> ValidationFailed:
    where = f"line {line}: " if line is not None else ""
    return ValidationFailed.for_field("content", where + message)


def _quoted(word: str) -> str:
    # Arbitrary input can hold a huge "keyword"; an error message should not.
    return repr(word if len(word) <= 40 else word[:40] + "…")


def parse_dockerfile(content: str) -> ParsedDockerfile:
    """Split `content` into instructions, or raise `ValidationFailed` naming the bad line."""
    size = len(content.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCKERFILE_BYTES:
        raise _refuse(None, f"the Dockerfile is {size} bytes; the limit is 256 KiB")
    # Split on "\n" only, as Docker does, so line numbers match what builders report.
    lines = [line.removesuffix("\r") for line in content.split("\n")]
    for number, line in enumerate(lines, start=1):
        if "\0" in line:
            raise _refuse(number, "NUL bytes are not allowed in a Dockerfile")
        if _SURROGATE.search(line):
            raise _refuse(number, "the text is not valid Unicode (an unpaired surrogate)")
    escape, index = _read_directives(lines)
    instructions = _read_instructions(lines, index, escape)
    if not instructions:
        raise _refuse(None, "the Dockerfile is empty or only comments")
    return _summarise(tuple(instructions))


def _read_directives(lines: list[str]) -> tuple[str, int]:
    """The escape character and the index of the first line after the parser directives."""
    escape = "\\"
    index = 0
    # Directives only count at the very top; the first other line ends them.
    while index < len(lines) and (match := _DIRECTIVE.fullmatch(lines[index])):
        name, value = match[1].lower(), match[2]
        if name not in _DIRECTIVES:
            break
        if name == "escape":
            if value not in ("\\", "`"):
                raise _refuse(index + 1, f"the escape directive must be \\ or `, not {value!r}")
            escape = value
        index += 1
    return escape, index


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _read_instructions(lines: list[str], index: int, escape: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    while index < len(lines):
        if _is_comment_or_blank(lines[index]):
            index += 1
            continue
        start = index + 1
        pieces: list[str] = []
        line = lines[index]
        while line.rstrip().endswith(escape):
            pieces.append(line.rstrip()[:-1])
            dangling = index + 1
            index += 1
            # Docker drops comments (and blank lines) inside a continued instruction.
            while index < len(lines) and _is_comment_or_blank(lines[index]):
                index += 1
            if index == len(lines):
                raise _refuse(
                    dangling, "the line continuation at the end of the file continues nothing"
                )
            line = lines[index]
        pieces.append(line)
        index += 1
        typed, arguments = _split_keyword("".join(pieces))
        keyword = _checked_keyword(typed, arguments, start)
        heredocs: list[str] = []
        if keyword in _TAKES_HEREDOCS:
            for match in _HEREDOC.finditer(arguments):
                body, index = _read_heredoc(lines, index, match[3], bool(match[1]), start)
                heredocs.append(body)
        instructions.append(Instruction(keyword, arguments, start, tuple(heredocs)))
    return instructions


def _read_heredoc(
    lines: list[str], index: int, name: str, strip_tabs: bool, start: int
) -> tuple[str, int]:
    body: list[str] = []
    while index < len(lines):
        # `<<-` lets the body and the terminator be indented with tabs, as in sh.
        line = lines[index].lstrip("\t") if strip_tabs else lines[index]
        index += 1
        if line.rstrip() == name:
            return "\n".join(body), index
        body.append(line)
    raise _refuse(start, f"the heredoc <<{name} is never closed by a line {name!r}")


def _split_keyword(text: str) -> tuple[str, str]:
    """The keyword as typed (upper-cased only once checked) and the stripped arguments."""
    parts = text.strip().split(maxsplit=1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _checked_keyword(typed: str, arguments: str, line: int) -> str:
    """The upper-cased keyword; raise for an unknown one, missing arguments or a bad exec form."""
    keyword = typed.upper()
    if keyword not in INSTRUCTIONS:
        raise _refuse(line, f"unknown instruction {_quoted(typed)}")
    if not arguments:
        raise _refuse(line, f"{keyword} needs arguments")
    if keyword == "ONBUILD":
        trigger_typed, trigger_arguments = _split_keyword(arguments)
        trigger = trigger_typed.upper()
        if trigger in _NOT_TRIGGERS:
            raise _refuse(line, f"ONBUILD cannot trigger {trigger}")
        if trigger not in INSTRUCTIONS:
            raise _refuse(line, f"unknown instruction {_quoted(trigger_typed)} after ONBUILD")
        _checked_keyword(trigger_typed, trigger_arguments, line)
    elif keyword in _EXEC_FORM:
        _check_exec_form(keyword, arguments, line)
    return keyword


def _check_exec_form(keyword: str, arguments: str, line: int) -> None:
    if keyword in _TAKES_FLAGS:
        while arguments.startswith("--"):
            parts = arguments.split(maxsplit=1)
            arguments = parts[1] if len(parts) > 1 else ""
    if not arguments.startswith("["):
        if keyword == "SHELL":
            raise _refuse(line, 'SHELL must be a JSON array, e.g. ["/bin/bash", "-c"]')
        return
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # deep nesting overflows the JSON decoder
        value = None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return
    # `RUN [ -f /etc/app.conf ] && ...` is shell form: `[` is the test command.
    # A JSON attempt nearly always has a comma or no space after the bracket.
    if (
        keyword in ("RUN", "CMD", "ENTRYPOINT")
        and arguments[1:2].isspace()
        and "," not in arguments
    ):
        return
    raise _refuse(line, f"{keyword} starts with '[' but is not a JSON array of strings")


def _summarise(instructions: tuple[Instruction, ...]) -> ParsedDockerfile:
    """Check that a FROM comes first (after ARGs) and collect images and stage names."""
    first = next((i for i in instructions if i.keyword != "ARG"), None)
    if first is None:
        raise _refuse(instructions[-1].line, "a FROM must follow the ARG instructions")
    if first.keyword != "FROM":
        raise _refuse(
            first.line,
            "the first instruction must be FROM (only ARG may come before it), "
            f"not {first.keyword}",
        )
    images: list[str] = []
    stages: list[str] = []
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        words = [w for w in instruction.arguments.split() if not w.startswith("--")]
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise _refuse(instruction.line, "FROM takes an image and an optional 'AS name'")
        image = words[0]
        if image.lower() not in stages and image not in images:
            images.append(image)
        if len(words) == 3:
            stages.append(words[2].lower())
    return ParsedDockerfile(instructions, tuple(images), tuple(stages))


def diff_dockerfiles(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff from `old` to `new` with the given file labels; "" when they are equal."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm=""
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""
