"""Replicas on one Postgres with the local git plugin share one data dir, or refuse to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.database import BACKEND, scratch_postgres_database
from tests.serverprocess import ServerProcess, home_idp_env

# Real server processes and the real local git plugin: the system tier.
pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        BACKEND != "postgres", reason="replicas share a Postgres: the Postgres pass"
    ),
]

ME = "{ me { username } }"


async def test_a_replica_with_a_data_dir_of_its_own_refuses_to_start_and_says_why(
    tmp_path: Path,
) -> None:
    async with scratch_postgres_database() as database_url:
        first = ServerProcess(home_idp_env(tmp_path / "first" / "data", database_url))
        stranger_data = tmp_path / "stranger" / "data"
        stranger = ServerProcess(
            home_idp_env(
                stranger_data, database_url, registry__url=first.env["HOME_IDP_REGISTRY__URL"]
            )
        )
        replica = ServerProcess(dict(first.env))
        first.create_admin()
        first.start()
        try:
            returncode, output = stranger.start_refused()
            # A replica on the same data dir is welcome.
            replica.start()
            replica.token = first.login()
            assert replica.graphql(ME)["me"]["username"] == "root"
        finally:
            first.kill()
            replica.kill()
    assert returncode != 0
    reasons = [line for line in output.splitlines() if "home-idp cannot start" in line]
    assert reasons, output
    assert f"the platform repo in its data dir {stranger_data} is not the one" in reasons[0]
    assert "give every replica that same data dir (HOME_IDP_DATA_DIR" in reasons[0]
    # It names where the shared repo is.
    assert str(tmp_path / "first" / "data") in reasons[0]
