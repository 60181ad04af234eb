"""A server's name for its leases: its own across restarts, never a live server's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from home_idp.server.pipeline.instance import InstanceSlots

# A server of its own: claims a slot, says its name, and lives until killed.
HOLDER = """
import sys, time
from pathlib import Path
from home_idp.server.pipeline.instance import InstanceSlots
print(InstanceSlots(Path(sys.argv[1])).claim().name, flush=True)
time.sleep(60)
"""


def test_a_server_restarted_on_its_data_dir_gets_its_name_back(tmp_path: Path) -> None:
    first_life = InstanceSlots(tmp_path / "instances").claim()
    first_life.release()
    second_life = InstanceSlots(tmp_path / "instances").claim()
    assert second_life.survives_restarts
    assert second_life.name == first_life.name
    second_life.release()


def test_two_live_servers_on_one_data_dir_never_share_a_name(tmp_path: Path) -> None:
    slots = InstanceSlots(tmp_path / "instances")
    names = [slots.claim() for _ in range(3)]
    try:
        assert len({name.name for name in names}) == 3
    finally:
        for name in names:
            name.release()


def test_a_killed_server_leaves_its_name_to_the_next_one(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "instances")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        killed_name = holder.stdout.readline().strip()
        while_alive = InstanceSlots(tmp_path / "instances").claim()
        assert while_alive.name != killed_name
        while_alive.release()
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    after_death = InstanceSlots(tmp_path / "instances").claim()
    assert after_death.name == killed_name
    after_death.release()


def test_a_copied_data_dir_does_not_bring_its_names_along(tmp_path: Path) -> None:
    original = InstanceSlots(tmp_path / "data" / "instances").claim()
    original.release()
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    copied = InstanceSlots(tmp_path / "copy" / "instances").claim()
    assert copied.name != original.name
    copied.release()


def test_without_a_usable_data_dir_a_server_gets_a_name_for_one_life(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    name = InstanceSlots(tmp_path / "file" / "instances").claim()
    assert not name.survives_restarts
    assert name.name != InstanceSlots(tmp_path / "file" / "instances").claim().name
