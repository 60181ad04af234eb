"""Which Host names an app's stable address, what the address is, and where it leads."""

from __future__ import annotations

import pytest

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.deploy.app_addresses import AppAddresses, live_release_url
from home_idp.server.pipeline.models import Release
from home_idp.server.settings import DeployerSettings, Settings
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.querycount import count_queries

ADDRESSES = AppAddresses("localhost", 8080)


@pytest.mark.parametrize(
    ("host", "target"),
    [
        ("web.shop.localhost:8080", ("shop", "web")),
        ("web.shop.localhost", ("shop", "web")),
        ("Web.Shop.LOCALHOST:8080", ("shop", "web")),
        ("web.shop.localhost.:8080", ("shop", "web")),
        ("web-2.my-shop.localhost", ("my-shop", "web-2")),
    ],
)
def test_an_app_s_address_names_its_project_and_app(host: str, target: tuple[str, str]) -> None:
    assert ADDRESSES.app_of(host) == target


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8080",  # the gateway itself
        "127.0.0.1:8080",
        "shop.localhost",
        "a.web.shop.localhost",
        "web.shop.example.com",
        "web.shop.localhost.evil.test",
        "-web.shop.localhost",
        "web_1.shop.localhost",
        "web.shop.localhost:80a",
        "",
    ],
)
def test_other_hosts_are_the_gateway_s_own(host: str) -> None:
    assert ADDRESSES.app_of(host) is None


def test_the_address_is_on_the_server_s_port() -> None:
    assert ADDRESSES.url("shop", "web") == "http://web.shop.localhost:8080"


def test_only_the_container_deployer_s_apps_have_one() -> None:
    assert AppAddresses.of(Settings(port=9000)) is not None
    assert AppAddresses.of(Settings(deployer=DeployerSettings(plugin="kubernetes"))) is None
    assert AppAddresses.of(Settings(deployer=DeployerSettings(apps_domain=""))) is None


def test_a_domain_that_is_no_host_name_is_refused() -> None:
    with pytest.raises(ValueError, match="apps_domain"):
        DeployerSettings(apps_domain="bad domain/..")


async def test_the_live_release_s_own_address_is_read_in_one_query(factory: Factory) -> None:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    await make_app(project, name="idle")
    version = await DockerfileVersion.create(
        app=web, number=1, content="FROM x\n", author="dev", message="first"
    )
    live = await Release.create(
        app=web,
        number=1,
        dockerfile_version=version,
        trigger="dockerfile",
        created_by="dev",
        url="http://127.0.0.1:40123",
    )
    await App.filter(id=web.id).update(live_release_id=live.id)

    with count_queries() as counter:
        found = await live_release_url("shop", "web")
    # The proxy asks for every request it passes on.
    assert (found, counter.count) == ("http://127.0.0.1:40123", 1)
    assert await live_release_url("shop", "idle") is None
    assert await live_release_url("shop", "nothing") is None
    assert await live_release_url("elsewhere", "web") is None
