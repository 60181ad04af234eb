"""The `home-idp` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import logging
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from home_idp.server import __version__

if TYPE_CHECKING:
    from home_idp.server.demo.flow import DemoSession

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from home_idp.server.app import create_app
    from home_idp.server.install.local_registry import registry_port_problem
    from home_idp.server.settings import Settings

    settings = Settings()
    # --host and --port are where webhooks (the registry's, the platform repo's)
    # must reach this server too.
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    try:
        listener = _listen(settings.host, settings.port)
    except PortTaken:
        print(
            f"home-idp: port {settings.port} on {settings.host} is taken by another program; "
            "stop it, or choose another port with HOME_IDP_PORT (or serve --port)",
            file=sys.stderr,
        )
        return 1
    with listener:
        # Before the app starts anything, so that nothing is left to stop.
        problem = asyncio.run(registry_port_problem(settings))
        if problem is not None:
            print(f"home-idp: {problem}", file=sys.stderr)
            return 1
        # After the checks: their errors are one line, without the probes' log.
        logging.basicConfig(
            level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                log_level=settings.log_level,
                proxy_headers=False,
                ws="websockets-sansio",
                # A websocket message is a request too: the same cap as an HTTP body
                # (uvicorn's default is 16 MiB).
                ws_max_size=settings.graphql.max_body_bytes,
            )
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[listener])
    # As uvicorn.run: a server whose start-up failed (it logged why) exits 3.
    return 0 if server.started else 3


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is no port (1-65535)")
    return port


class PortTaken(Exception):
    """Another program listens on the address the server was to listen on."""


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything starts (PortTaken if taken)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    # As uvicorn binds: a port left in TIME_WAIT by an earlier run is free.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise PortTaken from None
        raise
    # Listening at once: nothing else (the registry among them) can take the port now.
    listener.listen(2048)
    return listener


def _read_password(args: argparse.Namespace, *, repeat: bool = True) -> str:
    """From standard input (`--password-stdin`), else a prompt (twice when `repeat`)."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise SystemExit("home-idp: no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise SystemExit("home-idp: no terminal for the password prompt; use --password-stdin")
    first = getpass.getpass("Password: ")
    if repeat and first != getpass.getpass("Repeat password: "):
        raise SystemExit("home-idp: the passwords differ")
    return first


def _admin_create(args: argparse.Namespace) -> int:
    from home_idp.server import db
    from home_idp.server.errors import DomainError
    from home_idp.server.events import EventBus
    from home_idp.server.rbac.audit import AuditLog
    from home_idp.server.rbac.passwords import PasswordHashing
    from home_idp.server.rbac.roles import ensure_builtin_roles
    from home_idp.server.rbac.users import create_admin
    from home_idp.server.settings import Settings

    password = _read_password(args)
    settings = Settings()

    async def run() -> None:
        await db.open_database(settings)
        try:
            await ensure_builtin_roles()
            await create_admin(
                args.username,
                password,
                PasswordHashing(settings.auth.password_hashing),
                AuditLog(EventBus()),
            )
        finally:
            await db.close()

    try:
        asyncio.run(run())
    except DomainError as error:
        print(f"home-idp: {error.message}", file=sys.stderr)
        return 1
    print(f"created administrator {args.username!r}")
    return 0


def _admin_unlock(args: argparse.Namespace) -> int:
    from home_idp.server import db
    from home_idp.server.events import EventBus
    from home_idp.server.rbac.audit import AuditLog
    from home_idp.server.rbac.throttle import LoginThrottles
    from home_idp.server.settings import Settings

    settings = Settings()

    async def run() -> bool:
        await db.open_database(settings)
        try:
            throttles = LoginThrottles.from_settings(settings.auth)
            held = await throttles.per_username.forget(args.username)
            if held:
                await AuditLog(EventBus()).record(
                    "home-idp admin", "user.unlock", f"user:{args.username}"
                )
            return held
        finally:
            await db.close()

    if asyncio.run(run()):
        print(f"{args.username!r} may log in again at once")
    else:
        print(f"no failed logins were held against {args.username!r}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from home_idp.server.demo.assets import DemoError
    from home_idp.server.demo.flow import run_demo
    from home_idp.server.settings import Settings

    settings = Settings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # With a terminal attached, the release is watched in the dashboard.
    interactive = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    dashboard = _demo_dashboard if interactive else None
    try:
        return asyncio.run(run_demo(settings, headless=args.headless, dashboard=dashboard))
    except DemoError as error:
        print(f"home-idp demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _demo_dashboard(demo: DemoSession) -> None:
    import tempfile
    from pathlib import Path

    from home_idp.tui.app import HomeIdpApp
    from home_idp.tui.session import Session

    session = Session(demo.server_url, demo.username, "", "", 0).renewed(
        demo.access_token, demo.refresh_token, demo.expires_in
    )
    # The demo admin's session lives in a folder of its own, so the user's own
    # remembered session is neither replaced nor logged out; and the server's
    # log lines go to a file instead of over the dashboard.
    with tempfile.TemporaryDirectory(prefix="home-idp-demo-") as folder:
        log_file = Path(folder) / "server.log"
        handler = logging.FileHandler(log_file)
        # The root logger, and uvicorn's, which have handlers of their own.
        loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error")]
        earlier = [logger.handlers[:] for logger in loggers]
        for logger in loggers:
            logger.handlers = [handler]
        try:
            await HomeIdpApp(
                demo.server_url,
                config_dir=Path(folder),
                session=session,
                open_app=(demo.project, demo.app),
            ).run_async()
        finally:
            for logger, handlers in zip(loggers, earlier, strict=True):
                logger.handlers = handlers
            handler.close()


def _install(args: argparse.Namespace) -> int:
    from rich.console import Console

    from home_idp.server.install.cli import run_install
    from home_idp.server.settings import Settings

    settings = Settings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(
            run_install(settings, Console(), dry_run=args.dry_run, only=args.component or ())
        )
    except KeyboardInterrupt:
        return 130


def _tui(args: argparse.Namespace) -> int:
    from home_idp.tui.app import HomeIdpApp

    open_app = (args.project, args.app) if args.project and args.app else None
    dashboard = HomeIdpApp(args.server, open_app=open_app)
    dashboard.run()
    return dashboard.return_code or 0


def _client(args: argparse.Namespace) -> int:
    """The commands for scripts (login, releases, logs, rollback, deploy), through GraphQL."""
    from home_idp.tui import commands

    output = commands.Output(as_json=args.output == "json")
    if args.command == "login":
        password = _read_password(args, repeat=False)
        return commands.run(
            lambda gateway: commands.log_in(gateway, args.username, password, output),
            server=args.server,
            as_user=False,
        )
    path = args.app
    if args.command == "releases":
        return commands.run(
            lambda gateway: commands.show_releases(gateway, path, output), server=args.server
        )
    if args.command == "logs":
        return commands.run(
            lambda gateway: commands.show_logs(
                gateway, path, follow=args.follow, tail_lines=args.tail, output=output
            ),
            server=args.server,
        )
    if args.command == "deploy":
        # 1 says the release failed: bad input and a refused session exit 2 instead.
        return commands.run(
            lambda gateway: commands.deploy(
                gateway, path, ref=args.ref, wait=args.wait, output=output
            ),
            server=args.server,
            usage_code=2,
        )
    return commands.run(
        lambda gateway: commands.roll_back(gateway, path, args.number, output),
        server=args.server,
    )


def _server_url(text: str) -> str:
    from home_idp.tui.errors import BadServerAddress
    from home_idp.tui.server_address import server_address

    try:
        return server_address(text)
    except BadServerAddress as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _app_path(text: str) -> object:
    from home_idp.tui.commands import AppPath

    try:
        return AppPath.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """login, releases, logs, rollback and deploy: the API's client for scripts and CI."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--server",
        type=_server_url,
        help="the server's URL (default: $HOME_IDP_SERVER, else the dashboard's last one)",
    )
    where.add_argument(
        "--output", choices=("text", "json"), default="text", help="text for people, or JSON"
    )
    login = commands.add_parser(
        "login", parents=[where], help="log in, for the commands below and the dashboard"
    )
    login.add_argument("username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    login.set_defaults(func=_client)
    releases = commands.add_parser(
        "releases", parents=[where], help="an app's releases, newest first"
    )
    releases.add_argument("app", type=_app_path, help="<project>/<app>")
    releases.set_defaults(func=_client)
    logs = commands.add_parser("logs", parents=[where], help="the running app's output")
    logs.add_argument("app", type=_app_path, help="<project>/<app>")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "--tail", type=int, default=100, help="lines from the end of each (default 100)"
    )
    logs.set_defaults(func=_client)
    rollback = commands.add_parser(
        "rollback", parents=[where], help="run an earlier release's image again, as a new release"
    )
    rollback.add_argument("app", type=_app_path, help="<project>/<app>")
    rollback.add_argument("number", type=int, help="the release to go back to")
    rollback.set_defaults(func=_client)
    deploy = commands.add_parser(
        "deploy",
        parents=[where],
        help="build the newest commit of the app's branch (or --ref) and deploy it",
    )
    deploy.add_argument("app", type=_app_path, help="<project>/<app>")
    deploy.add_argument("--ref", help="a branch, tag or commit (default: the app's branch)")
    deploy.add_argument(
        "--wait",
        action="store_true",
        help="follow the release, printing each step; exit 0 if it succeeds, 1 if not",
    )
    deploy.set_defaults(func=_client)


def _schema_export(_: argparse.Namespace) -> int:
    from home_idp.schema.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="home-idp", description="home-idp developer platform")
    parser.add_argument("--version", action="version", version=f"home-idp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port to listen on (default 8080)")
    serve.set_defaults(func=_serve)

    admin = commands.add_parser("admin", help="administration").add_subparsers(
        dest="admin_command", required=True
    )
    create = admin.add_parser("create", help="create an administrator")
    create.add_argument("username")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(func=_admin_create)
    unlock = admin.add_parser(
        "unlock", help="let a user whose failed logins are being slowed down log in at once"
    )
    unlock.add_argument("username")
    unlock.set_defaults(func=_admin_unlock)

    demo = commands.add_parser("demo", help="set up local mode and release a demo app, end to end")
    demo.add_argument(
        "--headless",
        action="store_true",
        help="exit when the release ends (0 if it succeeded); the app keeps running",
    )
    demo.set_defaults(func=_demo)

    install = commands.add_parser(
        "install", help="install the profile's dependencies (Helm charts or the local registry)"
    )
    install.add_argument(
        "--dry-run",
        action="store_true",
        help="print the commands and values, change nothing",
    )
    install.add_argument(
        "--component", action="append", help="only this component (repeat for more)"
    )
    install.set_defaults(func=_install)

    tui = commands.add_parser("tui", help="open the terminal dashboard")
    tui.add_argument(
        "--server",
        type=_server_url,
        help="the server's URL (default: the last one, else http://127.0.0.1:8080)",
    )
    tui.add_argument("--project", help="open this project's app (with --app) once logged in")
    tui.add_argument("--app", help="the app to open")
    tui.set_defaults(func=_tui)

    _add_client_commands(commands)

    schema = commands.add_parser("schema", help="GraphQL schema").add_subparsers(
        dest="schema_command", required=True
    )
    schema.add_parser("export", help="print the schema as SDL").set_defaults(func=_schema_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
