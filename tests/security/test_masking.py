"""One masker for the server and every plugin: no form of a secret survives in what they show."""

from __future__ import annotations

import base64
from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from home_idp.plugins.builder import kaniko
from home_idp.plugins.deployer import argocd, container
from home_idp.plugins.git import github
from home_idp.plugins.installer import helm
from home_idp.plugins.registry import harbor
from home_idp.plugins.support.kube_api import KubeApi
from home_idp.plugins.support.masking import MASK, MIN_MASKED_LENGTH
from home_idp.server.secret_box import mask_secrets

# Secrets worth masking: long enough, and not made only of the mask's own
# character (such a value cannot be told from a mask).
secret_values = st.text(min_size=MIN_MASKED_LENGTH, max_size=40).filter(
    lambda s: (
        s.strip()
        and s.strip(MASK[0])
        and all(len(line) >= MIN_MASKED_LENGTH and line.strip() for line in s.splitlines())
    )
)
surrounding = st.text(max_size=30)


def forms_of(secret: str) -> dict[str, str]:
    """The forms a secret takes in logs and messages, named for the failure report."""
    raw = secret.encode()
    forms = {
        "plain": secret,
        "base64": base64.b64encode(raw).decode(),
        "base64 url-safe": base64.urlsafe_b64encode(raw).decode(),
        # A registry auth string: the secret inside a longer encoded value.
        "base64 inside user:secret": base64.b64encode(b"user:" + raw).decode(),
        "url-encoded": quote(secret, safe=""),
        "url-encoded with +": quote_plus(secret),
    }
    for n, line in enumerate(secret.splitlines()):
        forms[f"line {n}"] = line
    return forms


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(secret=secret_values, before=surrounding, after=surrounding)
def test_no_form_of_a_secret_survives_the_servers_masker(
    secret: str, before: str, after: str
) -> None:
    for name, form in forms_of(secret).items():
        masked = mask_secrets(before + form + after, [secret])
        assert form not in masked, (name, form, masked)


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(secret=secret_values, before=surrounding, after=surrounding)
def test_every_form_at_once_is_masked(secret: str, before: str, after: str) -> None:
    forms = forms_of(secret)
    text = before + " ".join(forms.values()) + after
    masked = mask_secrets(text, [secret])
    assert not [name for name, form in forms.items() if form in masked], masked


def test_a_pem_key_is_masked_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASC\nAUAwggE8AgEAAkEAq7BFUpkGp3\n-----END KEY-----"
    log = "line: AUAwggE8AgEAAkEAq7BFUpkGp3 and MIIBVgIBADANBgkqhkiG9w0BAQEFAASC"
    assert mask_secrets(log, [key]) == f"line: {MASK} and {MASK}"


def test_short_values_are_left_alone() -> None:
    # Masking "ab" would blank out half of every log line and hide nothing.
    assert mask_secrets("abc ab YWJj", ["abc", "ab"]) == "abc ab YWJj"


SECRET = "hunter2:pa ss/word"

# How each plugin masks the text it shows (error messages, build and app logs).
PLUGIN_MASKERS: dict[str, Callable[[str], str]] = {
    "container deployer": lambda text: container._mask(text, [SECRET]),
    "kubernetes deployer": lambda text: KubeApi.mask(
        SimpleNamespace(secrets=(SECRET,)),  # type: ignore[arg-type]
        text,
    ),
    "argocd deployer": lambda text: str(
        argocd.ArgoCDDeployer._error(
            SimpleNamespace(_token=SECRET),  # type: ignore[arg-type]
            400,
            {"message": text},
            "syncing",
        )
    ),
    "kaniko builder": lambda text: kaniko._Api.mask(
        SimpleNamespace(secrets=(SECRET,)),  # type: ignore[arg-type]
        text,
    ),
    "github git": lambda text: github.GitHubGit._mask(
        SimpleNamespace(_token=SECRET),  # type: ignore[arg-type]
        text,
    ),
    "harbor registry": lambda text: harbor.HarborRegistry._mask(
        SimpleNamespace(_password=SECRET),  # type: ignore[arg-type]
        text,
    ),
    "helm installer": lambda text: helm._masked(text, {"adminPassword": SECRET}),
}


@pytest.mark.parametrize("plugin", sorted(PLUGIN_MASKERS))
@pytest.mark.parametrize("form", sorted(forms_of(SECRET)))
def test_every_plugin_masks_every_form(plugin: str, form: str) -> None:
    value = forms_of(SECRET)[form]
    shown = PLUGIN_MASKERS[plugin](f"failed: {value} (retry)")
    assert value not in shown, shown
    # One mask everywhere, so a reader learns one sign for "hidden".
    assert MASK in shown, shown
