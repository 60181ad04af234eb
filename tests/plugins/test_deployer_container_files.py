"""Config files of the container deployer: real podman, bind-mounted read-only.

The served image's CGIs read the files back over HTTP (`cat`) and try to
write to them (`append`), so what the app sees is what is checked.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from home_idp.plugins.deployer.container import ContainerDeployer
from home_idp.plugins.deployer.contract import ConfigFile, DeployError, RolloutState
from tests.components import REGISTRY_HOST
from tests.plugins import test_deployer_container as served
from tests.plugins.test_deployer_container import Engine, deployment, get, wait_for

CONFIG = ConfigFile("config.yaml", "/etc/app/config.yaml", "greeting: hello\nlevel: 3\n")
GREETING = ConfigFile("greeting.txt", "/srv/data/greeting.txt", "héllo from a file\n")

# The served module's fixtures, shared: the image is built once per run.
deployer = served.deployer
engine = served.engine
image = served.image
leave_no_containers = served.leave_no_containers
recorded = served.recorded


BAD_FILES = {
    "relative": ("config.yaml", "etc/app/config.yaml"),
    "dot-dot": ("config.yaml", "/etc/app/../shadow"),
    "dot": ("config.yaml", "/etc/./config.yaml"),
    "comma": ("config.yaml", "/etc/x,y"),
    "mount-option": ("config.yaml", "/etc/x,readonly=false"),
    "colon": ("config.yaml", "/etc/x:/y"),
    "space": ("config.yaml", "/etc/my config"),
    "double-slash": ("config.yaml", "/etc//config.yaml"),
    "trailing-slash": ("config.yaml", "/etc/app/"),
    "root": ("config.yaml", "/"),
    "too-long": ("config.yaml", "/" + "a" * 1024),
    "name-slash": ("app/config.yaml", "/etc/app/config.yaml"),
    "name-dot-dot": ("..", "/etc/app/config.yaml"),
    "name-empty": ("", "/etc/app/config.yaml"),
}


def files_dir(engine: Engine) -> Path:
    return engine.data_dir / "containers" / "files"


async def test_config_files_are_mounted_read_only_where_the_app_reads_them(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image, files=(CONFIG, GREETING))
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY, RolloutState.FAILED)
    assert status.state is RolloutState.READY, status.reason
    assert status.url is not None
    for file in (CONFIG, GREETING):
        answer = await get(f"{status.url}/cgi-bin/cat?{file.mount_path}")
        assert answer.text == file.content
        attempt = await get(f"{status.url}/cgi-bin/append?{file.mount_path}")
        assert "Read-only file system" in attempt.text, attempt.text
        assert attempt.text.endswith("exit 1\n"), attempt.text
    assert (await get(f"{status.url}/cgi-bin/cat?{CONFIG.mount_path}")).text == CONFIG.content

    # On the host: one folder per container; readable by any user, not writable.
    folder = files_dir(engine) / "hidp-shop-web-r1"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "greeting.txt"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "config.yaml").stat().st_mode) == 0o644
    assert (folder / "greeting.txt").read_text() == GREETING.content
    # Podman keeps the command line: the mounts are read-only binds of those files.
    command = engine.podman(
        "inspect", "--format={{.Config.CreateCommand}}", "hidp-shop-web-r1"
    ).stdout
    assert f"source={folder / 'config.yaml'},destination=/etc/app/config.yaml,readonly" in command


@pytest.mark.parametrize(
    "files",
    [
        *((ConfigFile(name, path, "x"),) for name, path in BAD_FILES.values()),
        (ConfigFile("a", "/etc/a", "x"), ConfigFile("b", "/etc/a", "y")),
        (ConfigFile("a", "/etc/a", "x"), ConfigFile("a", "/etc/b", "y")),
    ],
    ids=[*BAD_FILES, "same-mount-path", "same-name"],
)
async def test_bad_config_files_are_refused_before_anything_runs(
    deployer: ContainerDeployer, engine: Engine, recorded: list[list[str]], files: tuple[ConfigFile]
) -> None:
    bad = deployment(f"{REGISTRY_HOST}/shop/served:1", files=files)
    with pytest.raises(DeployError, match=r"config file|mount path|mounted at"):
        await deployer.sync(bad)
    with pytest.raises(DeployError):
        await deployer.rollout_status(bad)
    assert recorded == []
    assert not (engine.data_dir / "containers").exists()


async def test_the_files_of_a_removed_container_go_with_it(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    first = deployment(image, 1, files=(CONFIG,))
    await deployer.sync(first)
    await wait_for(deployer, first, RolloutState.READY)
    changed = ConfigFile(CONFIG.name, CONFIG.mount_path, "greeting: bye\n")
    second = deployment(image, 2, files=(changed, GREETING))
    await deployer.sync(second)
    assert sorted(p.name for p in files_dir(engine).iterdir()) == [
        "hidp-shop-web-r1",
        "hidp-shop-web-r2",
    ]
    status = await wait_for(deployer, second, RolloutState.READY)
    assert status.url is not None
    # The new release sees its own files; the old one is retired with its folder.
    assert (await get(f"{status.url}/cgi-bin/cat?{CONFIG.mount_path}")).text == changed.content
    await deployer.aclose()  # waits for the old release's retirement
    assert engine.names() == ["hidp-shop-web-r2"]
    assert [p.name for p in files_dir(engine).iterdir()] == ["hidp-shop-web-r2"]

    # A dead container is replaced by a fresh one, with its files written afresh.
    engine.podman("kill", "--signal=KILL", "hidp-shop-web-r2")
    await wait_for(deployer, second, RolloutState.FAILED)
    await deployer.sync(second)
    status = await wait_for(deployer, second, RolloutState.READY)
    assert status.url is not None
    assert (await get(f"{status.url}/cgi-bin/cat?{GREETING.mount_path}")).text == GREETING.content

    await deployer.undeploy("shop", "web")
    assert engine.names() == []
    assert list(files_dir(engine).iterdir()) == []


async def test_a_start_that_fails_leaves_no_files(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    # A file cannot be mounted below another file: the runtime refuses to start.
    below_a_file = ConfigFile("inner", "/www/index.html/inner", "x")
    release = deployment(image, files=(CONFIG, below_a_file))
    await deployer.sync(release)
    status = await deployer.rollout_status(release)
    assert status.state is RolloutState.FAILED
    assert status.reason.startswith("the container could not start: "), status.reason
    assert engine.names() == []
    assert list(files_dir(engine).iterdir()) == []


async def test_undeploy_removes_files_left_by_a_container_removed_elsewhere(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    web, api = deployment(image, files=(CONFIG,)), deployment(image, app="api", files=(CONFIG,))
    await deployer.sync(web)
    await deployer.sync(api)
    engine.podman("rm", "--force", "--time=0", "hidp-shop-web-r1")
    await deployer.undeploy("shop", "web")
    assert [p.name for p in files_dir(engine).iterdir()] == ["hidp-shop-api-r1"]
