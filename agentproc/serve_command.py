"""``agentproc serve``: its options, the checks that turn them into :class:`Settings`, and
the run.

Every option is a row of :data:`SERVE_OPTIONS`: a flag and, for most, an ``AGENTPROC_*``
environment variable; a flag wins over its variable. A malformed value, from either, is a
usage error naming it (exit status 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentproc import settings as defaults
from agentproc.askpass.environment import askpass_environment
from agentproc.options import (
    LOG_LEVELS,
    Option,
    UsageError,
    add_options,
    boolean,
    choice,
    http_url,
    integer,
    key_value,
    log_to_stderr,
    number,
    origin,
    path,
    port,
    read_token,
    secret,
    source_of,
    text,
)
from agentproc.settings import ANY_HOST, DEFAULT_PORT, InvalidSettings, Settings
from agentproc.speedups import (
    AUTO,
    HTTP_CHOICES,
    HTTP_VARIABLE,
    LOOP_CHOICES,
    LOOP_VARIABLE,
    event_loop,
    http_parser,
)
from agentsdk.wire import CONTROL_PLANE_TOKEN_VARIABLE, TOKEN_VARIABLE

__all__ = ["SERVE_OPTIONS", "add_serve_command", "run_serve", "settings_from_args"]

SERVE_OPTIONS: tuple[Option, ...] = (
    # Where to listen.
    Option("--host", "AGENTPROC_HOST", text, "127.0.0.1",
           "address to bind; anything but loopback requires a token"),
    Option("--port", "AGENTPROC_PORT", port, DEFAULT_PORT, "port to bind, 0 for any free one"),
    Option("--uds", "AGENTPROC_UDS", path, None,
           "serve on this Unix socket (mode 0600) instead of TCP; excludes --host and --port",
           metavar="PATH", shown_default="none, TCP"),
    # Who may use it.
    Option("--token", TOKEN_VARIABLE, secret, None, "bearer token required on /api/",
           shown_default="none, no token (loopback only)"),
    Option("--token-file", "AGENTPROC_TOKEN_FILE", path, None,
           "read the bearer token from this file (trimmed), so no argv or environment shows it",
           metavar="PATH"),
    Option("--allowed-host", "AGENTPROC_ALLOWED_HOSTS", text, [],
           "a name the Host header may carry besides IP addresses and localhost; repeatable; "
           f"{ANY_HOST!r} accepts any name and needs a token",
           dest="allowed_hosts", repeat=True, metavar="NAME"),
    Option("--allowed-origin", "AGENTPROC_ALLOWED_ORIGINS", origin, [],
           "a web origin (scheme://host[:port]) that may call the API besides the agent's own; "
           "repeatable", dest="allowed_origins", repeat=True, metavar="ORIGIN"),
    # What processes get and keep.
    Option("--workdir", "AGENTPROC_WORKDIR", path, None,
           "working directory of processes that name none (must exist)",
           metavar="DIR", shown_default="$HOME"),
    Option("--retention", "AGENTPROC_RETENTION_SECONDS", number,
           defaults.DEFAULT_RETENTION_SECONDS, "seconds an exited process stays readable",
           dest="retention_seconds", metavar="SECONDS"),
    Option("--max-running", "AGENTPROC_MAX_RUNNING", integer, defaults.DEFAULT_MAX_RUNNING,
           "running processes allowed at once"),
    Option("--max-retained", "AGENTPROC_MAX_RETAINED", integer, defaults.DEFAULT_MAX_RETAINED,
           "exited processes kept at most, oldest forgotten first"),
    Option("--max-body-bytes", "AGENTPROC_MAX_BODY_BYTES", integer,
           defaults.DEFAULT_MAX_BODY_BYTES, "largest request body"),
    Option("--max-command-bytes", "AGENTPROC_MAX_COMMAND_BYTES", integer,
           defaults.DEFAULT_COMMAND_BYTES, "longest command"),
    Option("--max-input-bytes", "AGENTPROC_MAX_INPUT_BYTES", integer,
           defaults.DEFAULT_MAX_INPUT_BYTES,
           "input queued for one process and not yet read by it, at most"),
    Option("--output-window-bytes", "AGENTPROC_OUTPUT_WINDOW_BYTES", integer,
           defaults.DEFAULT_OUTPUT_WINDOW_BYTES,
           "newest output of each process kept for cursor reads and streams (at least 16384)"),
    Option("--output-budget-bytes", "AGENTPROC_OUTPUT_BUDGET_BYTES", integer,
           defaults.DEFAULT_OUTPUT_BUDGET_BYTES,
           "what the output windows of all processes may hold together; past it, the windows "
           "of the longest-exited processes shrink to their 16 KiB tails first"),
    Option("--scrollback-lines", "AGENTPROC_SCROLLBACK_LINES", integer,
           defaults.DEFAULT_SCROLLBACK_LINES,
           "lines that scrolled off the top of a terminal's screen kept per process"),
    Option("--shutdown-grace", "AGENTPROC_SHUTDOWN_GRACE_SECONDS", number,
           defaults.DEFAULT_SHUTDOWN_GRACE_SECONDS,
           "seconds between SIGTERM and SIGKILL at shutdown",
           dest="shutdown_grace_seconds", metavar="SECONDS"),
    Option("--drain-seconds", "AGENTPROC_DRAIN_SECONDS", number,
           defaults.DEFAULT_DRAIN_SECONDS,
           "after a shell exits, how long to keep reading output a background child may "
           "still write", metavar="SECONDS"),
    Option("--nice", "AGENTPROC_NICE", integer, None, "niceness of child processes (-20 to 19)",
           shown_default="unchanged"),
    Option("--oom-score-adj", "AGENTPROC_OOM_SCORE_ADJ", integer, None,
           "oom_score_adj of child processes (-1000 to 1000)", shown_default="unchanged"),
    Option("--env", None, key_value, [], "variable injected into every child; repeatable",
           repeat=True, metavar="KEY=VALUE"),
    Option("--state-dir", "AGENTPROC_STATE_DIR", path, None,
           "where the agent records the processes it starts, so that the next agent ends what "
           "a crashed one left", metavar="DIR",
           shown_default="$XDG_STATE_HOME/agentproc, else ~/.local/state/agentproc"),
    Option("--no-reap-orphans", "AGENTPROC_REAP_ORPHANS", boolean, True,
           "do not adopt and reap orphaned grandchildren", dest="reap_orphans", sets=False,
           shown_default="reap them"),
    # Connections.
    Option("--header-timeout", "AGENTPROC_HEADER_TIMEOUT_SECONDS", number,
           defaults.DEFAULT_HEADER_TIMEOUT_SECONDS,
           "seconds a connection may take to send its request headers before it is closed",
           dest="header_timeout_seconds", metavar="SECONDS"),
    Option("--max-connections", "AGENTPROC_MAX_CONNECTIONS", integer,
           defaults.DEFAULT_MAX_CONNECTIONS,
           "open connections at most (and at most a quarter of the open-file limit)"),
    # Git credentials.
    Option("--git-askpass", "AGENTPROC_GIT_ASKPASS", boolean, False,
           "answer git's credential prompts with the user's tokens from the control plane; "
           "needs the two options below", sets=True),
    Option("--control-plane-url", "AGENTPROC_CONTROL_PLANE_URL", http_url, None,
           "the control plane's address, given to git as CODER_AGENT_URL", metavar="URL"),
    Option("--control-plane-token", CONTROL_PLANE_TOKEN_VARIABLE, secret, None,
           "this agent's token at the control plane, given to git as CODER_AGENT_TOKEN",
           metavar="TOKEN"),
    # More to serve.
    Option("--mcp", "AGENTPROC_MCP", boolean, False,
           "also serve the chat tools over MCP (streamable HTTP) at /mcp, behind the token; "
           "needs agentproc[mcp]", sets=True),
    Option("--log-level", "AGENTPROC_LOG_LEVEL", choice(*LOG_LEVELS), "info",
           f"log level: {', '.join(LOG_LEVELS)}", metavar="LEVEL"),
    Option("--access-log", "AGENTPROC_ACCESS_LOG", boolean, False,
           "log a line per request (always at --log-level debug)", sets=True),
    # How it serves.
    Option("--http", HTTP_VARIABLE, http_parser, AUTO,
           f"HTTP parser: {', '.join(HTTP_CHOICES)} (httptools when installed, else h11)",
           metavar="PARSER"),
    Option("--loop", LOOP_VARIABLE, event_loop, AUTO,
           f"event loop: {', '.join(LOOP_CHOICES)} (uvloop when installed, else asyncio)"),
)  # fmt: skip
"""The options of ``agentproc serve``. ``dest`` names the :class:`Settings` field an option
fills; options with no such field (where to listen, the token file, git) are read below."""

OPTIONS_BY_NAME: Mapping[str, Option] = {option.name: option for option in SERVE_OPTIONS}

SETTINGS_FIELDS = frozenset(field.name for field in dataclasses.fields(Settings))

SERVE_DESCRIPTION = """\
Serve the process API (/api/v0/processes), /healthz, /openapi.json and the docs
page (/docs) until SIGTERM or SIGINT, then stop every process it started.
Without a token it listens on loopback only.
"""


def add_serve_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], summary: str
) -> None:
    """Add ``agentproc serve`` to the command line's subcommands, with ``summary`` as its
    line in ``agentproc --help``."""
    parser = commands.add_parser(
        "serve",
        help=summary,
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(parser, SERVE_OPTIONS, os.environ)


def _source(args: argparse.Namespace, name: str) -> str:
    return source_of(args, OPTIONS_BY_NAME[name], os.environ)


def _given(args: argparse.Namespace, name: str) -> bool:
    variable = OPTIONS_BY_NAME[name].variable
    return name in args.flags_given or (variable is not None and variable in os.environ)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(args: argparse.Namespace) -> str | None:
    return read_token(args, OPTIONS_BY_NAME["token"], OPTIONS_BY_NAME["token_file"], os.environ)


def _check_listen(args: argparse.Namespace, token: str | None) -> None:
    if args.uds is not None:
        for name in ("host", "port"):
            if _given(args, name):
                raise UsageError(
                    f"{_source(args, 'uds')}: a Unix socket has no {name}; "
                    f"drop {_source(args, name)}"
                )
        _check_socket_path(args.uds, _source(args, "uds"))
    elif token is None and not _is_loopback(args.host):
        raise UsageError(
            f"{_source(args, 'host')}: refusing to listen on {args.host} without a token: "
            "anyone who can reach it could run commands. Pass --token-file (or --token), or "
            "bind 127.0.0.1."
        )


def _check_socket_path(uds: Path, where: str) -> None:
    if not uds.parent.is_dir():
        raise UsageError(f"{where}: {uds.parent} is not a directory")
    try:
        mode = uds.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{where}: {uds} exists and is not a socket")


def _check_workdir(args: argparse.Namespace) -> None:
    workdir: Path | None = args.workdir
    if workdir is None:
        return
    if not workdir.exists():
        raise UsageError(f"{_source(args, 'workdir')}: {workdir} does not exist")
    if not workdir.is_dir():
        raise UsageError(f"{_source(args, 'workdir')}: {workdir} is not a directory")


def _child_env(args: argparse.Namespace) -> dict[str, str]:
    if not args.git_askpass:
        return dict(args.env)
    if not args.control_plane_url or not args.control_plane_token:
        raise UsageError(
            f"{_source(args, 'git_askpass')} needs --control-plane-url and "
            "--control-plane-token (or AGENTPROC_CONTROL_PLANE_URL and "
            "AGENTPROC_CONTROL_PLANE_TOKEN)."
        )
    try:
        askpass = askpass_environment(args.control_plane_url, args.control_plane_token)
    except FileNotFoundError as exc:
        raise UsageError(f"{_source(args, 'git_askpass')}: {exc}") from exc
    # An explicit --env wins, as everywhere else.
    return {**askpass, **dict(args.env)}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Turn parsed ``serve`` arguments into :class:`Settings`.

    Raises:
        UsageError: a refused value or combination (a non-loopback host without a token, two
            tokens, a missing working directory, ...), naming the flag or variable at fault.
    """
    token = _token(args)
    _check_listen(args, token)
    _check_workdir(args)
    # Repeatable options collect lists; Settings keeps them as tuples.
    fields: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value
        for name in OPTIONS_BY_NAME
        if name in SETTINGS_FIELDS
        for value in (getattr(args, name),)
    }
    if args.mcp:
        try:
            import chattool.mcp  # noqa: F401 - optional: the mcp extra
        except ImportError as exc:
            raise UsageError(f"{_source(args, 'mcp')}: {exc}") from None
    try:
        return Settings(**{**fields, "token": token, "env": _child_env(args)})
    except InvalidSettings as exc:
        raise UsageError(
            "\n".join(f"{_source(args, name)}: {reason}" for name, reason in exc.problems)
        ) from None


def run_serve(args: argparse.Namespace) -> None:
    """Serve the agent until SIGTERM or SIGINT, as the parsed ``serve`` arguments say.

    Raises:
        UsageError: a refused value or combination, or an address the agent cannot listen on,
            naming the flag or variable at fault.
    """
    # The web stack (FastAPI, uvicorn) is imported here, not with this module: `agentproc
    # mcp`, which an MCP host starts for each of its sessions, needs none of it, and importing
    # it took a fifth of that command's start.
    from agentproc.listen import ListenFailed
    from agentproc.server import serve

    settings = settings_from_args(args)
    log_to_stderr(args.log_level)
    try:
        serve(
            settings,
            args.host,
            args.port,
            args.log_level,
            uds=args.uds,
            http=args.http,
            loop=args.loop,
            access_log=args.access_log,
        )
    except ListenFailed as exc:
        raise UsageError(f"{_source(args, exc.setting)}: {exc.reason}") from None
