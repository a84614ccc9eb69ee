"""``agentproc serve``: run the agent on uvicorn.

Every flag has an ``AGENTPROC_*`` environment variable; a flag wins over its variable.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from agentproc import settings as defaults
from agentproc.app import begin_shutdown, create_app
from agentproc.askpass import askpass_environment
from agentproc.manager import SHUTDOWN_SLACK_SECONDS
from agentproc.settings import Settings, default_state_dir

__all__ = [
    "DEFAULT_PORT",
    "AgentServer",
    "build_parser",
    "main",
    "openapi_document",
    "serve",
    "settings_from_args",
]

logger = logging.getLogger("agentproc")

DEFAULT_PORT = 7420
"""Any free port works; this one is merely easy to remember."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"AGENTPROC_{name}", default)


def _env_number(name: str, default: float | None) -> str | float | None:
    # Returned as text when set: argparse converts a string default with the option's type,
    # so a malformed variable is a usage error naming the option, not a traceback.
    return _env(name) or default


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``agentproc``."""
    parser = argparse.ArgumentParser(prog="agentproc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the process API on uvicorn")
    serve.add_argument(
        "--host",
        default=_env("HOST", "127.0.0.1"),
        help="address to bind (AGENTPROC_HOST; default 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=_env_number("PORT", DEFAULT_PORT),
        help=f"port to bind, 0 for any free one (AGENTPROC_PORT; default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--token", default=_env("TOKEN"), help="bearer token required on /api/ (AGENTPROC_TOKEN)"
    )
    serve.add_argument(
        "--workdir",
        type=Path,
        default=_env("WORKDIR"),
        help="default working directory (AGENTPROC_WORKDIR; falls back to $HOME)",
    )
    serve.add_argument(
        "--retention",
        type=float,
        default=_env_number("RETENTION_SECONDS", defaults.DEFAULT_RETENTION_SECONDS),
        help="seconds an exited process stays readable (AGENTPROC_RETENTION_SECONDS)",
    )
    serve.add_argument(
        "--max-running",
        type=int,
        default=_env_number("MAX_RUNNING", defaults.DEFAULT_MAX_RUNNING),
        help="running processes allowed at once (AGENTPROC_MAX_RUNNING)",
    )
    serve.add_argument(
        "--max-retained",
        type=int,
        default=_env_number("MAX_RETAINED", defaults.DEFAULT_MAX_RETAINED),
        help="exited processes kept at most, oldest forgotten first (AGENTPROC_MAX_RETAINED)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=_env_number("MAX_BODY_BYTES", defaults.DEFAULT_MAX_BODY_BYTES),
        help="largest request body (AGENTPROC_MAX_BODY_BYTES)",
    )
    serve.add_argument(
        "--max-command-bytes",
        type=int,
        default=_env_number("MAX_COMMAND_BYTES", defaults.DEFAULT_COMMAND_BYTES),
        help="longest command (AGENTPROC_MAX_COMMAND_BYTES)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=_env_number("SHUTDOWN_GRACE_SECONDS", defaults.DEFAULT_SHUTDOWN_GRACE_SECONDS),
        help="seconds between SIGTERM and SIGKILL at shutdown (AGENTPROC_SHUTDOWN_GRACE_SECONDS)",
    )
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=_env_number("DRAIN_SECONDS", defaults.DEFAULT_DRAIN_SECONDS),
        help="after a shell exits, how long to keep reading output a background child may "
        "still write (AGENTPROC_DRAIN_SECONDS)",
    )
    serve.add_argument(
        "--nice",
        type=int,
        default=_env_number("NICE", None),
        help="niceness of child processes (AGENTPROC_NICE)",
    )
    serve.add_argument(
        "--oom-score-adj",
        type=int,
        default=_env_number("OOM_SCORE_ADJ", None),
        help="oom_score_adj of child processes (AGENTPROC_OOM_SCORE_ADJ)",
    )
    serve.add_argument(
        "--env",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="variable injected into every child; repeatable",
    )
    serve.add_argument(
        "--no-reap-orphans",
        action="store_true",
        default=_env("REAP_ORPHANS", "1") in ("0", "false"),
        help="do not adopt and reap orphaned grandchildren (AGENTPROC_REAP_ORPHANS=0)",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=_env("STATE_DIR") or None,
        help="where the agent records the processes it starts, so that the next agent ends "
        "what a crashed one left (AGENTPROC_STATE_DIR; default $XDG_STATE_HOME/agentproc or "
        "~/.local/state/agentproc)",
    )
    serve.add_argument(
        "--git-askpass",
        action="store_true",
        default=_env("GIT_ASKPASS", "0") in ("1", "true"),
        help="answer git's credential prompts with the user's tokens from the control plane "
        "(AGENTPROC_GIT_ASKPASS=1); needs the two options below",
    )
    serve.add_argument(
        "--control-plane-url",
        default=_env("CONTROL_PLANE_URL"),
        help="the control plane's address, given to git as CODER_AGENT_URL "
        "(AGENTPROC_CONTROL_PLANE_URL)",
    )
    serve.add_argument(
        "--control-plane-token",
        default=_env("CONTROL_PLANE_TOKEN"),
        help="this agent's token at the control plane, given to git as CODER_AGENT_TOKEN "
        "(AGENTPROC_CONTROL_PLANE_TOKEN)",
    )
    serve.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (AGENTPROC_LOG_LEVEL)",
    )
    openapi = commands.add_parser("openapi", help="print the OpenAPI document (openapi.json)")
    openapi.add_argument("--output", type=Path, help="write to this file instead of stdout")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _child_env(args: argparse.Namespace) -> dict[str, str]:
    if not args.git_askpass:
        return dict(args.env)
    if not args.control_plane_url or not args.control_plane_token:
        raise SystemExit(
            "agentproc: --git-askpass needs --control-plane-url and --control-plane-token "
            "(or AGENTPROC_CONTROL_PLANE_URL and AGENTPROC_CONTROL_PLANE_TOKEN)."
        )
    try:
        askpass = askpass_environment(args.control_plane_url, args.control_plane_token)
    except FileNotFoundError as exc:
        raise SystemExit(f"agentproc: --git-askpass: {exc}") from exc
    # An explicit --env wins, as everywhere else.
    return {**askpass, **dict(args.env)}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Turn parsed ``serve`` arguments into :class:`Settings`; rejects unsafe combinations."""
    if not args.token and not _is_loopback(args.host):
        raise SystemExit(
            f"agentproc: refusing to listen on {args.host} without a token: anyone who can "
            "reach it could run commands. Pass --token (or AGENTPROC_TOKEN), or bind 127.0.0.1."
        )
    try:
        return _settings(args)
    except ValueError as exc:
        raise SystemExit(f"agentproc: {exc}") from exc


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        token=args.token or None,
        workdir=args.workdir,
        retention_seconds=args.retention,
        max_running=args.max_running,
        max_retained=args.max_retained,
        max_body_bytes=args.max_body_bytes,
        max_command_bytes=args.max_command_bytes,
        shutdown_grace_seconds=args.shutdown_grace,
        drain_seconds=args.drain_seconds,
        nice=args.nice,
        oom_score_adj=args.oom_score_adj,
        env=_child_env(args),
        reap_orphans=not args.no_reap_orphans,
        state_dir=args.state_dir,
    )


class AgentServer(uvicorn.Server):
    """uvicorn, told to stop the processes before it waits for open requests."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
                logger.info("process API at %s/api/v0/processes, docs at %s/docs", base, base)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        begin_shutdown(self._app)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the stop signal after a graceful shutdown, so the agent would die
        # of its own SIGTERM (status -15/143) even when every process was stopped cleanly.
        # A stop that was asked for and completed is a success: exit 0. (A private list of
        # uvicorn's; tests/agent/test_lifecycle.py fails if it stops working.)
        captured: list[int] | None = getattr(self, "_captured_signals", None)
        if captured is not None:
            captured.clear()


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    """Run the agent until SIGTERM or SIGINT, as the only program of this process.

    Unlike an app inside another program, it claims every orphan that comes to it and keeps
    records, in :func:`~agentproc.settings.default_state_dir` unless told otherwise.
    """
    state_dir = settings.state_dir or default_state_dir()
    app = create_app(dataclasses.replace(settings, owns_process=True, state_dir=state_dir))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=int(
            settings.shutdown_grace_seconds + settings.drain_seconds + SHUTDOWN_SLACK_SECONDS
        ),
    )
    AgentServer(config, app).run()


def openapi_document() -> str:
    """The OpenAPI document of the app, exactly as committed in ``openapi.json``."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``agentproc`` console script and ``python -m agentproc``."""
    args = build_parser().parse_args(argv)
    if args.command == "openapi":
        document = openapi_document()
        if args.output is None:
            sys.stdout.write(document)
        else:
            args.output.write_text(document)
        return
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = settings_from_args(args)
    serve(settings, args.host, args.port, args.log_level)
