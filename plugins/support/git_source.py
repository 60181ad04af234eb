"""How git reaches a source repository safely: the environment and URL of a fetch.

Everything a fetch needs goes through git's environment, never its command
line (which `ps` shows) and never this machine's own configuration:

- `base_env`: nothing of the server's environment but PATH; no user or
  system git config, no prompts;
- `git_env`: a token as an extra HTTP header, an ssh source's deploy key and
  nothing else, redirects refused, and the connection pinned to the address
  the host was checked at (`GitSource.address`);
- `fetch_url`: a git:// URL pointed at that address itself.

Builders use these to fetch what they build, the server to look at a source
without building it.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from home_idp.plugins.builder.contract import GitSource
from home_idp.plugins.support.git_isolation import isolated_git_env

__all__ = [
    "UNREACHABLE",
    "base_env",
    "fetch_url",
    "fetched_names",
    "git_env",
    "host_and_port",
    "ssh_command",
]

# git's words for a server it could not reach, as opposed to a ref it refused.
UNREACHABLE = re.compile(
    r"could not resolve host|connection refused|connection timed out|failed to connect|"
    r"unable to access|connection reset|502|503|504",
    re.IGNORECASE,
)


def base_env() -> dict[str, str]:
    """The whole environment of a git (or build) command, before its own additions."""
    # Nothing of the server's environment leaks into a fetch but PATH.
    return {**isolated_git_env(), "HOME": "/nonexistent"}


def git_env(source: GitSource, ssh_dir: Path) -> dict[str, str]:
    """How git fetches `source`, in its environment only: credentials as an extra
    HTTP header, a deploy key for ssh, and the connection pinned to the checked
    address.

    A deploy key is written to `ssh_dir` (made here, mode 0700), which the
    caller removes with the rest of its work dir.
    """
    # A redirect would lead the fetch to a host nobody checked.
    config: list[tuple[str, str]] = [("http.followRedirects", "false")]
    if source.password:
        basic = base64.b64encode(f"{source.username or 'x'}:{source.password}".encode()).decode()
        config.append((f"http.{source.url}.extraHeader", f"Authorization: Basic {basic}"))
    host, port = host_and_port(source.url)
    if source.address and host and "://" in source.url and source.url.startswith("http"):
        address = f"[{source.address}]" if ":" in source.address else source.address
        config.append(("http.curloptResolve", f"{host}:{port}:{address}"))
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for number, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    env["GIT_SSH_COMMAND"] = ssh_command(source, host, ssh_dir)
    return env


def ssh_command(source: GitSource, host: str, ssh_dir: Path) -> str:
    """ssh with the source's deploy key and nothing of this machine's: no config,
    no agent, no keys from the server user's ~/.ssh."""
    options = [
        "-F", os.devnull,
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
    ]  # fmt: skip
    if source.ssh_key:
        ssh_dir.mkdir(mode=0o700)
        key = ssh_dir / "deploy-key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(source.ssh_key)
        known_hosts = ssh_dir / "known_hosts"
        known_hosts.write_text(source.ssh_known_hosts or "")
        # Known host keys are enforced; without them the key is taken on first use.
        checking = "yes" if source.ssh_known_hosts else "accept-new"
        options += [
            "-o", f"IdentityFile={key}",
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", f"StrictHostKeyChecking={checking}",
        ]  # fmt: skip
    else:
        # No key of the source's own: ssh gets none at all.
        options += ["-o", "IdentityFile=none", "-o", "PubkeyAuthentication=no"]
    if source.address and host:
        options += ["-o", f"HostName={source.address}", "-o", f"HostKeyAlias={host}"]
    return shlex.join(["ssh", *options])


def fetched_names(ref: str) -> list[str]:
    """Where a ref can be found after fetching every branch (as origin's) and tag."""
    for prefix, fetched_as in (
        ("refs/heads/", "refs/remotes/origin/"),
        ("refs/tags/", "refs/tags/"),
    ):
        if ref.startswith(prefix):
            return [fetched_as + ref.removeprefix(prefix)]
    return [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref]


def fetch_url(source: GitSource) -> str:
    """The URL git fetches: a git:// URL goes to the checked address itself (the
    git protocol has no other way to pin one; http and ssh are pinned in `git_env`)."""
    parts = urlsplit(source.url)
    if "://" not in source.url or parts.scheme != "git" or not source.address:
        return source.url
    address = f"[{source.address}]" if ":" in source.address else source.address
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{address}{port}").geturl()


def host_and_port(url: str) -> tuple[str, int]:
    """The host and port a source URL (or scp-like user@host:path) connects to."""
    if "://" not in url:
        return url.partition("@")[2].partition(":")[0], 22
    parts = urlsplit(url)
    default = {"https": 443, "http": 80, "ssh": 22, "git": 9418}.get(parts.scheme, 443)
    try:
        return parts.hostname or "", parts.port or default
    except ValueError:
        return parts.hostname or "", default
