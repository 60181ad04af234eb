"""The RegistryPlugin contract, one suite that every in-tree registry plugin passes.

`distribution` runs against the real Debian registry of the test run (with an
image pushed by real buildah; a `system` test); `harbor` against its
stand-in, where the same image is recorded as an artifact; `fake` is the
in-memory fake the fast tier runs on, the image pushed as its builder does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from home_idp.plugins.discovery import installed_plugins, load_plugin
from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryConfig,
    RegistryError,
    RegistryPlugin,
    RegistryUnavailable,
)
from home_idp.plugins.registry.distribution import DistributionRegistry
from tests.components import REGISTRY_URL
from tests.doubles.harbor import harbor_stand_in
from tests.fakes import FakeRegistry
from tests.liveserver import free_port

SECRET = "registry-contract-secret-0123"
BASE_REPOSITORY, BASE_TAG = "base/busybox", "1"


@dataclass
class Subject:
    plugin: RegistryPlugin
    # A repository:tag that exists in this registry, and its digest.
    digest: str


def config(url: str, **options: str) -> RegistryConfig:
    return RegistryConfig(url, "http://127.0.0.1:1/webhooks/registry", SECRET, options)


PLUGINS = ["distribution", "harbor"]
SUBJECTS = [pytest.param("distribution", marks=pytest.mark.system), "harbor", "fake"]


def test_the_suite_covers_every_installed_registry_plugin() -> None:
    assert installed_plugins("registry") == sorted(PLUGINS)


@pytest.fixture(params=SUBJECTS)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "fake":
        fake = FakeRegistry(config("http://registry.fake.test:5000"))
        digest = "sha256:" + "ab" * 32
        fake.push(BASE_REPOSITORY, BASE_TAG, digest)
        yield Subject(fake, digest)
        await fake.aclose()
        return
    cls = load_plugin("registry", request.param)
    if request.param == "distribution":
        # The test run's registry, with its base image pushed by real buildah.
        request.getfixturevalue("build_components")
        plugin = cls(config(REGISTRY_URL))
        digest = await plugin.tag_digest(BASE_REPOSITORY, BASE_TAG)
        assert digest is not None, "the test run pushed its base image"
        yield Subject(plugin, digest)
        await plugin.aclose()
        return
    async with harbor_stand_in("admin", "Harbor12345") as harbor:
        digest = "sha256:" + "ab" * 32
        harbor.add_project("base")
        harbor.add_artifact("base", "busybox", BASE_TAG, digest)
        plugin = cls(config(harbor.base_url, username="admin", password="Harbor12345"))
        yield Subject(plugin, digest)
        await plugin.aclose()


async def test_ensure_project_is_idempotent(subject: Subject) -> None:
    first = await subject.plugin.ensure_project("shop", None)
    assert isinstance(first, ProjectAccess)
    again = await subject.plugin.ensure_project("shop", first)
    assert again == first


@pytest.mark.parametrize("name", ["../x", "UPPER", "a" * 64, "-x", ""])
async def test_ensure_project_refuses_names_that_are_no_dns_labels(
    subject: Subject, name: str
) -> None:
    with pytest.raises(RegistryError):
        await subject.plugin.ensure_project(name, None)


async def test_tag_digest_finds_a_pushed_tag_and_none_for_a_missing_one(subject: Subject) -> None:
    assert await subject.plugin.tag_digest(BASE_REPOSITORY, BASE_TAG) == subject.digest
    assert await subject.plugin.tag_digest(BASE_REPOSITORY, "no-such-tag") is None
    assert await subject.plugin.tag_digest("base/no-such-repo", BASE_TAG) is None


@pytest.mark.parametrize(
    ("repository", "tag"), [("../etc", "1"), ("base/busybox", "../x"), ("Base/X", "1")]
)
async def test_names_are_checked_before_they_reach_a_url(
    subject: Subject, repository: str, tag: str
) -> None:
    with pytest.raises(RegistryError):
        await subject.plugin.tag_digest(repository, tag)


async def test_list_tags(subject: Subject) -> None:
    assert BASE_TAG in await subject.plugin.list_tags(BASE_REPOSITORY)
    assert await subject.plugin.list_tags("base/no-such-repo") == []


def test_the_webhook_secret_is_checked(subject: Subject) -> None:
    body = b'{"events": []}'
    plugin = subject.plugin
    assert plugin.verify_webhook({"authorization": f"Bearer {SECRET}"}, body)
    assert not plugin.verify_webhook({"authorization": "Bearer wrong"}, body)
    assert not plugin.verify_webhook({}, body)


def test_a_push_webhook_parses_and_a_foreign_body_is_rejected(subject: Subject) -> None:
    digest = "sha256:" + "cd" * 32
    body = json.dumps(
        {
            "events": [
                {
                    "id": "e-1",
                    "action": "push",
                    "target": {"repository": "shop/web", "tag": "r1", "digest": digest},
                }
            ]
        }
    ).encode()
    parsed = subject.plugin.parse_webhook({}, body)
    assert parsed.delivery_id == "e-1"
    assert [(p.repository, p.tag, p.digest) for p in parsed.pushes] == [("shop/web", "r1", digest)]
    with pytest.raises(WebhookRejected):
        subject.plugin.parse_webhook({}, b'{"hello": "world"}')


async def test_an_unreachable_registry_is_a_retryable_error() -> None:
    plugin = DistributionRegistry(config(f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(RegistryUnavailable):
            await plugin.ensure_project("shop", None)
        with pytest.raises(RegistryUnavailable):
            await plugin.tag_digest("shop/web", "r1")
    finally:
        await plugin.aclose()


def test_a_registry_url_that_is_no_http_url_is_refused() -> None:
    with pytest.raises(RegistryError):
        DistributionRegistry(config("file:///etc"))
