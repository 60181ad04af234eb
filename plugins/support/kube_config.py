"""How plugins that talk to a Kubernetes API server find it: one set of options.

`api_url` + `token` (+ `ca_file`), or a `kubeconfig` path (and `kube_context`),
or the in-cluster service account; `verify_tls` "false" turns certificate
checks off (logged).
"""

from __future__ import annotations

import logging
from typing import Self

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from pydantic import model_validator

from home_idp.plugins.support.options import Flag, HttpUrl, PluginOptions

__all__ = ["KubeOptions", "client_configuration"]

log = logging.getLogger(__name__)


class KubeOptions(PluginOptions):
    """Where the API server is and how to sign in to it."""

    api_url: HttpUrl = ""
    token: str = ""
    ca_file: str = ""
    kubeconfig: str = ""
    kube_context: str = ""
    verify_tls: Flag = True

    @model_validator(mode="after")
    def _token_with_api_url(self) -> Self:
        if self.api_url and not self.token:
            raise ValueError("needs `token` with `api_url`")
        return self


def client_configuration(
    options: KubeOptions, who: str, error: type[Exception]
) -> tuple[k8s.Configuration, list[str]]:
    """The client configuration the options ask for, and the secrets in it to mask.

    `who` names the plugin in messages ("the kaniko builder"); problems are
    raised as `error` and never carry the token.
    """
    configuration = k8s.Configuration()
    try:
        if options.api_url:
            configuration.host = options.api_url.rstrip("/")
            configuration.api_key = {"BearerToken": options.token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
            if options.ca_file:
                configuration.ssl_ca_cert = options.ca_file
        elif options.kubeconfig:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=options.kubeconfig,
                context=options.kube_context or None,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
    except (ConfigException, OSError, ValueError, TypeError) as problem:
        raise error(
            f"{who} could not load its Kubernetes configuration "
            "(set `api_url` and `token`, or `kubeconfig`, or run it in a cluster): "
            f"{type(problem).__name__}"
        ) from None
    if not options.verify_tls:
        log.warning("%s does not verify the API server's TLS certificate", who)
        configuration.verify_ssl = False
    secrets = [options.token] + [
        str(v).removeprefix("Bearer ") for v in configuration.api_key.values()
    ]
    return configuration, secrets
