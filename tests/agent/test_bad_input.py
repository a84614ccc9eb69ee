"""Bad input is a 4xx, never a 5xx, and leaves the connection usable (security.md §4).

Each body below is valid JSON syntax, or close to it, that Python's decoder or the UTF-8
encoder chokes on: nesting deeper than the decoder recurses, lone surrogates (JSON escapes
that decode to text no encoder accepts), integers longer than CPython converts.

Answers are checked against the agent's app in process. Whether the connection survives,
and what raw requests get, is checked against a real agent on 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import app_client
from tests.conftest import HTTP_PARSERS, TEST_TOKEN, LiveAgent, run_live_agent

from ._live_processes import (
    SAFETY_TIMEOUT_SECONDS,
    open_raw_get,
    read_raw_response,
    start,
)
from .conftest import InProcessAgent

API = "/api/v0/processes"
DEEP = 100_000
DIGITS = 5_001

HOSTILE_STARTS = {
    "deep array": b"[" * DEEP + b"]" * DEEP,
    "deep object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "deep field": b'{"command": "true", "env": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "lone surrogate in command": b'{"command": "echo \\ud800"}',
    "lone surrogate in env name": b'{"command": "true", "env": {"\\udc00": "x"}}',
    "lone surrogate in env value": b'{"command": "true", "env": {"A": "x\\ud800"}}',
    "lone surrogate in workdir": b'{"command": "true", "workdir": "/tmp/\\ud800"}',
    "lone surrogate in idempotency key": b'{"command": "true", "idempotency_key": "\\udfff"}',
    "lone surrogate in an unknown field": b'{"command": "true", "x": ["\\ud800"]}',
    "surrogate encoded as UTF-8 bytes": b'{"command": "echo \xed\xa0\x80"}',
    "long number in an unknown field": b'{"command": "true", "x": ' + b"7" * DIGITS + b"}",
    "long number as command": b'{"command": -' + b"1" * DIGITS + b"}",
    "NUL in command": b'{"command": "echo a\\u0000b"}',
}
"""Start bodies that must each answer 400; none may run a command."""

HOSTILE_SIGNALS = {
    "deep array": b"[" * DEEP + b"]" * DEEP,
    "lone surrogate as signal": b'{"signal": "\\ud800"}',
    "long number as signal": b'{"signal": ' + b"9" * DIGITS + b"}",
}
"""Signal bodies that must each answer 400 (the body is checked before the id)."""

PYTHON_REPR = re.compile(r"\b[A-Z]\w*(Error|Exception)\(")
"""What ``repr`` of an exception looks like, e.g. ``RecursionError('maximum ...')``."""


@pytest.fixture
def client(agent: InProcessAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared in-process agent."""
    with agent.client() as c:
        yield c


@pytest.fixture(scope="module", params=HTTP_PARSERS)
def live_agent(request: pytest.FixtureRequest) -> Iterator[LiveAgent]:
    """A real agent on each of uvicorn's HTTP parsers in turn: both must refuse alike."""
    with run_live_agent(Settings(token=TEST_TOKEN), http=request.param) as agent:
        yield agent


@pytest.fixture
def live_client(live_agent: LiveAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared real agent: one connection, reused while it lives."""
    with live_agent.client() as c:
        yield c


def _connection(response: httpx.Response) -> Any:
    # httpcore reports the socket a response came over; one client address is one connection.
    return response.extensions["network_stream"].get_extra_info("client_addr")


def assert_refused_and_still_connected(client: httpx.Client, response: httpx.Response) -> None:
    """A 400 in the error shape with no repr in it, on a connection the next request reuses."""
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) <= {"message", "detail", "validations"}
    assert isinstance(error["message"], str)
    assert not PYTHON_REPR.search(response.text), response.text
    assert response.headers.get("connection", "").lower() != "close"
    following = client.get(f"{API}/list")
    assert following.status_code == 200
    assert _connection(following) == _connection(response)


@pytest.mark.e2e
@pytest.mark.parametrize("body", HOSTILE_STARTS.values(), ids=HOSTILE_STARTS.keys())
def test_hostile_start_body_is_a_400(live_client: httpx.Client, body: bytes) -> None:
    """Deep nesting, lone surrogates, long numbers and NULs in a start answer 400."""
    response = live_client.post(f"{API}/start", content=body)
    assert_refused_and_still_connected(live_client, response)


@pytest.mark.e2e
@pytest.mark.parametrize("body", HOSTILE_SIGNALS.values(), ids=HOSTILE_SIGNALS.keys())
def test_hostile_signal_body_is_a_400(live_client: httpx.Client, body: bytes) -> None:
    """The signal endpoint decodes its body the same way: 400, never a 500."""
    response = live_client.post(f"{API}/nonexistent/signal", content=body)
    assert_refused_and_still_connected(live_client, response)


def test_lone_surrogate_names_the_field_in_escaped_form(client: httpx.Client) -> None:
    """The 400 names the member holding the surrogate, which it can only show escaped."""
    response = client.post(f"{API}/start", content=b'{"command": "true", "env": {"\\ud800": "x"}}')
    assert response.status_code == 400
    assert response.json()["validations"][0]["field"] == "env.\\ud800"


def test_long_number_is_refused_without_python_internals(client: httpx.Client) -> None:
    """The 400 for a long number says how many digits are accepted, not what CPython said."""
    response = client.post(f"{API}/start", content=b'{"x": ' + b"1" * DIGITS + b"}")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"{DIGITS} digits" in detail
    assert "sys.set_int_max_str_digits" not in detail


def test_timeout_ms_of_thousands_of_digits_is_read_as_its_value(client: httpx.Client) -> None:
    """A zero-padded 50 of 5,001 digits waits 50 ms, like 50: the process still runs."""
    process_id = start(client, "sleep 300")
    response = client.get(
        f"{API}/{process_id}/output",
        params={"wait": "true", "timeout_ms": "0" * (DIGITS - 2) + "50"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["running"] is True
    client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})


@pytest.mark.e2e
def test_huge_timeout_ms_is_capped_and_the_wait_ends_at_exit(
    live_client: httpx.Client, live_agent: LiveAgent
) -> None:
    """A timeout_ms of 5,001 nines is capped like any large value: the wait ends at exit."""
    process_id = start(live_client, "sleep 300")
    path = f"{API}/{process_id}/output?wait=true&timeout_ms={'9' * DIGITS}"
    waiting = open_raw_get(live_agent.base_url, path, live_agent.token)
    assert live_client.get(f"{API}/list").status_code == 200  # the wait is being served now
    killed = live_client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
    assert killed.status_code == 200
    answer = read_raw_response(waiting)
    assert answer.status == 200
    assert answer.body is not None
    assert answer.body["running"] is False


@pytest.mark.e2e
def test_headers_too_large_are_a_4xx_and_the_agent_serves_on(live_agent: LiveAgent) -> None:
    """20 KiB of unfinished headers is a 4xx and breaks nothing else, on either parser.

    Served bare, uvicorn's h11 protocol gives up on headers over 16 KiB with a 400, and its
    httptools protocol waits for more; the connection guard that ``agentproc serve`` (and the
    test server) runs answers 431 in the error shape first (tests/agent/test_connections.py).
    """
    host, _, port = live_agent.base_url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=SAFETY_TIMEOUT_SECONDS) as sock:
        sock.sendall(
            f"GET {API}/list HTTP/1.1\r\nHost: {host}\r\nX-Padding: ".encode() + b"a" * 20_480
        )
        head = bytearray()
        while chunk := sock.recv(65536):
            head += chunk
    status = int(bytes(head).split(b" ", 2)[1])
    assert status in (400, 431), bytes(head)
    with httpx.Client(base_url=live_agent.base_url) as anyone:
        assert anyone.get("/healthz").status_code == 200


def test_unexpected_failure_is_logged_and_answered_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault of the agent is a 500 with a fixed message; the log has what failed."""
    app: FastAPI = create_app(Settings())

    @app.get("/api/v0/broken")
    async def broken() -> None:
        raise RuntimeError("internal state the client must not see")

    with app_client(app, raise_app_exceptions=False) as c:
        response = c.get("/api/v0/broken")
    assert response.status_code == 500
    assert response.json() == {
        "message": "Internal error.",
        "detail": "The agent logged what failed at error level.",
    }
    logged = [r for r in caplog.records if r.name == "agentproc.app"]
    assert [r.levelname for r in logged] == ["ERROR"]
    assert "GET /api/v0/broken failed" in logged[0].getMessage()
    assert logged[0].exc_info is not None
    assert "internal state" in str(logged[0].exc_info[1])
