"""Which Host names an app's stable address, and what the address is."""

from __future__ import annotations

import pytest

from home_idp.server.deploy.app_addresses import AppAddresses
from home_idp.server.settings import DeployerSettings, Settings

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
