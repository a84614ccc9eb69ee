"""``write_input`` and ``close_input``, sync and async, against respx: the exact body, the
answer, the checks before I/O, and that input is never sent twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from agentsdk import (
    AgentConn,
    APIConnectionError,
    AsyncAgentConn,
    ConflictError,
    InternalServerError,
    ProcessInputResponse,
    RateLimitError,
)
from agentsdk._base import BaseClient

from ._data import PROCESS_ID, TOKEN

INPUT_PATH = f"/{PROCESS_ID}/input"
ANSWER = {"queued": 4, "stdin_open": True}

BODIES: list[tuple[str | bytes, bool, bytes]] = [
    ("yes\n", False, b'{"data":"yes\\n"}'),
    ("", False, b'{"data":""}'),
    ("é\n", False, '{"data":"é\\n"}'.encode()),
    (b"\x00\x01\xff", False, b'{"data_base64":"AAH/"}'),
    ("quit\n", True, b'{"data":"quit\\n","close":true}'),
    (b"bye", True, b'{"data_base64":"Ynll","close":true}'),
]
"""write_input's data and close, and the exact body each sends."""

BAD_ARGUMENTS: list[tuple[str, Any, Any, str]] = [
    ("", "x", False, "non-empty process id"),
    (PROCESS_ID, 42, False, "data as str or bytes but received int"),
    (PROCESS_ID, bytearray(b"x"), False, "data as str or bytes but received bytearray"),
    (PROCESS_ID, None, False, "Nothing to send"),
    (PROCESS_ID, "x", "yes", "close to be a bool"),
]
"""Arguments refused before any I/O: id, data, close, and what the message says."""


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once, so a retry (which must not happen) would not sleep either."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


@pytest.mark.parametrize(("data", "close", "body"), BODIES)
def test_write_input_posts_text_as_data_and_bytes_as_base64(
    data: str | bytes, close: bool, body: bytes, api: respx.MockRouter, conn: AgentConn
) -> None:
    """str goes as data, bytes as data_base64, and close only when asked for."""
    route = api.post(INPUT_PATH).respond(200, json=ANSWER)

    answer = conn.write_input(PROCESS_ID, data, close=close)

    assert answer == ProcessInputResponse(queued=4, stdin_open=True)
    request = route.calls.last.request
    assert request.content == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.anyio
@pytest.mark.parametrize(("data", "close", "body"), BODIES)
async def test_async_write_input_sends_the_same_bodies(
    data: str | bytes, close: bool, body: bytes, api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client sends byte for byte what the sync one does."""
    route = api.post(INPUT_PATH).respond(200, json=ANSWER)

    await aconn.write_input(PROCESS_ID, data, close=close)

    assert route.calls.last.request.content == body


def test_close_input_sends_close_alone(api: respx.MockRouter, conn: AgentConn) -> None:
    """End-of-file without data is {"close": true}; the answer says stdin is closed."""
    route = api.post(INPUT_PATH).respond(200, json={"queued": 0, "stdin_open": False})

    answer = conn.close_input(PROCESS_ID)

    assert route.calls.last.request.content == b'{"close":true}'
    assert answer.stdin_open is False


@pytest.mark.anyio
async def test_async_close_input_sends_close_alone(
    api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async twin sends the same body."""
    route = api.post(INPUT_PATH).respond(200, json={"queued": 0, "stdin_open": False})

    assert (await aconn.close_input(PROCESS_ID)).stdin_open is False
    assert route.calls.last.request.content == b'{"close":true}'


@pytest.mark.parametrize(("process_id", "data", "close", "message"), BAD_ARGUMENTS)
def test_bad_input_arguments_raise_before_any_request(
    process_id: str, data: Any, close: Any, message: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """A bad id, data or close is a ValueError; nothing is sent."""
    route = api.post(INPUT_PATH)

    with pytest.raises(ValueError, match=message):
        conn.write_input(process_id, data, close=close)

    assert not route.called


@pytest.mark.anyio
@pytest.mark.parametrize(("process_id", "data", "close", "message"), BAD_ARGUMENTS)
async def test_async_bad_input_arguments_raise_before_any_request(
    process_id: str,
    data: Any,
    close: Any,
    message: str,
    api: respx.MockRouter,
    aconn: AsyncAgentConn,
) -> None:
    """The async client refuses the same arguments."""
    route = api.post(INPUT_PATH)

    with pytest.raises(ValueError, match=message):
        await aconn.write_input(process_id, data, close=close)

    assert not route.called


FAILURES: list[tuple[httpx.Response | httpx.RequestError, type[Exception]]] = [
    (httpx.ConnectError("refused"), APIConnectionError),
    (httpx.ReadError("reset"), APIConnectionError),
    (httpx.ReadTimeout("slow"), APIConnectionError),
    (httpx.Response(503, json={"message": "Agent is shutting down."}), InternalServerError),
    (
        httpx.Response(429, json={"message": "queue full"}, headers={"Retry-After": "1"}),
        RateLimitError,
    ),
]
"""Failures a read would be retried on, and what input raises instead."""


@pytest.mark.parametrize(("failure", "raised"), FAILURES)
def test_input_is_never_sent_twice(
    failure: httpx.Response | httpx.RequestError,
    raised: type[Exception],
    api: respx.MockRouter,
    conn: AgentConn,
) -> None:
    """With retries on, a failed write is raised after one attempt: the data may be queued."""
    route = api.post(INPUT_PATH).mock(side_effect=[failure])

    with pytest.raises(raised):
        conn.write_input(PROCESS_ID, "rm -i x\ny\n")

    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("failure", "raised"), FAILURES)
async def test_async_input_is_never_sent_twice(
    failure: httpx.Response | httpx.RequestError,
    raised: type[Exception],
    api: respx.MockRouter,
    aconn: AsyncAgentConn,
) -> None:
    """The async client sends input once too, close included."""
    route = api.post(INPUT_PATH).mock(side_effect=[failure])

    with pytest.raises(raised):
        await aconn.close_input(PROCESS_ID)

    assert route.call_count == 1


def test_no_open_stdin_is_a_conflict(api: respx.MockRouter, conn: AgentConn) -> None:
    """The agent's 409 for a process without stdin raises ConflictError with its message."""
    message = f'Process "{PROCESS_ID}" has no open stdin.'
    api.post(INPUT_PATH).respond(409, json={"message": message})

    with pytest.raises(ConflictError) as caught:
        conn.write_input(PROCESS_ID, "x")

    assert caught.value.message == message
