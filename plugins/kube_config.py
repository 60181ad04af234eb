"""How plugins that talk to a Kubernetes API server find it: one set of options.

`api_url` + `token` (+ `ca_file`), or a `kubeconfig` path (and `kube_context`),
or the in-cluster service account; `verify_tls` "false" turns certificate
checks off (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

__all__ = ["client_configuration"]

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def client_configuration(
    options: Mapping[str, str], who: str, error: type[Exception]
) -> tuple[k8s.Configuration, list[str]]:
    """The client configuration the options ask for, and the secrets in it to mask.

    `who` names the plugin in messages ("the kaniko builder"); problems are
    raised as `error` and never carry the token.
    """
    configuration = k8s.Configuration()
    api_url, token = options.get("api_url", "").strip(), options.get("token", "")
    try:
        if api_url:
            if not api_url.startswith(("https://", "http://")):
                raise error(f"{who}'s `api_url` must be an http(s) URL")
            if not token:
                raise error(f"{who} needs `token` with `api_url`")
            configuration.host = api_url.rstrip("/")
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
            if options.get("ca_file"):
                configuration.ssl_ca_cert = options["ca_file"]
        elif options.get("kubeconfig"):
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=options["kubeconfig"],
                context=options.get("kube_context") or None,
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
    verify = options.get("verify_tls", "").strip().lower()
    if verify in _FALSE:
        log.warning("%s does not verify the API server's TLS certificate", who)
        configuration.verify_ssl = False
    elif verify not in _TRUE | {""}:
        raise error(f"{who}'s `verify_tls` must be true or false")
    secrets = [token] + [str(v).removeprefix("Bearer ") for v in configuration.api_key.values()]
    return configuration, secrets
