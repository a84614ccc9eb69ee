"""Shared fixtures: apps, the agent among them, on uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from agentproc.app import create_app
from agentproc.cli import AgentServer
from agentproc.settings import Settings

TEST_TOKEN = "test-token"
SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: startup, shutdown and calls on the loop each end on an event first."""


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio, which is what uvicorn serves on."""
    return "asyncio"


@dataclass(frozen=True)
class LiveAgent:
    """A running agent: where it listens and how to authenticate."""

    base_url: str
    token: str | None
    settings: Settings
    open_requests: Callable[[], int]
    """How many requests the server is handling right now (uvicorn's task count)."""

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for this agent (empty when it has no token)."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A plain httpx client for this agent, authenticated."""
        return httpx.Client(
            base_url=self.base_url, headers={**self.headers, **(headers or {})}, timeout=30
        )


@dataclass(frozen=True)
class ServedApp:
    """An ASGI app served by uvicorn in a background thread of the test process."""

    base_url: str
    """``http://127.0.0.1:<port>``."""

    loop: asyncio.AbstractEventLoop
    """The server's event loop, where the app's tasks live."""

    open_requests: Callable[[], int]
    """How many requests the server is handling right now (uvicorn's task count)."""

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run ``function`` on the server's event loop and wait until it has run."""

        async def call() -> None:
            function()

        asyncio.run_coroutine_threadsafe(call(), self.loop).result(SAFETY_TIMEOUT_SECONDS)


class _ReadyServer(AgentServer):
    # Tells the test thread when the lifespan ran and the socket listens, and on which loop.
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config, app)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[ServedApp]:
    """Serve ``app`` (lifespan included) on 127.0.0.1, a free port, until the block ends.

    The server is the agent's own :class:`~agentproc.cli.AgentServer`, so an agent app stops
    its processes before open requests are drained, as in production; for any other app its
    shutdown hook does nothing. The caller keeps ``app`` and can act on it through
    :meth:`ServedApp.call_soon` (e.g. ``agentproc.app.begin_shutdown(app)``).
    """
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = _ReadyServer(config, app)
    thread = threading.Thread(target=server.run, name="served-app", daemon=True)
    thread.start()
    if not server.ready.wait(SAFETY_TIMEOUT_SECONDS) or not server.started:
        server.should_exit = True
        thread.join(SAFETY_TIMEOUT_SECONDS)
        raise RuntimeError("the app did not start")
    assert server.loop is not None
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield ServedApp(
            f"http://127.0.0.1:{port}",
            server.loop,
            open_requests=lambda: len(server.server_state.tasks),
        )
    finally:
        server.should_exit = True
        thread.join(SAFETY_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise RuntimeError("the app did not stop")


@contextmanager
def run_live_agent(settings: Settings) -> Iterator[LiveAgent]:
    """Serve ``create_app(settings)`` on 127.0.0.1 (a free port) until the block ends."""
    with serve_in_thread(create_app(settings)) as served:
        yield LiveAgent(
            served.base_url, settings.token, settings, open_requests=served.open_requests
        )


@pytest.fixture(scope="session")
def live_agent() -> Iterator[LiveAgent]:
    """One agent for the whole session, with token ``test-token``."""
    with run_live_agent(Settings(token=TEST_TOKEN)) as agent:
        yield agent


@pytest.fixture
def make_live_agent() -> Callable[[Settings], AbstractContextManager[LiveAgent]]:
    """Start an agent with custom settings: ``with make_live_agent(Settings(...)) as agent``."""
    return run_live_agent
