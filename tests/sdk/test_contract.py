"""Contract tests: the same scenarios through AgentConn and AsyncAgentConn against the real app.

Every scenario runs four ways: the sync and the async client, each against the app served
in-process (``httpx.ASGITransport`` with the lifespan running, see ``_asgi.py``) and
against a real uvicorn server on 127.0.0.1. The scenarios are plain functions
over a ``Conn``; the async client is driven through an anyio blocking portal, so both
clients execute the very same lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from functools import partial
from typing import Protocol, Unpack

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

import agentsdk
from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import PortalTransport, lifespan_running
from agentsdk import (
    AgentConn,
    AsyncAgentConn,
    ListProcessesResponse,
    ProcessOutputResponse,
    Signal,
    StartProcessParams,
    StartProcessRequest,
    StartProcessResponse,
)

IN_PROCESS_URL = "http://agent.in-process"
IN_PROCESS_TOKEN = "in-process-token"
SAFETY_WAIT_MS = 60_000
"""Safety net for waits on a process the test has already ended; they return at exit."""

LONG_COMMAND = "sleep 300"
"""Runs until the test signals it; never left running on success or failure."""


class Conn(Protocol):
    """The four SDK calls, synchronous: AgentConn as is, AsyncAgentConn through a portal."""

    def start_process(
        self,
        request: StartProcessRequest | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> StartProcessResponse:
        """See AgentConn.start_process."""
        ...

    def list_processes(self) -> ListProcessesResponse:
        """See AgentConn.list_processes."""
        ...

    def process_output(
        self, id: str, *, wait: bool = False, timeout_ms: int | None = None
    ) -> ProcessOutputResponse:
        """See AgentConn.process_output."""
        ...

    def signal_process(self, id: str, signal: Signal) -> None:
        """See AgentConn.signal_process."""
        ...


class PortalConn:
    """An AsyncAgentConn whose coroutines run on a portal's event loop, called synchronously."""

    def __init__(self, portal: BlockingPortal, conn: AsyncAgentConn) -> None:
        self._portal = portal
        self._conn = conn

    def start_process(
        self,
        request: StartProcessRequest | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> StartProcessResponse:
        """Await AsyncAgentConn.start_process on the portal."""
        return self._portal.call(partial(self._conn.start_process, request, **fields))

    def list_processes(self) -> ListProcessesResponse:
        """Await AsyncAgentConn.list_processes on the portal."""
        return self._portal.call(self._conn.list_processes)

    def process_output(
        self, id: str, *, wait: bool = False, timeout_ms: int | None = None
    ) -> ProcessOutputResponse:
        """Await AsyncAgentConn.process_output on the portal."""
        return self._portal.call(
            partial(self._conn.process_output, id, wait=wait, timeout_ms=timeout_ms)
        )

    def signal_process(self, id: str, signal: Signal) -> None:
        """Await AsyncAgentConn.signal_process on the portal."""
        self._portal.call(self._conn.signal_process, id, signal)


class Connect(Protocol):
    """Open a client to the scenario's agent; it is closed when the test ends."""

    def __call__(
        self, *, headers: Mapping[str, str] | None = None, token: str | None = ...
    ) -> Conn:
        """Return a connected client with the given extra headers and token."""
        ...


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    """One event loop, in its own thread, for every async client of this module."""
    with start_blocking_portal(backend="asyncio") as running:
        yield running


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    """Which client the scenario drives."""
    return str(request.param)


@pytest.fixture(params=["in-process", pytest.param("uvicorn", marks=pytest.mark.e2e)])
def connect(
    request: pytest.FixtureRequest, flavor: str, portal: BlockingPortal
) -> Iterator[Connect]:
    """A factory of clients of one flavor, all talking to the same agent."""
    with ExitStack() as stack:
        sync_transport: httpx.BaseTransport | None = None
        async_transport: httpx.AsyncBaseTransport | None = None
        if request.param == "uvicorn":
            live = request.getfixturevalue("live_agent")
            base_url, default_token = live.base_url, live.token
        else:
            app = create_app(Settings(token=IN_PROCESS_TOKEN))
            base_url, default_token = IN_PROCESS_URL, IN_PROCESS_TOKEN
            served = stack.enter_context(portal.wrap_async_context_manager(lifespan_running(app)))
            sync_transport = PortalTransport(portal, served)
            async_transport = httpx.ASGITransport(app=served)

        def open_conn(
            *, headers: Mapping[str, str] | None = None, token: str | None = default_token
        ) -> Conn:
            if flavor == "sync":
                return stack.enter_context(
                    AgentConn(base_url, token=token, headers=headers, transport=sync_transport)
                )
            conn = AsyncAgentConn(base_url, token=token, headers=headers, transport=async_transport)
            stack.callback(portal.call, conn.aclose)
            return PortalConn(portal, conn)

        yield open_conn


def find(conn: Conn, process_id: str) -> agentsdk.ProcessInfo | None:
    """The listed process with this id, or None when the list does not show it."""
    return next((p for p in conn.list_processes().processes if p.id == process_id), None)


def stop(conn: Conn, process_id: str) -> None:
    """Kill a process the test started, tolerating that it already ended."""
    try:
        conn.signal_process(process_id, "kill")
    except agentsdk.ConflictError:
        return


def test_start_wait_output_signal(connect: Connect) -> None:
    """A command runs to its exit code; a long one is listed, terminated, and reports -1."""
    conn = connect()

    quick = conn.start_process(command="printf 'hello\\n'; exit 3")
    assert quick.started
    done = conn.process_output(quick.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
    assert (done.output, done.running, done.exit_code) == ("hello\n", False, 3)

    long = conn.start_process(command=LONG_COMMAND, background=True)
    try:
        info = find(conn, long.id)
        assert info is not None
        assert (info.running, info.background, info.exit_code) == (True, True, None)
        conn.signal_process(long.id, "terminate")
        ended = conn.process_output(long.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
        assert (ended.running, ended.exit_code) == (False, -1)
    finally:
        stop(conn, long.id)


def test_bounded_wait_returns_a_running_snapshot(connect: Connect) -> None:
    """A wait with timeout_ms on a process that keeps running returns running=True."""
    conn = connect()
    started = conn.start_process(command=LONG_COMMAND)
    try:
        snapshot = conn.process_output(started.id, wait=True, timeout_ms=50)
        assert (snapshot.running, snapshot.exit_code) == (True, None)
    finally:
        stop(conn, started.id)


def test_signal_of_an_exited_process_is_a_conflict(connect: Connect) -> None:
    """Signalling a process that already exited raises ConflictError (409)."""
    conn = connect()
    started = conn.start_process(command="true")
    conn.process_output(started.id, wait=True, timeout_ms=SAFETY_WAIT_MS)

    with pytest.raises(agentsdk.ConflictError) as caught:
        conn.signal_process(started.id, "kill")

    assert caught.value.status_code == 409
    assert caught.value.message == f'Process "{started.id}" is not running.'
    assert caught.value.method == "POST"
    assert caught.value.url.endswith(f"/api/v0/processes/{started.id}/signal")


def test_unknown_process_is_not_found(connect: Connect) -> None:
    """Output and signal of an id the agent never issued raise NotFoundError (404)."""
    conn = connect()
    missing = str(uuid.uuid4())

    with pytest.raises(agentsdk.NotFoundError) as caught:
        conn.process_output(missing)
    with pytest.raises(agentsdk.NotFoundError):
        conn.signal_process(missing, "terminate")

    assert caught.value.message == f'Process "{missing}" not found.'
    assert str(caught.value).startswith(f"GET {caught.value.url}: unexpected status code 404")


def test_missing_workdir_is_a_bad_request(connect: Connect) -> None:
    """A workdir that does not exist raises BadRequestError (400) naming it."""
    conn = connect()

    with pytest.raises(agentsdk.BadRequestError) as caught:
        conn.start_process(command="true", workdir="/does/not/exist")

    assert caught.value.status_code == 400
    assert "/does/not/exist" in str(caught.value)


def test_wrong_token_is_an_authentication_error(connect: Connect) -> None:
    """A wrong bearer token raises AuthenticationError (401) on every call."""
    conn = connect(token="not-the-token")

    with pytest.raises(agentsdk.AuthenticationError):
        conn.list_processes()
    with pytest.raises(agentsdk.AuthenticationError):
        conn.start_process(command="true")


def test_chat_scoped_headers_isolate_chats(connect: Connect) -> None:
    """A chat sees and signals its own processes; another chat gets 404; no chat sees all."""
    chat_a, chat_b = str(uuid.uuid4()), str(uuid.uuid4())
    conn_a = connect(headers={"Coder-Chat-Id": chat_a})
    conn_b = connect(headers={"Coder-Chat-Id": chat_b})
    unscoped = connect()

    started = conn_a.start_process(command=LONG_COMMAND)
    try:
        assert find(conn_a, started.id) is not None
        assert find(conn_b, started.id) is None
        assert find(unscoped, started.id) is not None
        with pytest.raises(agentsdk.NotFoundError):
            conn_b.process_output(started.id)
        with pytest.raises(agentsdk.NotFoundError):
            conn_b.signal_process(started.id, "kill")
        conn_a.signal_process(started.id, "kill")
        ended = conn_a.process_output(started.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
        assert ended.running is False
    finally:
        stop(unscoped, started.id)

    echoed = conn_a.start_process(command='printf %s "$CODER_CHAT_ID"')
    result = conn_a.process_output(echoed.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
    assert result.output == chat_a


def test_idempotency_key_attaches_instead_of_starting_again(connect: Connect) -> None:
    """A repeated key returns the first process; the same key with another command is 409."""
    conn = connect()
    key = f"contract-{uuid.uuid4()}"

    first = conn.start_process(command=LONG_COMMAND, idempotency_key=key)
    try:
        again = conn.start_process(StartProcessRequest(command=LONG_COMMAND, idempotency_key=key))
        assert (again.id, again.started, again.attached) == (first.id, False, True)
        with pytest.raises(agentsdk.ConflictError):
            conn.start_process(command="true", idempotency_key=key)
    finally:
        stop(conn, first.id)


def test_non_ascii_command_and_env_round_trip(connect: Connect) -> None:
    """UTF-8 in the command and env reaches the shell intact and comes back in the output."""
    conn = connect()

    started = conn.start_process(
        command='printf "%s|%s" "$GREETING" "¿qué?"', env={"GREETING": "héllo ✓"}
    )
    result = conn.process_output(started.id, wait=True, timeout_ms=SAFETY_WAIT_MS)

    assert (result.output, result.exit_code) == ("héllo ✓|¿qué?", 0)
