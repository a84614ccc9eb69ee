"""Shared fixtures: a real agent on uvicorn, bound to 127.0.0.1 in a background thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import httpx
import pytest

from agentproc.app import create_app
from agentproc.cli import AgentServer
from agentproc.settings import Settings

TEST_TOKEN = "test-token"
STARTUP_TIMEOUT_SECONDS = 30.0
"""Safety net only: the server signals readiness through an event."""


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


class _ReadyServer(AgentServer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def run_live_agent(settings: Settings) -> Iterator[LiveAgent]:
    """Serve ``create_app(settings)`` on 127.0.0.1 (a free port) until the block ends."""
    import uvicorn

    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = _ReadyServer(config, app)
    thread = threading.Thread(target=server.run, name="live-agent", daemon=True)
    thread.start()
    if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or not server.started:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        raise RuntimeError("the agent did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveAgent(
            f"http://127.0.0.1:{port}",
            settings.token,
            settings,
            open_requests=lambda: len(server.server_state.tasks),
        )
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise RuntimeError("the agent did not stop")


@pytest.fixture(scope="session")
def live_agent() -> Iterator[LiveAgent]:
    """One agent for the whole session, with token ``test-token``."""
    with run_live_agent(Settings(token=TEST_TOKEN)) as agent:
        yield agent


@pytest.fixture
def make_live_agent() -> Callable[[Settings], AbstractContextManager[LiveAgent]]:
    """Start an agent with custom settings: ``with make_live_agent(Settings(...)) as agent``."""
    return run_live_agent
