"""The wheel holds every module of server/, schema/, plugins/ and tui/."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "server": "home_idp/server",
    "schema": "home_idp/schema",
    "plugins": "home_idp/plugins",
    "tui": "home_idp/tui",
}


def test_the_wheel_contains_every_module(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("home_idp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"{target}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, target in FOLDERS.items()
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".graphql", ".tcss")
        and "__pycache__" not in path.parts
    }
    assert expected, "no source files found"
    missing = sorted(expected - names)
    assert not missing, f"missing from the wheel: {missing}"
    assert "home_idp/schema/schema.graphql" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "home-idp = home_idp.server.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )
