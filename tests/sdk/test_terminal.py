"""Terminals through the SDK, sync and async: ``tty`` on start, ``resize`` and ``screen``
against respx (the exact requests, the checks before I/O, the errors), then against the
agent's app in process (real commands on real terminals)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import BASE_URL as IN_PROCESS_URL
from agentproc.testing import BlockingApp, lifespan_running
from agentsdk import (
    AgentConn,
    AsyncAgentConn,
    ConflictError,
    ProcessScreenResponse,
    ScreenCursor,
    TerminalSize,
)

from ._data import PROCESS_ID

SCREEN_BODY: dict[str, Any] = {
    "rows": 2,
    "cols": 10,
    "lines": [">>> 2+2", "4"],
    "cursor": {"row": 1, "col": 1},
    "running": True,
}
WAIT = 60_000
"""Waits end at the output or the exit; a minute is only a safety net."""

NO_TERMINAL = {"message": f'Process "{PROCESS_ID}" has no terminal.'}

BAD_RESIZES: list[tuple[Any, Any, str]] = [
    (0, 80, "rows from 1 to 1000 but received 0"),
    (24, 1001, "cols from 1 to 1000 but received 1001"),
    (True, 80, "rows from 1 to 1000 but received True"),
    (24, "80", "cols from 1 to 1000 but received '80'"),
]
"""Sizes refused before any I/O, and what the message says."""


# -- against respx --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tty", "sent"),
    [(True, True), (TerminalSize(rows=5, cols=40), {"rows": 5, "cols": 40})],
)
def test_start_sends_tty_as_given(
    api: respx.MockRouter, conn: AgentConn, tty: TerminalSize | bool, sent: object
) -> None:
    """``tty=True`` or a size goes into the start body as ``tty``."""
    route = api.post("/start").respond(json={"id": PROCESS_ID, "started": True})
    conn.start_process(command="python3", tty=tty, idempotency_key="k")
    assert json.loads(route.calls.last.request.content) == {
        "command": "python3",
        "idempotency_key": "k",
        "tty": sent,
    }


def test_resize_posts_the_size_and_returns_it(api: respx.MockRouter, conn: AgentConn) -> None:
    """The body is exactly ``{"rows", "cols"}``; the answer is the new size."""
    route = api.post(f"/{PROCESS_ID}/resize").respond(json={"rows": 30, "cols": 100})
    assert conn.resize(PROCESS_ID, 30, 100) == TerminalSize(rows=30, cols=100)
    assert route.calls.last.request.content == b'{"rows":30,"cols":100}'


@pytest.mark.anyio
async def test_async_resize_posts_the_size_and_returns_it(
    api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client sends the same body."""
    route = api.post(f"/{PROCESS_ID}/resize").respond(json={"rows": 30, "cols": 100})
    assert await aconn.resize(PROCESS_ID, 30, 100) == TerminalSize(rows=30, cols=100)
    assert route.calls.last.request.content == b'{"rows":30,"cols":100}'


def test_screen_reads_the_screen_with_scrollback_when_asked(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """No query by default; ``scrollback=N`` asks for N lines."""
    route = api.get(f"/{PROCESS_ID}/screen").respond(json=SCREEN_BODY)
    shown = conn.screen(PROCESS_ID)
    assert shown.lines == [">>> 2+2", "4"]
    assert shown.cursor == ScreenCursor(row=1, col=1)
    assert shown.scrollback is None
    assert route.calls.last.request.url.query == b""
    conn.screen(PROCESS_ID, scrollback=0)
    assert route.calls.last.request.url.params["scrollback"] == "0"


@pytest.mark.anyio
async def test_async_screen_reads_the_screen(api: respx.MockRouter, aconn: AsyncAgentConn) -> None:
    """The async client asks the same and parses the same."""
    route = api.get(f"/{PROCESS_ID}/screen").respond(json={**SCREEN_BODY, "scrollback": ["a"]})
    shown = await aconn.screen(PROCESS_ID, scrollback=5)
    assert shown == ProcessScreenResponse.model_validate({**SCREEN_BODY, "scrollback": ["a"]})
    assert route.calls.last.request.url.params["scrollback"] == "5"


@pytest.mark.parametrize(("rows", "cols", "message"), BAD_RESIZES)
def test_bad_sizes_raise_before_any_request(
    api: respx.MockRouter, conn: AgentConn, rows: Any, cols: Any, message: str
) -> None:
    """A side that is not an int from 1 to 1000 is a ValueError; nothing is sent."""
    with pytest.raises(ValueError, match=message):
        conn.resize(PROCESS_ID, rows, cols)
    assert not api.calls


@pytest.mark.anyio
@pytest.mark.parametrize(("rows", "cols", "message"), BAD_RESIZES)
async def test_async_bad_sizes_raise_before_any_request(
    api: respx.MockRouter, aconn: AsyncAgentConn, rows: Any, cols: Any, message: str
) -> None:
    """The async client refuses the same sizes."""
    with pytest.raises(ValueError, match=message):
        await aconn.resize(PROCESS_ID, rows, cols)
    assert not api.calls


@pytest.mark.parametrize("scrollback", [-1, True, 1.5, "3"])
def test_a_bad_scrollback_raises_before_any_request(
    api: respx.MockRouter, conn: AgentConn, scrollback: Any
) -> None:
    """``scrollback`` is a whole number of lines, at least 0."""
    with pytest.raises(ValueError, match="scrollback >= 0 lines"):
        conn.screen(PROCESS_ID, scrollback=scrollback)
    with pytest.raises(ValueError, match="non-empty process id"):
        conn.screen("")
    assert not api.calls


def test_a_process_without_a_terminal_is_a_conflict(api: respx.MockRouter, conn: AgentConn) -> None:
    """The agent's 409 is a ConflictError carrying its message, for both calls."""
    api.post(f"/{PROCESS_ID}/resize").respond(409, json=NO_TERMINAL)
    api.get(f"/{PROCESS_ID}/screen").respond(409, json=NO_TERMINAL)
    with pytest.raises(ConflictError, match="has no terminal"):
        conn.resize(PROCESS_ID, 10, 10)
    with pytest.raises(ConflictError, match="has no terminal"):
        conn.screen(PROCESS_ID)


# -- against the agent -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_app() -> Iterator[BlockingApp]:
    """The agent's app in this process, its lifespan running, for the module."""
    with BlockingApp(create_app(Settings())) as running:
        yield running


def test_a_repl_on_a_terminal_through_the_sync_client(running_app: BlockingApp) -> None:
    """Start on a terminal, type at each prompt, resize, read the screen: the REPL answers
    on its screen."""
    with AgentConn(IN_PROCESS_URL, transport=running_app.transport()) as agent:
        started = agent.start_process(
            command=f"{sys.executable} -q", tty=TerminalSize(rows=10, cols=40)
        )
        offset = 0

        def at_prompt() -> None:
            # Type only once the REPL asks, as a person would: typed-ahead input meets a
            # terminal whose mode the REPL is about to change.
            nonlocal offset
            seen = ""
            while not seen.endswith(">>> "):
                read = agent.process_output(started.id, since=offset, wait=True, timeout_ms=WAIT)
                assert read.running, read
                seen += read.output
                offset = read.next_offset or offset

        at_prompt()
        agent.write_input(started.id, "import os; print(os.get_terminal_size().lines * 2)\n")
        at_prompt()
        agent.resize(started.id, 12, 50)
        agent.write_input(started.id, "print(os.get_terminal_size().columns)\n")
        at_prompt()
        agent.close_input(started.id)
        assert agent.process_output(started.id, wait=True, timeout_ms=WAIT).exit_code == 0
        shown = agent.screen(started.id, scrollback=10)
        assert "20" in shown.lines
        assert "50" in shown.lines
        assert (shown.rows, shown.cols, shown.running) == (12, 50, False)
        assert shown.scrollback == []
        listed = {p.id: p for p in agent.list_processes().processes}
        assert listed[started.id].tty == TerminalSize(rows=12, cols=50)


@pytest.mark.anyio
async def test_a_terminal_through_the_async_client() -> None:
    """The async client starts on a terminal, reads the screen, and hears the 409s."""
    async with (
        lifespan_running(create_app(Settings())) as running,
        AsyncAgentConn(IN_PROCESS_URL, transport=httpx.ASGITransport(app=running)) as agent,
    ):
        started = await agent.start_process(command="printf 'a\\nb'; exit 2", tty=True)
        assert (await agent.process_output(started.id, wait=True, timeout_ms=WAIT)).exit_code == 2
        shown = await agent.screen(started.id)
        assert shown.lines[:3] == ["a", "b", ""]
        assert shown.cursor == ScreenCursor(row=1, col=1)
        with pytest.raises(ConflictError, match="is not running"):
            await agent.resize(started.id, 5, 5)
        plain = await agent.start_process(command="true")
        with pytest.raises(ConflictError, match="has no terminal"):
            await agent.screen(plain.id)
