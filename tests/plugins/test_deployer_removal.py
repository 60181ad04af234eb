"""Removal by the cluster deployers, against their stand-ins: after `undeploy` nothing of
the app is left in its namespace (the Namespace itself stays for the project's others)."""

from __future__ import annotations

from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from tests.doubles.kubernetes import KubernetesStandIn
from tests.plugins import test_deployer_kubernetes as kubernetes_tests
from tests.plugins.test_deployer_kubernetes import make_deployment

# The stand-in and the deployer on it, as the kubernetes deployer's own tests make them.
kube = kubernetes_tests.kube
make_deployer = kubernetes_tests.make_deployer
deployer = kubernetes_tests.deployer


async def test_undeploy_leaves_no_object_of_the_app_in_its_namespace(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await deployer.sync(make_deployment(ingress=True))
    assert any(namespace == "shop" for _, namespace, _, _ in kube.objects)

    await deployer.undeploy("shop", "web")

    left = sorted(
        (plural, name) for _, namespace, plural, name in kube.objects if namespace == "shop"
    )
    assert left == []
    assert kube.get("namespaces", "", "shop") is not None
