"""Serving the agent as a program of its own, on uvicorn, over TCP or a Unix socket.

:func:`serve` is what ``agentproc serve`` runs once its command line
(``agentproc.serve_command``) has become :class:`~agentproc.settings.Settings`: it raises the
open-file limit, derives the connection cap and listen backlog from it, guards uvicorn's HTTP
protocol against idle and slow connections (``agentproc.connections``), and runs
:class:`AgentServer` until SIGTERM or SIGINT. :class:`AgentServer` is uvicorn, told to stop
the processes before it waits for open requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import socket
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import uvicorn
from fastapi import FastAPI

from agentproc.app import begin_shutdown, create_app
from agentproc.connections import (
    PARSER_HEADER_BYTES,
    ConnectionGuard,
    connection_budget,
    guarded_http_protocol,
    raise_open_file_limit,
)
from agentproc.listen import listener
from agentproc.manager import SHUTDOWN_SLACK_SECONDS
from agentproc.settings import DEFAULT_PORT, Settings, default_state_dir
from agentproc.speedups import AUTO, event_loop, http_parser
from agentsdk.wire import API_PREFIX

__all__ = ["AgentServer", "protocol_options", "serve"]

logger = logging.getLogger("agentproc")

UNREAD_CHECK_SECONDS = 0.25
"""During shutdown, how often connections are checked for answers their client never reads."""


class AgentServer(uvicorn.Server):
    """uvicorn, told to stop the processes before it waits for open requests."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                if sock.family == socket.AF_UNIX:
                    logger.info(
                        "process API on unix socket %s at %s, docs at /docs",
                        sock.getsockname(),
                        API_PREFIX,
                    )
                    continue
                host, port = sock.getsockname()[:2]
                base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
                logger.info("process API at %s%s, docs at %s/docs", base, API_PREFIX, base)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        begin_shutdown(self._app)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._abort_unread_connections)
            await super().shutdown(sockets)
            tg.cancel_scope.cancel()

    async def _abort_unread_connections(self) -> None:
        # A connection closed with bytes its client never reads (an output stream whose
        # reader stopped reading) stays open until they go out, and uvicorn waits for every
        # connection to close: drop such bytes rather than wait out the graceful timeout.
        while True:
            await anyio.sleep(UNREAD_CHECK_SECONDS)
            for connection in list(self.server_state.connections):
                transport: asyncio.Transport | None = getattr(connection, "transport", None)
                if (
                    transport is not None
                    and transport.is_closing()
                    and transport.get_write_buffer_size()
                ):
                    logger.warning("dropping an answer its client does not read, to shut down")
                    transport.abort()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the stop signal after a graceful shutdown, so the agent would die
        # of its own SIGTERM (status -15/143) even when every process was stopped cleanly.
        # A stop that was asked for and completed is a success: exit 0. (A private list of
        # uvicorn's; tests/agent/test_lifecycle.py fails if it stops working.)
        captured: list[int] | None = getattr(self, "_captured_signals", None)
        if captured is not None:
            captured.clear()


def protocol_options(guard: ConnectionGuard, http: str, loop: str) -> dict[str, Any]:
    """The ``uvicorn.Config`` options that make a server speak as the agent does: the HTTP
    parser ``http`` behind ``guard``, headers bounded, the event loop ``loop``, no WebSocket.

    ``http`` and ``loop`` name installed implementations (:func:`http_parser`,
    :func:`event_loop`).
    """
    return {
        "http": guarded_http_protocol(guard, http),
        "h11_max_incomplete_event_size": PARSER_HEADER_BYTES,
        "loop": loop,
        # No route is a WebSocket: loading an implementation cost 20 ms of every start, and
        # an older uvicorn beside a newer websockets warns of its deprecated API.
        "ws": "none",
    }


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    log_level: str = "info",
    *,
    uds: Path | None = None,
    http: str = AUTO,
    loop: str = AUTO,
    access_log: bool = False,
) -> None:
    """Run the agent until SIGTERM or SIGINT, on ``host``:``port`` or on the Unix socket
    ``uds`` (created with mode 0600, removed at exit), as the only program of this process.

    Unlike an app inside another program, it claims every orphan that comes to it and keeps
    records, in :func:`~agentproc.settings.default_state_dir` unless told otherwise.

    Args:
        settings: the agent's configuration.
        host: the address to bind.
        port: the port to bind, 0 for any free one.
        log_level: the level of uvicorn's and the agent's log.
        uds: a Unix socket to listen on instead of TCP.
        http: the HTTP parser (:mod:`agentproc.speedups`): ``auto``, ``httptools`` or ``h11``.
        loop: the event loop: ``auto``, ``uvloop`` or ``asyncio``.
        access_log: log a line per request; always on at ``debug`` level. Off by default: a
            busy agent answers thousands of requests a second, and each line costs as much as
            a tenth of a request.

    Raises:
        ListenFailed: the agent could not listen there; names the setting at fault.
        ValueError: ``http`` or ``loop`` names an implementation that is not installed.
    """
    open_files = raise_open_file_limit()
    budget = connection_budget(settings.max_connections, open_files)
    if budget.max_connections < settings.max_connections:
        logger.warning(
            "at most %d open connections, not %d: the open-file limit is %d",
            budget.max_connections,
            settings.max_connections,
            open_files,
        )
    guard = ConnectionGuard(
        header_timeout=settings.header_timeout_seconds, max_connections=budget.max_connections
    )
    state_dir = settings.state_dir or default_state_dir()
    app = create_app(dataclasses.replace(settings, owns_process=True, state_dir=state_dir))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        **protocol_options(guard, http_parser(http), event_loop(loop)),
        backlog=budget.backlog,
        log_level=log_level,
        access_log=access_log or log_level == "debug",
        lifespan="on",
        timeout_graceful_shutdown=int(
            settings.shutdown_grace_seconds + settings.drain_seconds + SHUTDOWN_SLACK_SECONDS
        ),
    )
    server = AgentServer(config, app)
    # What exists now (modules, the app, its routes and schemas) lives as long as the
    # process: frozen, a full garbage collection no longer walks it, which under load stopped
    # the event loop for tens of milliseconds each time. Collected first, so that no garbage
    # is frozen with it.
    gc.collect()
    gc.freeze()
    # Bound here, before the app starts, so that an address the agent cannot have is a
    # ListenFailed naming the setting (agentproc.listen), not a log line of uvicorn's.
    with listener(host, port, uds, budget.backlog) as sock:
        server.run(sockets=[sock])
