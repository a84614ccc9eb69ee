"""``agentproc.testing``: the app driven in process, its lifespan run like a server runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import (
    BASE_URL,
    BlockingApp,
    app_client,
    async_app_client,
    lifespan_running,
)
from agentsdk import AgentConn, AsyncAgentConn

from ._live_processes import PROCESSES, SAFETY_TIMEOUT_SECONDS, leftovers, session_of, start

TOKEN = "in-process-token"
PRINT_SESSION_AND_WAIT = "echo $$; sleep 300"
"""Prints its session id first, then runs until the agent stops it."""


class Recorder:
    """A lifespan that records how far it got, and fails where it is told to."""

    def __init__(self, *, fail_startup: bool = False, fail_shutdown: bool = False) -> None:
        self.fail_startup = fail_startup
        self.fail_shutdown = fail_shutdown
        self.events: list[str] = []

    @asynccontextmanager
    async def __call__(self, app: FastAPI) -> AsyncIterator[None]:
        """Start, yield, stop; raising ValueError at the step told to fail."""
        self.events.append("startup")
        if self.fail_startup:
            raise ValueError("startup broke")
        yield
        self.events.append("shutdown")
        if self.fail_shutdown:
            raise ValueError("shutdown broke")


async def session_of_async(client: httpx.AsyncClient, process_id: str) -> int:
    """The session id a ``PRINT_SESSION_AND_WAIT`` process printed; polls, bounded."""
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        while True:
            response = await client.get(f"{PROCESSES}/{process_id}/output")
            first, newline, _ = response.json()["output"].partition("\n")
            if newline:
                return int(first)
            await anyio.sleep(0.01)


def test_app_client_runs_commands_and_stops_them_when_the_block_ends() -> None:
    """A sync client reaches the running app; leaving the block stops its processes."""
    with app_client(create_app(Settings(token=TOKEN)), token=TOKEN) as client:
        process_id = start(client, PRINT_SESSION_AND_WAIT)
        session = session_of(client, process_id)
        assert leftovers([session])
    assert leftovers([session]) == {}


@pytest.mark.anyio
async def test_async_app_client_runs_commands_and_stops_them_when_the_block_ends() -> None:
    """The async client reaches the running app; leaving the block stops its processes."""
    async with async_app_client(create_app(Settings(token=TOKEN)), token=TOKEN) as client:
        response = await client.post(f"{PROCESSES}/start", json={"command": PRINT_SESSION_AND_WAIT})
        session = await session_of_async(client, response.json()["id"])
        assert leftovers([session])
    assert leftovers([session]) == {}


def test_blocking_app_serves_raw_clients_and_the_sdk_from_one_app() -> None:
    """Clients and SDK transports of one BlockingApp see the same processes and token rule."""
    with (
        BlockingApp(create_app(Settings(token=TOKEN))) as running,
        AgentConn(BASE_URL, token=TOKEN, transport=running.transport()) as agent,
        running.client(token=TOKEN) as client,
        running.client() as anonymous,
    ):
        started = agent.start_process(command="echo in-process")
        assert agent.process_output(started.id, wait=True).output == "in-process\n"
        listed = client.get(f"{PROCESSES}/list").json()["processes"]
        assert [p["id"] for p in listed] == [started.id]
        assert anonymous.get(f"{PROCESSES}/list").status_code == 401


@pytest.mark.anyio
async def test_async_sdk_runs_over_lifespan_running() -> None:
    """AsyncAgentConn with an ASGITransport of the running app starts and reads a command."""
    async with (
        lifespan_running(create_app(Settings())) as running,
        AsyncAgentConn(BASE_URL, transport=httpx.ASGITransport(app=running)) as agent,
    ):
        started = await agent.start_process(command="printf async")
        result = await agent.process_output(started.id, wait=True)
    assert (result.output, result.exit_code) == ("async", 0)


def test_blocking_app_runs_once_and_only_inside_its_block() -> None:
    """Outside its block a BlockingApp refuses to hand out transports; it cannot restart."""
    running = BlockingApp(create_app(Settings()))
    with pytest.raises(RuntimeError, match="not running"):
        running.transport()
    with running:
        running.transport()
    with pytest.raises(RuntimeError, match="not running"):
        running.client()
    with pytest.raises(RuntimeError, match="runs its app once"), running:
        pass


def test_exception_escaping_the_app_is_raised_in_the_caller_unless_told_otherwise() -> None:
    """By default the app's own exception reaches the test; without it, its 500 does."""
    app = create_app(Settings())

    @app.get("/api/v0/broken")
    async def broken() -> None:
        raise LookupError("the app broke")

    with BlockingApp(app) as running, running.client() as raising:
        with pytest.raises(LookupError, match="the app broke"):
            raising.get("/api/v0/broken")
        with running.client(raise_app_exceptions=False) as answering:
            assert answering.get("/api/v0/broken").status_code == 500


@pytest.mark.anyio
async def test_failed_startup_is_a_runtime_error_caused_by_the_apps_own() -> None:
    """The app's exception is the cause; the block never runs."""
    lifespan = Recorder(fail_startup=True)
    with pytest.raises(RuntimeError, match="startup failed") as caught:
        async with lifespan_running(FastAPI(lifespan=lifespan)):
            lifespan.events.append("block")
    assert isinstance(caught.value.__cause__, ValueError)
    assert lifespan.events == ["startup"]


@pytest.mark.anyio
async def test_app_that_fails_startup_and_waits_on_is_not_waited_for() -> None:
    """An app that reports a failed startup, then waits for more, gets no more: it ends."""

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        await receive()

    with (
        anyio.fail_after(SAFETY_TIMEOUT_SECONDS),
        pytest.raises(RuntimeError, match="startup failed: no database"),
    ):
        async with lifespan_running(stubborn):
            pass


def test_failed_shutdown_is_a_runtime_error_caused_by_the_apps_own() -> None:
    """A sync BlockingApp reports a failed shutdown when its block ends."""
    lifespan = Recorder(fail_shutdown=True)
    with (
        pytest.raises(RuntimeError, match="shutdown failed") as caught,
        BlockingApp(FastAPI(lifespan=lifespan)),
    ):
        pass
    assert isinstance(caught.value.__cause__, ValueError)
    assert lifespan.events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_error_in_the_block_is_raised_as_it_was_after_the_shutdown() -> None:
    """The block's exception is not wrapped in an exception group, and shutdown still runs."""
    lifespan = Recorder()
    with pytest.raises(KeyError, match="from the block"):
        async with async_app_client(FastAPI(lifespan=lifespan)):
            raise KeyError("from the block")
    assert lifespan.events == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_error_in_the_block_and_in_the_shutdown_are_both_raised() -> None:
    """Two failures are one exception group: the block's first, then the shutdown's."""
    with pytest.raises(ExceptionGroup) as caught:
        async with lifespan_running(FastAPI(lifespan=Recorder(fail_shutdown=True))):
            raise KeyError("from the block")
    block, shutdown = caught.value.exceptions
    assert isinstance(block, KeyError)
    assert isinstance(shutdown, RuntimeError)
    assert isinstance(shutdown.__cause__, ValueError)
