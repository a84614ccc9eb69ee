"""Cursor reads: ``process_output(since=..., limit=...)``, sync and async, against respx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from agentsdk import AgentConn, AgentSDKError, AsyncAgentConn, ProcessOutputResponse
from agentsdk._base import BaseClient
from agentsdk.wire import MAX_WAIT_SECONDS, SINCE_LAST

from ._data import API, BASE_URL, PROCESS_ID

CURSOR_BODY: dict[str, Any] = {
    "output": "new lines\n",
    "running": True,
    "offset": 120,
    "next_offset": 130,
    "total_bytes": 130,
    "skipped": 20,
}
"""A cursor read that started at 100, of which the agent no longer kept 20 bytes."""

QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"since": 0}, "since=0"),
    ({"since": 100}, "since=100"),
    ({"since": SINCE_LAST}, "since=last"),
    ({"since": "last", "limit": 4096}, "since=last&limit=4096"),
    ({"since": 7, "wait": True}, "since=7&wait=true"),
    (
        {"since": "last", "limit": 1, "wait": True, "timeout_ms": 500},
        "since=last&limit=1&wait=true&timeout_ms=500",
    ),
]
"""Arguments and the exact query they send."""

BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"since": -1}, "since to be an offset >= 0 or 'last'"),
    ({"since": True}, "since to be an offset >= 0"),
    ({"since": 1.5}, "since to be an offset >= 0"),
    ({"since": "first"}, "received 'first'"),
    ({"since": "0"}, "received '0'"),
    ({"since": 0, "limit": 0}, "limit >= 1"),
    ({"since": 0, "limit": True}, "limit >= 1"),
    ({"since": 0, "limit": "10"}, "limit >= 1"),
    ({"limit": 10}, "limit bounds a cursor read"),
    ({"since": 0, "timeout_ms": 10}, "timeout_ms bounds a wait"),
]
"""Arguments refused before any I/O, and what the message says."""


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once, so retry tests do not sleep."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


@pytest.mark.parametrize(("kwargs", "query"), QUERIES)
def test_cursor_read_sends_its_query(
    kwargs: dict[str, Any], query: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """since, limit, wait and timeout_ms go in the query, in that order."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=CURSOR_BODY)

    conn.process_output(PROCESS_ID, **kwargs)

    assert route.calls.last.request.url == httpx.URL(f"{API}/{PROCESS_ID}/output?{query}")


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "query"), QUERIES)
async def test_async_cursor_read_sends_its_query(
    kwargs: dict[str, Any], query: str, api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client sends the same query."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=CURSOR_BODY)

    await aconn.process_output(PROCESS_ID, **kwargs)

    assert route.calls.last.request.url == httpx.URL(f"{API}/{PROCESS_ID}/output?{query}")


def test_cursor_read_returns_the_offsets(api: respx.MockRouter, conn: AgentConn) -> None:
    """The answer carries where the output starts, where to go on, the total and the gap."""
    api.get(f"/{PROCESS_ID}/output").respond(200, json=CURSOR_BODY)

    answer = conn.process_output(PROCESS_ID, since=100)

    assert answer == ProcessOutputResponse.model_validate(CURSOR_BODY)
    assert (answer.offset, answer.next_offset, answer.total_bytes, answer.skipped) == (
        120,
        130,
        130,
        20,
    )


def test_a_long_poll_for_new_output_outlasts_the_server_cap(
    api: respx.MockRouter,
) -> None:
    """since + wait holds the request like any wait: the read timeout exceeds the cap."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=CURSOR_BODY)

    with AgentConn(BASE_URL, timeout=5.0) as conn:
        conn.process_output(PROCESS_ID, since="last", wait=True)
        conn.process_output(PROCESS_ID, since="last")

    waited, plain = (call.request.extensions["timeout"]["read"] for call in route.calls)
    assert waited > MAX_WAIT_SECONDS
    assert plain == 5.0


@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS)
def test_bad_cursor_arguments_raise_before_any_request(
    kwargs: dict[str, Any], message: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """Each bad combination is a ValueError naming the problem; nothing is sent."""
    route = api.get(f"/{PROCESS_ID}/output")

    with pytest.raises(ValueError, match=message):
        conn.process_output(PROCESS_ID, **kwargs)

    assert not route.called


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS)
async def test_async_bad_cursor_arguments_raise_before_any_request(
    kwargs: dict[str, Any], message: str, api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client refuses the same arguments the same way."""
    route = api.get(f"/{PROCESS_ID}/output")

    with pytest.raises(ValueError, match=message):
        await aconn.process_output(PROCESS_ID, **kwargs)

    assert not route.called


def test_a_read_from_an_offset_is_retried_like_any_read(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """since=N reads the same bytes however often it is sent, so a 503 is sent again."""
    route = api.get(f"/{PROCESS_ID}/output")
    route.side_effect = [
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(200, json=CURSOR_BODY),
    ]

    assert conn.process_output(PROCESS_ID, since=100).next_offset == 130
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure", [httpx.ReadError("reset"), httpx.Response(503, json={"message": "busy"})]
)
def test_a_read_from_the_last_mark_is_never_retried(
    failure: httpx.Response | httpx.ReadError, api: respx.MockRouter, conn: AgentConn
) -> None:
    """since=last moves the agent's mark: a retry after a lost answer would skip its bytes."""
    route = api.get(f"/{PROCESS_ID}/output").mock(side_effect=[failure])

    with pytest.raises(AgentSDKError):
        conn.process_output(PROCESS_ID, since="last")

    assert route.call_count == 1
