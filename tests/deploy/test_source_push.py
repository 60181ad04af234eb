"""Push webhooks of apps' source repositories: senders, signatures, payloads, URLs.

The vendors' own sample payloads (GitHub's octokit examples, the Gitea and
GitLab documentation pages) are read in place from the `shared/specs` folder
beside the repository, signed with a real HMAC, and parsed. Without that
folder those tests skip, naming it; under CI=true they fail instead. The
hand-made payloads below cover what the samples do not: broken bodies,
truncated commit lists, forced pushes.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import pytest

from home_idp.server.deploy.source_push import (
    Delivery,
    EventKind,
    PushRejected,
    SourceSender,
    delivery_of,
    detect,
    parse_push,
    same_repository,
    verify,
)

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
SECRET = "s3cret-for-tests"
ZERO = "0" * 40
GITHUB_SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
GITEA_AFTER = "bffeb74224043ba2feb48d137756c8a9331c449a"
GITLAB_AFTER = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
GITHUB_TAG_DELETIONS = (
    "payload.json",
    "1.payload.json",
    "with-installation.payload.json",
    "with-organization.payload.json",
)
GITHUB_NEW_BRANCHES = ("with-new-branch.payload.json", "with-no-username-committer.payload.json")


# -- helpers ------------------------------------------------------------------


def spec_file(relative: str) -> Path:
    """A vendor sample; a skip without the specs folder, a failure under CI=true."""
    path = SPECS / relative
    if not path.is_file():
        message = f"vendor sample {relative} not found in the specs folder {SPECS}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def spec_json(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(spec_file(relative).read_bytes())
    return loaded


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(
    sender: SourceSender, body: bytes, *, event: str = "push", secret: str = SECRET
) -> dict[str, str]:
    """The headers each vendor sends (lower-cased), signed with `secret`."""
    digest = hmac_hex(secret, body)
    github = {
        "x-github-event": event,
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": f"sha256={digest}",
    }
    # Gitea and Forgejo send GitHub's headers too (gitea/HEADERS.md).
    gitea = github | {
        "x-gitea-event": event,
        "x-gitea-delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
        "x-gitea-signature": digest,
        "x-gogs-event": event,
        "x-gogs-signature": digest,
    }
    if sender is SourceSender.GITHUB:
        return github
    if sender is SourceSender.GITEA:
        return gitea
    if sender is SourceSender.FORGEJO:
        return gitea | {
            "x-forgejo-event": event,
            "x-forgejo-delivery": "0f5d1f43-5c1b-4b0e-9b4a-1c54b5f4f0a2",
            "x-forgejo-signature": digest,
        }
    return {
        "x-gitlab-event": "Push Hook" if event == "push" else event,
        "x-gitlab-token": secret,
        "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
        "x-gitlab-webhook-uuid": "4ff9e4a3-ac9c-4a3d-b5c8-7e5b46ae7b3d",
    }


def sha(n: int) -> str:
    return f"{n:040x}"


def github_push(commits: int = 1, **changes: Any) -> dict[str, Any]:
    """A GitHub push of `commits` commits to main, each changing one file."""
    listed = [
        {
            "id": sha(i + 1),
            "message": f"change {i + 1}",
            "url": f"https://github.com/octo/app/commit/{sha(i + 1)}",
            "author": {"name": "Octo Cat", "email": "octo@example.com", "username": "octo"},
            "added": [f"src/new_{i + 1}.py"],
            "modified": ["README.md"],
            "removed": [],
        }
        for i in range(commits)
    ]
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": sha(1000),
        "after": listed[-1]["id"] if listed else sha(1000),
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": listed,
        "head_commit": listed[-1] if listed else None,
        "repository": {
            "full_name": "octo/app",
            "clone_url": "https://github.com/octo/app.git",
            "ssh_url": "git@github.com:octo/app.git",
            "html_url": "https://github.com/octo/app",
        },
        "pusher": {"name": "octo", "email": "octo@example.com"},
    }
    payload.update(changes)
    return payload


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def rejected(sender: SourceSender, body: bytes) -> str:
    with pytest.raises(PushRejected) as caught:
        parse_push(sender, body)
    return str(caught.value)


# -- vendor samples: signatures -----------------------------------------------

PUSH_SAMPLES = [
    *((SourceSender.GITHUB, f"github/webhooks/push/{name}") for name in GITHUB_TAG_DELETIONS),
    *((SourceSender.GITHUB, f"github/webhooks/push/{name}") for name in GITHUB_NEW_BRANCHES),
    (SourceSender.GITEA, "gitea/push.json"),
    # Forgejo sends Gitea's payload (gitea/HEADERS.md).
    (SourceSender.FORGEJO, "gitea/push.json"),
    (SourceSender.GITLAB, "gitlab/push.json"),
]


@pytest.mark.parametrize(("sender", "sample"), PUSH_SAMPLES)
def test_a_signed_sample_is_verified_and_a_changed_one_is_not(
    sender: SourceSender, sample: str
) -> None:
    body = spec_file(sample).read_bytes()
    headers = signed_headers(sender, body)

    assert detect(headers) is sender
    assert verify(sender, headers, body, SECRET)
    changed = (body + b" ", body.replace(b"refs/", b"refs/x", 1))
    # GitLab's token is the secret itself and says nothing of the body.
    body_is_signed = sender is not SourceSender.GITLAB
    assert all(verify(sender, headers, other, SECRET) != body_is_signed for other in changed)
    assert not verify(sender, headers, body, "another-secret")
    assert not verify(sender, headers, body, "")


SIGNATURE_HEADERS = {
    SourceSender.GITHUB: "x-hub-signature-256",
    SourceSender.GITEA: "x-gitea-signature",
    SourceSender.FORGEJO: "x-forgejo-signature",
    SourceSender.GITLAB: "x-gitlab-token",
}


@pytest.mark.parametrize(("sender", "sample"), PUSH_SAMPLES[-4:])
def test_a_sample_without_its_signature_header_is_refused(
    sender: SourceSender, sample: str
) -> None:
    body = spec_file(sample).read_bytes()
    headers = signed_headers(sender, body)
    del headers[SIGNATURE_HEADERS[sender]]

    # Gitea and Forgejo still carry a valid X-Hub-Signature-256; only their own counts.
    assert not verify(sender, headers, body, SECRET)


def test_the_github_ping_sample_is_a_signed_ping() -> None:
    body = spec_file("github/webhooks/ping/payload.json").read_bytes()
    headers = signed_headers(SourceSender.GITHUB, body, event="ping")

    delivery = delivery_of(headers)
    assert delivery.kind is EventKind.PING
    assert verify(delivery.sender, headers, body, SECRET)


def test_a_pull_request_sample_is_another_event() -> None:
    body = spec_file("github/webhooks/pull_request/opened.payload.json").read_bytes()
    delivery = delivery_of(signed_headers(SourceSender.GITHUB, body, event="pull_request"))

    assert delivery.kind is EventKind.OTHER


# -- vendor samples: payloads --------------------------------------------------


@pytest.mark.parametrize("name", GITHUB_TAG_DELETIONS)
def test_github_samples_of_a_deleted_tag(name: str) -> None:
    push = parse_push(SourceSender.GITHUB, spec_file(f"github/webhooks/push/{name}").read_bytes())

    assert push.ref == "refs/tags/simple-tag"
    assert (push.branch, push.tag) == (None, "simple-tag")
    assert push.deleted
    assert (push.before, push.after, push.head) == (GITHUB_SHA, None, None)
    assert push.changed_paths == frozenset()
    assert push.pusher == "Codertocat"
    assert push.repository_urls == {
        "https://github.com/Codertocat/Hello-World.git",
        "git://github.com/Codertocat/Hello-World.git",
        "git@github.com:Codertocat/Hello-World.git",
        "https://github.com/Codertocat/Hello-World",
    }


@pytest.mark.parametrize("name", GITHUB_NEW_BRANCHES)
def test_github_samples_of_a_new_branch(name: str) -> None:
    push = parse_push(SourceSender.GITHUB, spec_file(f"github/webhooks/push/{name}").read_bytes())

    assert (push.ref, push.branch, push.tag) == ("refs/heads/master", "master", None)
    assert push.created
    assert not push.deleted
    assert (push.before, push.after) == (None, GITHUB_SHA)
    assert push.head is not None
    assert (push.head.sha, push.head.author, push.head.message) == (
        GITHUB_SHA,
        "Codertocat",
        "Initial commit",
    )
    assert push.head.url == f"https://github.com/Codertocat/Hello-World/commit/{GITHUB_SHA}"
    # A new branch has nothing of this app's to compare with.
    assert push.changed_paths is None


def test_the_github_sample_on_an_existing_branch_lists_its_paths() -> None:
    payload = spec_json("github/webhooks/push/with-new-branch.payload.json")
    payload["before"] = sha(7)
    payload["created"] = False

    push = parse_push(SourceSender.GITHUB, body_of(payload))

    assert push.changed_paths == frozenset({"README.md"})


@pytest.mark.parametrize("sender", [SourceSender.GITEA, SourceSender.FORGEJO])
def test_the_gitea_sample(sender: SourceSender) -> None:
    push = parse_push(sender, spec_file("gitea/push.json").read_bytes())

    assert (push.ref, push.branch) == ("refs/heads/develop", "develop")
    assert push.before == "28e1879d029cb852e4844d9c718537df08844e03"
    assert push.after == GITEA_AFTER
    assert push.head is not None
    assert (push.head.sha, push.head.author, push.head.message) == (
        GITEA_AFTER,
        "Gitea",
        "Webhooks Yay!",
    )
    # This version lists no added/modified/removed and no total_commits.
    assert push.changed_paths is None
    assert push.pusher == "gitea"
    assert push.repository_urls == {
        "http://localhost:3000/gitea/webhooks.git",
        "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "http://localhost:3000/gitea/webhooks",
    }


def test_the_gitea_sample_with_the_lists_of_newer_versions() -> None:
    payload = spec_json("gitea/push.json")
    payload["commits"][0] |= {"added": ["a.txt"], "modified": ["src/b.go"], "removed": ["c"]}
    payload["total_commits"] = 1

    push = parse_push(SourceSender.GITEA, body_of(payload))
    assert push.changed_paths == frozenset({"a.txt", "src/b.go", "c"})

    # More commits than listed (FEED_MAX_COMMIT_NUM): the lists are not the whole change.
    payload["total_commits"] = 6
    assert parse_push(SourceSender.GITEA, body_of(payload)).changed_paths is None


def test_the_gitlab_sample() -> None:
    push = parse_push(SourceSender.GITLAB, spec_file("gitlab/push.json").read_bytes())

    assert (push.ref, push.branch) == ("refs/heads/master", "master")
    assert push.before == "95790bf891e76fee5e1747ab589903a6a1f80f22"
    assert push.after == GITLAB_AFTER
    assert push.head is not None
    assert (push.head.sha, push.head.author, push.head.message) == (
        GITLAB_AFTER,
        "GitLab dev user",
        "fixed readme",
    )
    # total_commits_count is 4 and two commits are listed.
    assert push.changed_paths is None
    assert push.pusher == "jsmith"
    assert push.repository_urls == {
        "git@example.com:mike/diaspora.git",
        "http://example.com/mike/diaspora.git",
        "http://example.com/mike/diaspora",
    }


def test_the_gitlab_sample_with_every_commit_listed() -> None:
    payload = spec_json("gitlab/push.json")
    payload["total_commits_count"] = len(payload["commits"])

    push = parse_push(SourceSender.GITLAB, body_of(payload))

    assert push.changed_paths == frozenset({"CHANGELOG", "app/controller/application.rb"})


@pytest.mark.parametrize(
    ("sample", "sender", "typed"),
    [
        (
            "github/webhooks/push/with-new-branch.payload.json",
            SourceSender.GITHUB,
            "https://github.com/codertocat/hello-world",
        ),
        (
            "github/webhooks/push/with-new-branch.payload.json",
            SourceSender.GITHUB,
            "ssh://git@github.com/Codertocat/Hello-World.git",
        ),
        ("gitea/push.json", SourceSender.GITEA, "http://localhost:3000/gitea/webhooks/"),
        ("gitea/push.json", SourceSender.GITEA, "ssh://git@localhost:2222/gitea/webhooks"),
        ("gitlab/push.json", SourceSender.GITLAB, "https://example.com/mike/diaspora"),
        ("gitlab/push.json", SourceSender.GITLAB, "ssh://git@example.com/mike/diaspora.git"),
    ],
)
def test_a_sample_matches_the_source_repo_a_user_would_type(
    sample: str, sender: SourceSender, typed: str
) -> None:
    urls = parse_push(sender, spec_file(sample).read_bytes()).repository_urls

    assert any(same_repository(typed, url) for url in urls)
    assert not any(same_repository(url, "https://example.org/someone/else.git") for url in urls)


# -- headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ({"x-github-event": "push"}, SourceSender.GITHUB),
        ({"x-gitlab-event": "Push Hook"}, SourceSender.GITLAB),
        ({"x-gitea-event": "push", "x-github-event": "push"}, SourceSender.GITEA),
        (
            {"x-forgejo-event": "push", "x-gitea-event": "push", "x-github-event": "push"},
            SourceSender.FORGEJO,
        ),
    ],
)
def test_the_sender_is_told_by_its_most_specific_header(
    headers: dict[str, str], sender: SourceSender
) -> None:
    assert detect(headers) is sender


@pytest.mark.parametrize(
    "headers", [{}, {"x-gogs-event": "push"}, {"x-github-event": ""}, {"user-agent": "curl"}]
)
def test_an_unknown_sender_is_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(PushRejected, match="unknown sender"):
        detect(headers)
    with pytest.raises(PushRejected):
        delivery_of(headers)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"x-github-event": "push", "x-github-delivery": "g-1"},
            Delivery(SourceSender.GITHUB, "push", "g-1"),
        ),
        (
            {"x-gitea-event": "push", "x-gitea-delivery": "t-1", "x-github-delivery": "x"},
            Delivery(SourceSender.GITEA, "push", "t-1"),
        ),
        (
            {"x-forgejo-event": "push", "x-forgejo-delivery": "f-1", "x-gitea-delivery": "x"},
            Delivery(SourceSender.FORGEJO, "push", "f-1"),
        ),
        (
            {
                "x-gitlab-event": "Push Hook",
                "idempotency-key": "k-1",
                "x-gitlab-webhook-uuid": "w-1",
                "x-gitlab-event-uuid": "e-1",
            },
            Delivery(SourceSender.GITLAB, "Push Hook", "k-1"),
        ),
        (
            {
                "x-gitlab-event": "Push Hook",
                "x-gitlab-webhook-uuid": "w-1",
                "x-gitlab-event-uuid": "e-1",
            },
            Delivery(SourceSender.GITLAB, "Push Hook", "w-1"),
        ),
        (
            {"x-gitlab-event": "Tag Push Hook", "x-gitlab-event-uuid": "e-1"},
            Delivery(SourceSender.GITLAB, "Tag Push Hook", "e-1"),
        ),
        ({"x-gitlab-event": "Push Hook"}, Delivery(SourceSender.GITLAB, "Push Hook", None)),
        ({"x-github-event": "push"}, Delivery(SourceSender.GITHUB, "push", None)),
    ],
)
def test_the_delivery_is_read_from_the_senders_own_headers(
    headers: dict[str, str], expected: Delivery
) -> None:
    assert delivery_of(headers) == expected


@pytest.mark.parametrize(
    ("sender", "event", "kind"),
    [
        (SourceSender.GITHUB, "push", EventKind.PUSH),
        (SourceSender.GITHUB, "ping", EventKind.PING),
        (SourceSender.GITHUB, "create", EventKind.OTHER),
        (SourceSender.GITEA, "push", EventKind.PUSH),
        (SourceSender.GITEA, "ping", EventKind.OTHER),
        (SourceSender.FORGEJO, "push", EventKind.PUSH),
        (SourceSender.GITLAB, "Push Hook", EventKind.PUSH),
        (SourceSender.GITLAB, "Tag Push Hook", EventKind.PUSH),
        (SourceSender.GITLAB, "Merge Request Hook", EventKind.OTHER),
        (SourceSender.GITLAB, "push", EventKind.OTHER),
    ],
)
def test_the_kind_of_event(sender: SourceSender, event: str, kind: EventKind) -> None:
    assert Delivery(sender, event, "id").kind is kind


# -- signatures ---------------------------------------------------------------


def test_a_github_signature_needs_its_prefix() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    bare = {"x-hub-signature-256": hmac_hex(SECRET, body)}
    prefixed = {"x-hub-signature-256": "sha256=" + hmac_hex(SECRET, body)}

    assert not verify(SourceSender.GITHUB, bare, body, SECRET)
    assert verify(SourceSender.GITHUB, prefixed, body, SECRET)


def test_a_gitea_signature_is_bare_hex() -> None:
    body = b"{}"
    digest = hmac_hex(SECRET, body)

    assert verify(SourceSender.GITEA, {"x-gitea-signature": digest}, body, SECRET)
    assert not verify(SourceSender.GITEA, {"x-gitea-signature": f"sha256={digest}"}, body, SECRET)
    # A Forgejo delivery is proved by X-Forgejo-Signature, not the Gitea copy.
    assert not verify(SourceSender.FORGEJO, {"x-gitea-signature": digest}, body, SECRET)


def test_a_gitlab_token_is_the_secret_itself() -> None:
    assert verify(SourceSender.GITLAB, {"x-gitlab-token": SECRET}, b"{}", SECRET)
    assert not verify(SourceSender.GITLAB, {"x-gitlab-token": SECRET + "x"}, b"{}", SECRET)
    assert not verify(SourceSender.GITLAB, {"x-gitlab-token": ""}, b"{}", SECRET)
    # A signature proves nothing to the GitLab check.
    signature = {"x-hub-signature-256": "sha256=" + hmac_hex(SECRET, b"{}")}
    assert not verify(SourceSender.GITLAB, signature, b"{}", SECRET)


@pytest.mark.parametrize("sender", list(SourceSender))
def test_an_empty_secret_proves_nothing(sender: SourceSender) -> None:
    body = b"{}"
    headers = signed_headers(sender, body, secret="")

    assert not verify(sender, headers, body, "")


@pytest.mark.parametrize("sender", list(SourceSender))
def test_a_forged_header_with_odd_characters_is_refused_not_an_error(
    sender: SourceSender,
) -> None:
    headers = {
        name: "sha256=\u00e9\u2603\udc80"
        for name in ("x-hub-signature-256", "x-gitea-signature", "x-forgejo-signature")
    } | {"x-gitlab-token": "\u00e9\u2603"}

    assert not verify(sender, headers, b"{}", SECRET)


# -- payloads made by hand ------------------------------------------------------


def test_a_github_push_lists_the_union_of_its_commits_paths() -> None:
    push = parse_push(SourceSender.GITHUB, body_of(github_push(3)))

    assert push.changed_paths == frozenset(
        {"src/new_1.py", "src/new_2.py", "src/new_3.py", "README.md"}
    )
    assert push.head is not None
    assert (push.head.sha, push.head.author, push.head.message) == (sha(3), "Octo Cat", "change 3")
    assert push.pusher == "octo"


@pytest.mark.parametrize("commits", [20, 21])
def test_a_github_push_of_twenty_commits_or_more_may_hide_paths(commits: int) -> None:
    push = parse_push(SourceSender.GITHUB, body_of(github_push(commits)))

    assert push.changed_paths is None
    assert push.after == sha(commits)


def test_a_github_push_of_nineteen_commits_is_complete() -> None:
    push = parse_push(SourceSender.GITHUB, body_of(github_push(19)))

    assert push.changed_paths is not None
    assert len(push.changed_paths) == 20


def test_a_forced_push_has_unknown_paths() -> None:
    assert parse_push(SourceSender.GITHUB, body_of(github_push(forced=True))).changed_paths is None


def test_a_push_with_no_commits_listed_has_unknown_paths() -> None:
    # A branch reset to an older commit lists nothing, yet its files changed.
    payload = github_push(0, after=sha(5))

    assert parse_push(SourceSender.GITHUB, body_of(payload)).changed_paths is None


def test_a_commit_without_path_lists_makes_the_paths_unknown() -> None:
    payload = github_push(2)
    del payload["commits"][0]["removed"]

    assert parse_push(SourceSender.GITHUB, body_of(payload)).changed_paths is None


def test_the_head_is_found_among_the_commits_without_head_commit() -> None:
    payload = github_push(2)
    del payload["head_commit"]

    push = parse_push(SourceSender.GITHUB, body_of(payload))

    assert push.head is not None
    assert push.head.sha == sha(2)


def test_commit_ids_are_read_in_lower_case() -> None:
    upper = sha(1).upper()
    payload = github_push(1, after=upper)
    payload["commits"][0]["id"] = upper
    del payload["head_commit"]

    push = parse_push(SourceSender.GITHUB, body_of(payload))

    assert push.after == sha(1)
    assert push.head is not None
    assert push.head.sha == sha(1)


def test_a_sha256_repository_is_read() -> None:
    long_sha = "ab" * 32
    payload = github_push(0, before="0" * 64, after=long_sha)

    push = parse_push(SourceSender.GITHUB, body_of(payload))

    assert (push.before, push.after) == (None, long_sha)


def test_a_gitlab_tag_deletion() -> None:
    payload: dict[str, Any] = {
        "object_kind": "tag_push",
        "ref": "refs/tags/v1.0.0",
        "before": sha(9),
        "after": ZERO,
        "checkout_sha": None,
        "user_name": "John Smith",
        "project": {"git_http_url": "https://gitlab.example.com/mike/diaspora.git"},
        "commits": [],
        "total_commits_count": 0,
    }

    push = parse_push(SourceSender.GITLAB, body_of(payload))

    assert push.deleted
    assert (push.tag, push.branch, push.head) == ("v1.0.0", None, None)
    assert push.pusher == "John Smith"


def test_a_gitlab_event_of_another_kind_is_rejected() -> None:
    payload = {"object_kind": "merge_request", "ref": "refs/heads/main"}

    assert "not a push event" in rejected(SourceSender.GITLAB, body_of(payload))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"payload=%7B%22ref%22%3A%22x%22%7D", "application/json"),
        (b"[]", "not a JSON object"),
        (b'"push"', "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_a_body_that_is_no_json_object_is_rejected(body: bytes, message: str) -> None:
    assert message in rejected(SourceSender.GITHUB, body)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ref": None}, "ref is missing"),
        ({"ref": 5}, "ref must be a string"),
        ({"ref": "main"}, "full ref name"),
        ({"ref": "refs/heads/a\nb"}, "full ref name"),
        ({"after": None}, "after is missing"),
        ({"after": "HEAD"}, "after must be a commit id"),
        ({"before": ["x"]}, "before must be a string"),
        ({"repository": None}, "repository is missing"),
        ({"repository": "octo/app"}, "repository must be an object"),
        ({"repository": {"full_name": "octo/app"}}, "names no URL"),
        ({"repository": {"clone_url": 7}}, "repository.clone_url must be a string"),
        ({"commits": {"id": "x"}}, "commits must be a list"),
        ({"commits": ["x"]}, "commits[0] must be an object"),
        ({"commits": [{"message": "m"}]}, "commits[0].id is missing"),
        ({"commits": [{"id": sha(1), "message": 3}]}, "commits[0].message must be a string"),
        ({"head_commit": "x"}, "head_commit must be an object"),
        ({"forced": "yes"}, "forced must be true or false"),
        ({"pusher": {"name": 1}}, "pusher.name must be a string"),
    ],
)
def test_a_github_push_with_a_missing_or_wrong_field_is_rejected(
    change: dict[str, Any], message: str
) -> None:
    payload = github_push(1)
    for key, value in change.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value

    assert message in rejected(SourceSender.GITHUB, body_of(payload))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("added", "src/a.py", "commits[0].added must be a list"),
        ("modified", ["ok", 3], "commits[0].modified must be a list of strings"),
        ("author", "octo", "commits[0].author must be an object"),
        ("url", False, "commits[0].url must be a string"),
    ],
)
def test_a_commit_with_a_wrong_field_is_rejected(field: str, value: Any, message: str) -> None:
    payload = github_push(1)
    payload["commits"][0][field] = value

    assert message in rejected(SourceSender.GITHUB, body_of(payload))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total_commits_count": "2"}, "total_commits_count must be a whole number"),
        ({"total_commits_count": True}, "total_commits_count must be a whole number"),
        ({"project": None, "repository": None}, "names no repository URL"),
        ({"project": []}, "project must be an object"),
    ],
)
def test_a_gitlab_push_with_a_wrong_field_is_rejected(change: dict[str, Any], message: str) -> None:
    payload: dict[str, Any] = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": sha(1),
        "after": sha(2),
        "project": {"git_http_url": "https://gitlab.example.com/a/b.git"},
        "repository": {"git_ssh_url": "git@gitlab.example.com:a/b.git"},
        "commits": [],
        "total_commits_count": 0,
    }
    for key, value in change.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value

    assert message in rejected(SourceSender.GITLAB, body_of(payload))


def test_a_rejection_does_not_echo_the_payload() -> None:
    payload = github_push(1, ref="x" * 10_000)

    assert len(rejected(SourceSender.GITHUB, body_of(payload))) < 200


def test_every_wrong_type_anywhere_is_a_rejection_not_a_crash() -> None:
    # Each field of a valid push in turn, replaced by values of every JSON type.
    base = github_push(2)
    odd_values: list[Any] = [None, 0, 1.5, True, "", "x", [], ["x"], {}, {"x": 1}]
    for path in _field_paths(base):
        for value in odd_values:
            payload = copy.deepcopy(base)
            _set(payload, path, value)
            with contextlib.suppress(PushRejected):
                parse_push(SourceSender.GITHUB, body_of(payload))


def _field_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            paths += _field_paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            paths += _field_paths(inner, (*prefix, index))
    return paths


def _set(payload: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        payload = payload[step]
    payload[path[-1]] = value


# -- repository URLs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://github.com/octo/app", "https://github.com/octo/app.git"),
        ("https://github.com/octo/app/", "https://github.com/octo/app.git/"),
        ("http://github.com/octo/app", "https://github.com/octo/app"),
        ("https://github.com:443/octo/app", "https://github.com/octo/app"),
        ("ssh://git@github.com/octo/app.git", "https://github.com/octo/app"),
        ("ssh://git@github.com:22/octo/app.git", "git@github.com:octo/app.git"),
        ("git@github.com:octo/app.git", "https://github.com/octo/app"),
        ("github.com:octo/app", "https://github.com/octo/app"),
        ("git://github.com/octo/app.git", "https://github.com/octo/app"),
        ("git+ssh://git@github.com/octo/app.git", "https://github.com/octo/app"),
        ("https://user@github.com/octo/app", "https://github.com/octo/app"),
        ("https://GitHub.COM/Octo/App.GIT", "https://github.com/octo/app"),
        ("https://github.com./octo/app", "https://github.com/octo/app"),
        ("https://gitlab.example.com/group/sub/app.git", "git@gitlab.example.com:group/sub/app"),
        ("http://localhost:3000/gitea/webhooks.git", "http://localhost:3000/gitea/webhooks"),
        (
            "ssh://gitea@localhost:2222/gitea/webhooks.git",
            "ssh://git@localhost:2222/gitea/webhooks",
        ),
        ("https://git.example.com/my%20team/app", "https://git.example.com/my team/app"),
    ],
)
def test_the_same_repository_in_other_forms(a: str, b: str) -> None:
    assert same_repository(a, b)
    assert same_repository(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://github.com/octo/app", "https://github.com/octo/app2"),
        ("https://github.com/octo/app", "https://github.com/other/app"),
        ("https://github.com/octo/app", "https://gitlab.com/octo/app"),
        ("https://github.com/octo/app", "https://github.com/octo/app/extra"),
        ("https://github.com/group/app", "https://github.com/group/sub/app"),
        ("https://git.example.com:8443/o/r", "https://git.example.com/o/r"),
        ("http://localhost:3000/gitea/webhooks", "ssh://gitea@localhost:2222/gitea/webhooks"),
        ("https://github.com/octo/app", ""),
        ("", ""),
        ("https://github.com/", "https://github.com/"),
        ("/srv/git/app.git", "/srv/git/app.git"),
        ("file:///srv/git/app.git", "file:///srv/git/app.git"),
        ("https://github.com:99999/o/r", "https://github.com:99999/o/r"),
        ("not a url", "not a url"),
    ],
)
def test_other_repositories_and_unusable_urls_do_not_match(a: str, b: str) -> None:
    assert not same_repository(a, b)
