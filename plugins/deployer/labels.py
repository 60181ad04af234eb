"""Names and labels the cluster deployers share: what marks an object as home-idp's.

Project and app names reach namespaces, object names, label values and URL
paths, so both deployers check them here before any request is sent.
"""

from __future__ import annotations

from home_idp.plugins.deployer.contract import DeployError
from home_idp.plugins.support.dns_names import is_dns_label

__all__ = [
    "APP",
    "HOME_IDP",
    "MANAGED_BY",
    "PROJECT",
    "RELEASE",
    "app_selector",
    "check_names",
    "managed_selector",
]

MANAGED_BY = "app.kubernetes.io/managed-by"
PROJECT = "home-idp.dev/project"
APP = "home-idp.dev/app"
RELEASE = "home-idp.dev/release"
HOME_IDP = "home-idp"


def check_names(project: str, app: str | None = None) -> None:
    """Raise DeployError unless the project (and app) are DNS-1123 labels."""
    for what, name in (("project", project), ("app", app)):
        if name is not None and not is_dns_label(name):
            raise DeployError(
                f"the {what} name {name[:80]!r} is not a DNS-1123 label "
                "(lower-case letters, digits and '-', at most 63 characters)"
            )


def managed_selector(project: str | None = None) -> str:
    """A label selector for everything home-idp deploys (of one project)."""
    terms = [f"{MANAGED_BY}={HOME_IDP}"]
    if project is not None:
        terms.append(f"{PROJECT}={project}")
    return ",".join(terms)


def app_selector(app: str) -> str:
    """A label selector for the objects of one app (in its project's namespace)."""
    return f"{APP}={app},{MANAGED_BY}={HOME_IDP}"
