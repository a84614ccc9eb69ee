"""End to end: one client's idle or trickling connections cannot starve another client.

Each agent runs as an ``agentproc serve`` process of its own, so its descriptors and its open-file
limit are its own and can be read from ``/proc``. The sockets here are raw: a client that
sends nothing, or its headers a few bytes at a time, is exactly what an HTTP client library
will not do.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    HTTP_PARSERS,
    SAFETY_TIMEOUT_SECONDS,
    TLS_CONTEXT,
    ServedAgent,
    serve_agent,
)

pytestmark = pytest.mark.e2e

IDLE_SOCKETS = 500
TRICKLING_SOCKETS = 500
"""Together the 1,000 sockets of one client that the spec's outcome names."""

LIVENESS_SECONDS = 1.0
"""How soon another client's /healthz must be answered meanwhile (security.md §5)."""

PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
"""A request whose headers never end: no blank line follows."""

SMALL_BATCH = 16
"""Connections opened before waiting for the agent to accept them: fewer than its smallest
listen backlog, so no connect waits a second for a SYN retransmission."""

DEFAULT_BATCH = 256
"""The same, for an agent at the default cap of 1024 connections (a backlog of 512)."""

SETTLE_POLL_SECONDS = 0.01
"""Cadence of the bounded waits below: a descriptor count and a listen queue are state to
read, not events to await."""

SHORT_HEADER_TIMEOUT = "0.5"


# -- helpers ----------------------------------------------------------------------------------


def open_fds(pid: int) -> int:
    """How many descriptors ``pid`` holds."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(condition: Callable[[], bool]) -> bool:
    """Wait until ``condition`` holds; False after the safety timeout."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(SETTLE_POLL_SECONDS)
    return True


def port_of(agent: ServedAgent) -> int:
    """The TCP port the agent listens on."""
    return int(agent.base_url.rpartition(":")[2])


def accept_queue(port: int) -> int:
    """Connections the kernel holds for the listener on ``port`` that it has not accepted."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if state == "0A" and int(local.partition(":")[2], 16) == port:  # 0A: LISTEN
            return int(queues.partition(":")[2], 16)
    raise AssertionError(f"nothing listens on port {port}")


def open_sockets(
    agent: ServedAgent, count: int, first_bytes: bytes = b"", *, batch: int = SMALL_BATCH
) -> list[socket.socket]:
    """``count`` connections to the agent, each having sent ``first_bytes``, all accepted.

    They are opened ``batch`` at a time, each batch accepted before the next.
    """
    port = port_of(agent)
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            for _ in range(min(batch, count - len(sockets))):
                sock = socket.create_connection(("127.0.0.1", port), SAFETY_TIMEOUT_SECONDS)
                sockets.append(sock)
                if first_bytes:
                    sock.sendall(first_bytes)
            assert settle(lambda: accept_queue(port) == 0), "the agent stopped accepting"
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    """Close every socket."""
    for sock in sockets:
        sock.close()


@contextlib.contextmanager
def open_file_limit(needed: int) -> Iterator[None]:
    """This process may hold ``needed`` descriptors for the block (soft limit raised)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def timed_health_check(agent: ServedAgent) -> tuple[int, float]:
    """A fresh client's GET /healthz: its status and how long it took."""
    started = time.monotonic()
    with httpx.Client(
        base_url=agent.base_url, timeout=SAFETY_TIMEOUT_SECONDS, verify=TLS_CONTEXT
    ) as client:
        status = client.get("/healthz").status_code
    return status, time.monotonic() - started


def closed_by_peer(sock: socket.socket, *, trickle: bytes = b"") -> bool:
    """Wait until the agent closes ``sock``, sending it ``trickle`` a byte at a time meanwhile.

    Returns False if the socket is still open after the safety timeout.
    """
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    pending = trickle
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            try:
                return sock.recv(65536) == b""
            except ConnectionResetError:
                return True
        if pending:
            try:
                sock.sendall(pending[:1])
            except (BrokenPipeError, ConnectionResetError):
                return True
            pending = pending[1:]
    return False


def limits_of(pid: int) -> tuple[int, int]:
    """The soft and hard open-file limits of ``pid``."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-file limit in /proc/{pid}/limits")


@pytest.fixture(scope="module", params=HTTP_PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    """Each of uvicorn's HTTP parsers in turn: the guard must hold on both."""
    http: str = request.param
    return http


@pytest.fixture(scope="module")
def default_agent(parser: str) -> Iterator[ServedAgent]:
    """One agent with the default settings for the tests that neither count its descriptors
    nor change its state: starting an agent costs more than most of these tests."""
    with serve_agent("--http", parser) as agent:
        yield agent


@pytest.fixture(scope="module")
def impatient_agent(parser: str) -> Iterator[ServedAgent]:
    """One agent with a header timeout of half a second, for the tests that wait for it."""
    with serve_agent("--header-timeout", SHORT_HEADER_TIMEOUT, "--http", parser) as agent:
        yield agent


# -- one client cannot starve the others -------------------------------------------------------


def test_a_thousand_idle_and_trickling_sockets_leave_healthz_answering_in_a_second() -> None:
    """With 1,000 sockets of one client open, half silent and half trickling their headers,
    another client's /healthz is answered within 1 s; once they close, the agent holds no
    more descriptors than before."""
    with open_file_limit(IDLE_SOCKETS + TRICKLING_SOCKETS + 256), serve_agent() as agent:
        baseline = open_fds(agent.pid)
        idle = open_sockets(agent, IDLE_SOCKETS, batch=DEFAULT_BATCH)
        trickling = open_sockets(agent, TRICKLING_SOCKETS, PARTIAL_HEADERS, batch=DEFAULT_BATCH)
        try:
            held = open_fds(agent.pid)
            for sock in trickling:
                sock.sendall(b"X-Slow: 1\r\n")
            status, elapsed = timed_health_check(agent)
        finally:
            close_all(idle + trickling)
        released = settle(lambda: open_fds(agent.pid) == baseline)
        log = agent.log_text(20)
    assert held >= baseline + IDLE_SOCKETS + TRICKLING_SOCKETS, log
    assert status == 200
    assert elapsed < LIVENESS_SECONDS, elapsed
    assert released, f"{baseline} descriptors before, {open_fds(agent.pid)} after\n{log}"


def test_slow_sockets_beyond_a_low_open_file_limit_leave_healthz_answering() -> None:
    """Under a 256-descriptor limit, 300 trickling sockets neither exhaust the agent's
    descriptors nor stop it answering: the longest-waiting ones are closed to admit new ones."""
    wrapper = ("prlimit", "--nofile=256:256", "--")
    with serve_agent(wrapper=wrapper) as agent:
        baseline = open_fds(agent.pid)
        sockets = open_sockets(agent, 300, PARTIAL_HEADERS)
        try:
            held = open_fds(agent.pid)
            status, elapsed = timed_health_check(agent)
        finally:
            close_all(sockets)
        released = settle(lambda: open_fds(agent.pid) == baseline)
        log = agent.log_text()
    assert status == 200, log
    assert elapsed < LIVENESS_SECONDS, elapsed
    assert held < 256 // 2, f"{held} descriptors held\n{log}"
    assert "out of system resource" not in log
    assert "at most 64 open connections, not 1024" in log
    assert released, log


def test_the_header_timeout_closes_a_connection_that_trickles_its_headers(
    impatient_agent: ServedAgent,
) -> None:
    """A connection that keeps sending bytes but never completes its headers is closed."""
    (sock,) = open_sockets(impatient_agent, 1, PARTIAL_HEADERS)
    with sock:
        endless = b"X-Slow: " + b"a" * 10_000
        assert closed_by_peer(sock, trickle=endless)


def test_the_header_timeout_closes_a_connection_that_sends_nothing(
    impatient_agent: ServedAgent,
) -> None:
    """A connection that opens and stays silent is closed after the header timeout."""
    (sock,) = open_sockets(impatient_agent, 1)
    with sock:
        assert closed_by_peer(sock)


def test_headers_sent_in_pieces_within_the_timeout_are_served(parser: str) -> None:
    """A request whose headers arrive in two pieces, in time, is answered normally."""
    with serve_agent("--header-timeout", "30", "--http", parser) as agent:
        (sock,) = open_sockets(agent, 1, PARTIAL_HEADERS)
        with sock:
            sock.sendall(b"Connection: close\r\n\r\n")
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
    assert response.startswith(b"HTTP/1.1 200 "), response


def test_at_the_cap_the_longest_waiting_idle_connection_makes_room() -> None:
    """With the cap reached by silent connections, a new client is served and the oldest
    silent connection is closed."""
    with serve_agent("--max-connections", "2") as agent:
        oldest, newer = open_sockets(agent, 2)
        with oldest, newer:
            status, _ = timed_health_check(agent)
            assert status == 200
            assert closed_by_peer(oldest)
            newer.setblocking(False)
            with pytest.raises(BlockingIOError):
                newer.recv(1)  # still open, nothing to read


def test_at_the_cap_with_every_connection_busy_a_new_one_is_answered_503_at_once(
    parser: str,
) -> None:
    """When every open connection is serving a request, a new connection is told so at once
    (503 with Retry-After, in the error shape) and closed, without sending anything."""
    # Headers complete, body not: each connection is serving a request that waits for it.
    busy_request = (
        b"POST /api/v0/processes/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer served-token\r\nContent-Length: 100\r\n\r\n{"
    )
    with serve_agent("--max-connections", "2", "--http", parser) as agent:
        baseline = open_fds(agent.pid)
        busy = open_sockets(agent, 2, busy_request)
        try:
            with socket.create_connection(("127.0.0.1", port_of(agent))) as refused:
                refused.settimeout(SAFETY_TIMEOUT_SECONDS)
                answer = b""
                while chunk := refused.recv(65536):
                    answer += chunk
        finally:
            close_all(busy)
        # Room again once those connections are gone.
        assert settle(lambda: open_fds(agent.pid) == baseline)
        status, _ = timed_health_check(agent)
        log = agent.log_text()
    assert status == 200
    assert "refusing new connections: all 2 open ones are serving requests" in log
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert lines[0] == "http/1.1 503 service unavailable"
    assert "retry-after: 1" in lines
    assert "connection: close" in lines
    assert httpx.Response(503, content=body).json() == {
        "message": "Too many open connections (2); retry shortly."
    }


def test_the_agent_raises_its_soft_open_file_limit_to_the_hard_limit() -> None:
    """Started with a soft limit of 200 under a hard 400, the agent runs at 400 and says so."""
    with serve_agent(wrapper=("prlimit", "--nofile=200:400", "--")) as agent:
        limits = limits_of(agent.pid)
        log = agent.log_text()
    assert limits == (400, 400)
    assert "open-file limit raised from 200 to the hard limit 400" in log


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the agent writes on ``sock`` until it closes the connection."""
    sock.settimeout(SAFETY_TIMEOUT_SECONDS)
    answer = bytearray()
    while chunk := sock.recv(65536):
        answer += chunk
    return bytes(answer)


@pytest.mark.parametrize("chunks", [1, 40], ids=["at-once", "in-pieces"])
def test_headers_too_large_are_a_431_in_the_error_shape_and_the_agent_serves_on(
    chunks: int, default_agent: ServedAgent
) -> None:
    """20 KiB of headers that never end: 431 with the error body, then the connection closes."""
    padding = b"a" * 20_480
    request = PARTIAL_HEADERS + b"X-Padding: " + padding
    piece = -(-len(request) // chunks)
    with socket.create_connection(("127.0.0.1", port_of(default_agent))) as sock:
        for start in range(0, len(request), piece):
            try:
                sock.sendall(request[start : start + piece])
            except (BrokenPipeError, ConnectionResetError):
                break  # answered and closed already, before the last pieces were sent
        answer = read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer
    assert httpx.Response(200, content=body).json() == {
        "message": "Request headers are larger than 16384 bytes."
    }
    with httpx.Client(base_url=default_agent.base_url, verify=TLS_CONTEXT) as anyone:
        assert anyone.get("/healthz").status_code == 200


def test_a_large_body_right_behind_its_headers_is_not_mistaken_for_headers(
    default_agent: ServedAgent,
) -> None:
    """Only header bytes count: a 100 KiB body in the same write as its headers is served."""
    with default_agent.client() as client:
        body = b'{"command": "true", "env": {"PAD": "' + b"p" * 100_000 + b'"}}'
        answer = client.post("/api/v0/processes/start", content=body)
        assert answer.status_code == 200, answer.text
