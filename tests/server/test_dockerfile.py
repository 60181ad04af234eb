"""Dockerfiles on save: valid ones split into instructions, bad ones refused naming the line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from home_idp.server.apps.dockerfile import (
    MAX_DOCKERFILE_BYTES,
    Instruction,
    ParsedDockerfile,
    diff_dockerfiles,
    parse_dockerfile,
)
from home_idp.server.errors import ValidationFailed

PROPERTY = settings(max_examples=200, deadline=None)


def refusal(content: str) -> str:
    """The field message of the ValidationFailed that `content` must raise."""
    with pytest.raises(ValidationFailed) as caught:
        parse_dockerfile(content)
    [error] = caught.value.field_errors
    assert error.field == "content"
    return error.message


def keywords(content: str) -> list[tuple[str, int]]:
    return [(i.keyword, i.line) for i in parse_dockerfile(content).instructions]


# --- valid Dockerfiles -------------------------------------------------------------


def test_a_simple_dockerfile() -> None:
    parsed = parse_dockerfile('FROM python:3.12-slim\nWORKDIR /app\nCMD ["python", "app.py"]\n')
    assert parsed.instructions == (
        Instruction("FROM", "python:3.12-slim", 1),
        Instruction("WORKDIR", "/app", 2),
        Instruction("CMD", '["python", "app.py"]', 3),
    )
    assert parsed.base_images == ("python:3.12-slim",)
    assert parsed.stage_names == ()


def test_multi_stage_lists_images_but_not_stage_references() -> None:
    content = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache go build -o /out/app ./cmd/app

FROM build as test
RUN go test ./...

FROM gcr.io/distroless/static:nonroot AS final
COPY --from=build /out/app /app
USER nonroot
ENTRYPOINT ["/app"]
"""
    parsed = parse_dockerfile(content)
    assert parsed.base_images == ("golang:${GO_VERSION}", "gcr.io/distroless/static:nonroot")
    assert parsed.stage_names == ("build", "test", "final")
    assert keywords(content)[:3] == [("ARG", 2), ("FROM", 3), ("WORKDIR", 4)]


def test_repeated_base_images_are_listed_once() -> None:
    parsed = parse_dockerfile("FROM alpine AS a\nFROM alpine AS b\nFROM debian\n")
    assert parsed.base_images == ("alpine", "debian")


def test_keywords_are_case_insensitive_and_upper_cased() -> None:
    assert keywords("from alpine\nrun echo hi\nCopy a b\n") == [
        ("FROM", 1),
        ("RUN", 2),
        ("COPY", 3),
    ]


def test_comments_blank_lines_and_crlf() -> None:
    content = "# a comment\r\n\r\n  # indented comment\r\nFROM alpine\r\n\r\nRUN true\r\n"
    assert keywords(content) == [("FROM", 4), ("RUN", 6)]
    assert parse_dockerfile(content).instructions[1].arguments == "true"


def test_continuations_join_lines_and_skip_comments_inside() -> None:
    content = """\
FROM debian:12
RUN apt-get update \\
    # a comment inside the command is dropped, as Docker does
    && apt-get install -y --no-install-recommends curl \\

    && rm -rf /var/lib/apt/lists/*
EXPOSE 8080
"""
    parsed = parse_dockerfile(content)
    assert keywords(content) == [("FROM", 1), ("RUN", 2), ("EXPOSE", 7)]
    run = parsed.instructions[1].arguments
    assert run.startswith("apt-get update ")
    assert "comment" not in run
    assert run.endswith("rm -rf /var/lib/apt/lists/*")


def test_the_escape_directive_switches_to_backtick() -> None:
    content = """\
# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
WORKDIR C:\\app\\
RUN dir C:\\ `
    && echo done
COPY . C:\\app\\
"""
    parsed = parse_dockerfile(content)
    assert keywords(content) == [("FROM", 2), ("WORKDIR", 3), ("RUN", 4), ("COPY", 6)]
    # With a backtick escape a trailing backslash is a path, not a continuation.
    assert parsed.instructions[1].arguments == "C:\\app\\"
    assert parsed.instructions[2].arguments == "dir C:\\     && echo done"


def test_directives_only_count_at_the_top() -> None:
    # After an instruction, "# escape=`" is a comment and `\` still continues lines.
    content = "FROM alpine\n# escape=`\nRUN echo a \\\n  b\n"
    assert parse_dockerfile(content).instructions[1].arguments == "echo a   b"


def test_arg_may_come_before_from() -> None:
    content = "ARG BASE=alpine\nARG TAG=3.20\nFROM ${BASE}:${TAG}\nARG TAG\nRUN echo $TAG\n"
    assert keywords(content) == [("ARG", 1), ("ARG", 2), ("FROM", 3), ("ARG", 4), ("RUN", 5)]


def test_heredocs_in_run_and_copy() -> None:
    content = """\
FROM alpine
RUN <<EOF
set -eu
apk add --no-cache curl
EOF
COPY <<-"CONF" /etc/app.conf
\tkey = value
\tCONF
RUN cat <<A > /a && cat <<B > /b
first
A
second
B
CMD ["sh"]
"""
    parsed = parse_dockerfile(content)
    assert keywords(content) == [("FROM", 1), ("RUN", 2), ("COPY", 6), ("RUN", 9), ("CMD", 14)]
    assert parsed.instructions[1].heredocs == ("set -eu\napk add --no-cache curl",)
    assert parsed.instructions[2].heredocs == ("key = value",)
    assert parsed.instructions[3].heredocs == ("first", "second")


def test_shifts_and_here_strings_are_not_heredocs() -> None:
    content = "FROM alpine\nRUN echo $((1<<4)) && cat <<<hi\nCMD echo ok\n"
    assert keywords(content) == [("FROM", 1), ("RUN", 2), ("CMD", 3)]


def test_onbuild_and_exec_forms() -> None:
    content = """\
FROM node:22
ONBUILD COPY package.json /app/
onbuild run ["npm", "ci"]
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
VOLUME ["/data"]
VOLUME /cache /tmp/x
RUN --mount=type=secret,id=npmrc ["npm", "publish"]
RUN [ -f /app/package.json ] && echo present
HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1
CMD []
"""
    parsed = parse_dockerfile(content)
    assert parsed.instructions[2] == Instruction("ONBUILD", 'run ["npm", "ci"]', 3)
    assert len(parsed.instructions) == 10


# --- refusals ----------------------------------------------------------------------


def test_exactly_the_limit_is_accepted_and_one_byte_more_is_not() -> None:
    head = "FROM alpine\n# "
    content = head + "x" * (MAX_DOCKERFILE_BYTES - len(head))
    assert len(content.encode()) == MAX_DOCKERFILE_BYTES
    parse_dockerfile(content)
    assert "256 KiB" in refusal(content + "x")


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    head = "FROM alpine\n# "
    content = head + "é" * ((MAX_DOCKERFILE_BYTES - len(head)) // 2 + 1)
    assert len(content) < MAX_DOCKERFILE_BYTES
    assert "256 KiB" in refusal(content)


@pytest.mark.parametrize("content", ["", "\n\n  \n", "# only\n# comments\n", "# escape=`\n"])
def test_empty_or_only_comments(content: str) -> None:
    assert "empty" in refusal(content)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("FROM alpine\nRUN a\n\n# c\n\nRUN b\nFORM x\n", "line 7: unknown instruction 'FORM'"),
        ("FROM alpine\nRUNN true\n", "line 2: unknown instruction 'RUNN'"),
        ("FROM alpine\nRUN ok\nRUN bad\x00\n", "line 3: NUL bytes"),
        ("FROM alpine\nWORKDIR\n", "line 2: WORKDIR needs arguments"),
        ("FROM alpine\nRUN   \\\n  \n", "line 2: the line continuation"),
        ("FROM\n", "line 1: FROM needs arguments"),
        ("RUN echo hi\nFROM alpine\n", "line 1: the first instruction must be FROM"),
        ("ARG A=1\n\nCOPY . /\nFROM alpine\n", "line 3: the first instruction must be FROM"),
        ("ARG A=1\nARG B=2\n", "line 2: a FROM must follow"),
        ("FROM a AS\n", "line 1: FROM takes an image"),
        ("FROM a INTO b\n", "line 1: FROM takes an image"),
        ("FROM alpine\nCMD [\"a\", 'b']\n", "line 2: CMD starts with '['"),
        ('FROM alpine\nENTRYPOINT ["a" "b"]\n', "line 2: ENTRYPOINT starts with '['"),
        ('FROM alpine\nRUN ["sh", 1]\n', "line 2: RUN starts with '['"),
        ('FROM alpine\nRUN --network=none ["sh",\n', "line 2: RUN starts with '['"),
        ('FROM alpine\n\nCOPY ["a", "b"\n', "line 3: COPY starts with '['"),
        ('FROM alpine\nADD [{"a": 1}]\n', "line 2: ADD starts with '['"),
        ("FROM alpine\nVOLUME [ /data ]\n", "line 2: VOLUME starts with '['"),
        ('FROM alpine\nSHELL ["bash" "-c"]\n', "line 2: SHELL starts with '['"),
        ("FROM alpine\nSHELL /bin/bash -c\n", "line 2: SHELL must be a JSON array"),
        ("FROM alpine\nCMD " + "[" * 50_000 + "\n", "line 2: CMD starts with '['"),
        ("FROM alpine\nONBUILD FROM x\n", "line 2: ONBUILD cannot trigger FROM"),
        ("FROM alpine\nONBUILD ONBUILD RUN x\n", "line 2: ONBUILD cannot trigger ONBUILD"),
        ("FROM alpine\nONBUILD RUNN x\n", "line 2: unknown instruction 'RUNN' after ONBUILD"),
        ("FROM alpine\nONBUILD RUN\n", "line 2: RUN needs arguments"),
        ("FROM alpine\nONBUILD CMD ['x']\n", "line 2: CMD starts with '['"),
        ("# escape=x\nFROM alpine\n", "line 1: the escape directive must be"),
        (
            "FROM alpine\nRUN true\nRUN <<EOF\necho\nEOFX\n",
            "line 3: the heredoc <<EOF is never closed",
        ),
        ("FROM alpine\nCOPY <<A <<B /\na\nA\nb\n", "line 2: the heredoc <<B is never closed"),
        ("FROM alpine\nRUN ok\nRUN a\ud800\n", "line 3: the text is not valid Unicode"),
    ],
)
def test_each_refusal_names_the_line(content: str, expected: str) -> None:
    assert refusal(content).startswith(expected)


def test_the_whole_error_message_carries_the_field() -> None:
    with pytest.raises(ValidationFailed, match=r"^content: line 1: unknown instruction 'FORM'$"):
        parse_dockerfile("FORM alpine\n")


def test_a_continuation_at_the_end_names_its_line() -> None:
    message = refusal("FROM alpine\nRUN a \\\n  b \\\n\n# trailing comment\n")
    assert message == "line 3: the line continuation at the end of the file continues nothing"


def test_a_huge_unknown_keyword_is_cut_short_in_the_message() -> None:
    message = refusal("FROM alpine\n" + "X" * 10_000 + " y\n")
    assert message.startswith("line 2: unknown instruction 'XXXX")
    assert len(message) < 100


# --- diff --------------------------------------------------------------------------


def test_diff_shows_labels_and_changed_lines() -> None:
    old = 'FROM alpine:3.19\nRUN apk add curl\nCMD ["sh"]\n'
    new = 'FROM alpine:3.20\nRUN apk add curl\nCMD ["sh"]'
    diff = diff_dockerfiles(old, new, "version 1", "version 2")
    lines = diff.splitlines()
    assert lines[:2] == ["--- version 1", "+++ version 2"]
    assert "-FROM alpine:3.19" in lines
    assert "+FROM alpine:3.20" in lines
    assert " RUN apk add curl" in lines
    assert diff.endswith("\n")


def test_diff_of_equal_texts_is_empty() -> None:
    assert diff_dockerfiles("FROM a\n", "FROM a\n", "a", "b") == ""


# --- properties --------------------------------------------------------------------

fragments = st.sampled_from(
    [
        "FROM ", "from ", "ARG ", "RUN ", "COPY ", "ONBUILD ", "SHELL ", "CMD ", "AS ", "x",
        "alpine", "[", "]", '"', "'", ",", "\\", "`", "#", "# escape=`", "# escape=\\",
        "<<EOF", "<<-E", "EOF", "E", "\t", " ", "\n", "\r\n", "--flag=1 ", "{", "1", "\x00",
    ]
)  # fmt: skip


def parse_or_none(content: str) -> ParsedDockerfile | None:
    """The parse of `content`, or None after checking the refusal is a proper one."""
    try:
        return parse_dockerfile(content)
    except ValidationFailed as error:
        fields = [e.field for e in error.field_errors]
    assert fields == ["content"]
    return None


@PROPERTY
@given(st.text())
def test_any_text_parses_or_is_refused(content: str) -> None:
    parse_or_none(content)


@PROPERTY
@given(st.lists(fragments, max_size=40).map("".join))
def test_dockerfile_like_text_parses_or_is_refused(content: str) -> None:
    parsed = parse_or_none(content)
    if parsed is None:
        return
    assert parsed.instructions[0].keyword in ("FROM", "ARG")
    lines = [i.line for i in parsed.instructions]
    assert lines == sorted(lines)
    assert lines[-1] <= content.count("\n") + 1


@PROPERTY
@given(st.text(), st.text())
def test_diff_never_fails_and_is_empty_only_for_equal_lines(old: str, new: str) -> None:
    diff = diff_dockerfiles(old, new, "old", "new")
    assert (diff == "") == (old.splitlines() == new.splitlines())
