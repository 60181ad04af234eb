"""Password hashing: argon2 at the cost the settings give, off the event loop."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from home_idp.server.rbac.passwords import PasswordHashing
from home_idp.server.settings import PasswordHashingSettings, Settings


async def test_the_server_goes_on_answering_while_a_password_is_checked() -> None:
    # At the default cost a check takes a fifth of a second of CPU: run on the
    # event loop, it would hold every other request back until it ends.
    hashing = PasswordHashing()
    stored = await hashing.hash("a long enough password")
    order: list[str] = []

    async def check() -> None:
        assert await hashing.verify(stored, "a long enough password")
        order.append("password checked")

    async def answer_meanwhile() -> None:
        await asyncio.sleep(0)
        order.append("other request answered")

    await asyncio.gather(check(), answer_meanwhile())
    assert order == ["other request answered", "password checked"]


async def test_the_cost_comes_from_the_settings_and_older_hashes_are_told_apart() -> None:
    cheap = PasswordHashing(PasswordHashingSettings(time_cost=1, memory_kib=16, parallelism=2))
    default = PasswordHashing()
    stored = await cheap.hash("a long enough password")
    assert "m=16,t=1,p=2" in stored
    # A hash keeps the cost it was made with: it is still checked right.
    assert await default.verify(stored, "a long enough password")
    assert not await default.verify(stored, "another password!")
    assert default.needs_rehash(stored)
    assert not cheap.needs_rehash(stored)
    assert not default.needs_rehash("not an argon2 hash")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MEMORY_KIB", "16", "at least 8 per lane (32 for parallelism 4)"),
        ("TIME_COST", "0", "greater than or equal to 1"),
        ("PARALLELISM", "many", "valid integer"),
    ],
)
def test_a_bad_cost_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    for other in ("MEMORY_KIB", "TIME_COST", "PARALLELISM"):
        monkeypatch.delenv(f"HOME_IDP_AUTH__PASSWORD_HASHING__{other}", raising=False)
    monkeypatch.setenv(f"HOME_IDP_AUTH__PASSWORD_HASHING__{name}", value)
    with pytest.raises(ValidationError, match=r"auth\.password_hashing") as refused:
        Settings()
    assert message in str(refused.value)
