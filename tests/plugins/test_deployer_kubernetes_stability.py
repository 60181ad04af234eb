"""The Kubernetes deployer's stability report, against the API stand-in driven by the real
client: restarts and OOM kills from `containerStatuses`, lost readiness, masked log lines."""

from __future__ import annotations

from home_idp.plugins.deployer.contract import StabilityReport
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.server.deploy.stability import stability_problem
from tests.doubles.kubernetes import KubernetesStandIn
from tests.plugins import test_deployer_kubernetes as cluster
from tests.plugins.test_deployer_kubernetes import SECRET_VALUE, make_deployment

# The cluster module's fixtures, shared.
kube = cluster.kube
make_deployer = cluster.make_deployer
deployer = cluster.deployer

LABELS = {"home-idp.dev/project": "shop", "home-idp.dev/app": "web", "home-idp.dev/release": "3"}


async def rolled_out(deployer: KubernetesDeployer, kube: KubernetesStandIn) -> StabilityReport:
    release = make_deployment(replicas=1)
    await deployer.sync(release)
    kube.roll_out("shop", "web")
    kube.add_pod("shop", "web-1", LABELS, container="web")
    return await deployer.stability(release)


async def test_a_steady_release_is_ready_with_no_restarts(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    report = await rolled_out(deployer, kube)

    assert report == StabilityReport(ready=True, running=True, restarts=0)


async def test_an_oom_kill_and_a_restart_are_reported_with_masked_lines(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    first = await rolled_out(deployer, kube)
    kube.add_pod_logs("shop", "web-1", "web", [f"loading with {SECRET_VALUE}", "allocating"])

    kube.restart_container("shop", "web-1", exit_code=137, reason="OOMKilled")
    report = await deployer.stability(make_deployment(replicas=1))

    assert (report.restarts, report.exit_code, report.oom_killed) == (1, 137, True)
    problem = stability_problem(report, first.restarts, "/healthz")
    assert problem is not None and problem.startswith(
        "the app restarted once (last exit: out of memory)"
    ), problem
    assert "loading with ****" in problem and SECRET_VALUE not in problem


async def test_a_crash_loop_counts_every_restart(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await rolled_out(deployer, kube)
    for _ in range(3):
        kube.restart_container("shop", "web-1", exit_code=2)

    report = await deployer.stability(make_deployment(replicas=1))

    assert (report.restarts, report.exit_code, report.oom_killed) == (3, 2, False)
    problem = stability_problem(report, 0, "/healthz")
    assert problem is not None and problem.startswith(
        "the app restarted 3 times (last exit: exit code 2)"
    ), problem


async def test_lost_readiness_is_reported(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await rolled_out(deployer, kube)

    kube.set_ready("shop", "web-1", False)
    report = await deployer.stability(make_deployment(replicas=1))

    assert (report.ready, report.running, report.restarts) == (False, True, 0)
    assert stability_problem(report, 0, "/healthz") == "the app stopped answering GET /healthz"
