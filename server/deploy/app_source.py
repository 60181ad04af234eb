"""An app's source repository as a build fetches it: checked, pinned, signed in.

Right before each build the source host is checked again (the answer of
its DNS may have changed since the app was saved) and the fetch is pinned
to the address that passed. The app's source credential, decrypted only
here, goes with it: a token for https, a deploy key for ssh. An ssh source
without a deploy key is refused rather than fetched with whatever keys the
server's own user has.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from home_idp.plugins.builder.contract import GitSource
from home_idp.server.apps.models import App
from home_idp.server.apps.source_credentials import source_secret, uses_ssh
from home_idp.server.apps.source_hosts import SourceHostPolicy, source_origin
from home_idp.server.secret_box import SecretBox

__all__ = ["BuildSource", "SourceNotUsable", "build_source"]


class SourceNotUsable(Exception):
    """The app's source cannot be fetched as it is set: the message says what to change."""


@dataclass(frozen=True)
class BuildSource:
    """The source a builder fetches, and every secret value its output must not show."""

    source: GitSource
    secrets: list[str] = field(default_factory=list, repr=False)


async def build_source(app: App, hosts: SourceHostPolicy, box: SecretBox) -> BuildSource:
    """The app's source for a build; ValidationFailed when its host is refused,
    UnresolvableSource when it has no address now, SourceNotUsable otherwise."""
    resolved = await hosts.resolve(app.source_repo)
    secret = await source_secret(app.id, box)
    if secret is not None and secret.origin != source_origin(app.source_repo):
        # A credential goes only where it was set for: a changed URL must not
        # carry a token (that its editor could not read) to a host of their choosing.
        raise SourceNotUsable(
            f"the source credential was set for {secret.origin}, not this source: "
            "set it again (setSourceCredential)"
        )
    # A password saved in the URL before such URLs were refused: masked still.
    legacy = [value for value in (urlsplit(app.source_repo).password,) if value]
    source = GitSource(app.source_repo, app.source_ref, app.context_path, address=resolved.address)
    if uses_ssh(app.source_repo):
        if secret is None or secret.ssh_private_key is None:
            raise SourceNotUsable(
                "the source is fetched over ssh and the app has no deploy key: set one "
                "(setSourceCredential); home-idp never uses this machine's own ssh keys"
            )
        source = replace(
            source, ssh_key=secret.ssh_private_key, ssh_known_hosts=secret.ssh_known_hosts
        )
    elif secret is not None and secret.token is not None:
        source = replace(source, username=secret.username, password=secret.token)
    return BuildSource(source, [*(secret.secret_values if secret else []), *legacy])
