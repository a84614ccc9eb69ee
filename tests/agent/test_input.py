"""Input for processes started with ``stdin`` (live-io.md, "Input"), end to end.

Against the agent's app in process where HTTP itself is not under test; a real uvicorn server
shows that a command that never reads stalls nothing, and an agent of its own (``serve_agent``)
that a hundred commands with stdin leave no descriptor behind.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.childinput import BOTH_FORMS, NOTHING_TO_SEND
from agentproc.settings import DEFAULT_MAX_INPUT_BYTES, Settings
from tests.conftest import SAFETY_TIMEOUT_SECONDS, LiveAgent, serve_agent

from ._live_processes import start
from .conftest import InProcessAgent, MakeAgent

API = "/api/v0/processes"
WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Waits end at the exit; 60 s is only a safety net."""

LIVENESS_BOUND_SECONDS = 10.0
"""Generous: a call the agent answers at once takes milliseconds; a stalled one never ends."""

PIECE = 64 * 1024
"""One piece of a large write: 2 MiB go in 32 of them."""


@pytest.fixture
def client(agent: InProcessAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared in-process agent."""
    with agent.client() as c:
        yield c


def write(client: httpx.Client, process_id: str, **body: Any) -> httpx.Response:
    """POST ``body`` to the process's input."""
    return client.post(f"{API}/{process_id}/input", json=body)


def written(client: httpx.Client, process_id: str, **body: Any) -> dict[str, Any]:
    """POST ``body`` to the process's input; the 200 answer's body."""
    response = write(client, process_id, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def finish(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """Block until the process exits; its final output response."""
    response = client.get(f"{API}/{process_id}/output", params=WAIT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["running"] is False, body
    return body


def kill(client: httpx.Client, process_id: str) -> None:
    """Kill the process and wait for its exit."""
    response = client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
    assert response.status_code in (200, 409), response.text
    finish(client, process_id)


def info(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """The process as the list shows it."""
    listed = client.get(f"{API}/list").json()["processes"]
    found: dict[str, Any] = next(p for p in listed if p["id"] == process_id)
    return found


def no_stdin(process_id: str) -> dict[str, str]:
    """The 409 body for input to a process without an open stdin."""
    return {"message": f'Process "{process_id}" has no open stdin.'}


# -- what a command reads --------------------------------------------------------------------


def test_a_command_answers_what_is_written(client: httpx.Client) -> None:
    """A program waiting for a line gets it through /input and answers it."""
    process_id = start(client, "python3 -c 'print(input()[::-1])'", stdin=True)
    assert written(client, process_id, data="hello\n") == {"queued": 6, "stdin_open": True}
    assert finish(client, process_id) == {
        "output": "olleh\n",
        "running": False,
        "exit_code": 0,
        "exit_reason": "exit",
    }


def test_cat_echoes_exactly_the_bytes_sent_and_exits_on_close(
    client: httpx.Client, tmp_path: Path
) -> None:
    """Text and base64 (not UTF-8) arrive byte for byte; ``close`` is end-of-file: exit 0."""
    out = tmp_path / "received"
    process_id = start(client, 'cat > "$OUT"', stdin=True, env={"OUT": str(out)})
    binary = bytes(range(256))
    assert written(client, process_id, data="héllo\n")["queued"] == len("héllo\n".encode())
    encoded = base64.b64encode(binary).decode()
    assert written(client, process_id, data_base64=encoded) == {"queued": 256, "stdin_open": True}
    assert written(client, process_id, close=True) == {"queued": 0, "stdin_open": False}
    assert finish(client, process_id)["exit_code"] == 0
    assert out.read_bytes() == "héllo\n".encode() + binary


def test_data_and_close_in_one_call(client: httpx.Client) -> None:
    """Data with ``close: true`` is written first, then end-of-file."""
    process_id = start(client, "cat", stdin=True)
    answer = written(client, process_id, data_base64="/w==", close=True)
    assert answer == {"queued": 1, "stdin_open": False}
    assert finish(client, process_id) == {
        "output": "\ufffd",
        "running": False,
        "exit_code": 0,
        "exit_reason": "exit",
    }


def test_many_small_writes_arrive_in_order(client: httpx.Client) -> None:
    """A thousand calls, each one line: the command reads them in the order they were sent."""
    process_id = start(client, "cat", stdin=True)
    lines = [f"line {number}\n" for number in range(1000)]
    for line in lines:
        written(client, process_id, data=line)
    written(client, process_id, close=True)
    body = finish(client, process_id)
    assert "truncated" not in body
    assert body["output"] == "".join(lines)


def test_a_command_without_stdin_still_reads_end_of_file_at_once(client: httpx.Client) -> None:
    """Left out or false, stdin is /dev/null: ``cat`` ends at once with status 0."""
    for fields in ({}, {"stdin": False}):
        process_id = start(client, "cat", **fields)
        assert finish(client, process_id) == {
            "output": "",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
        }
        assert "stdin_open" not in info(client, process_id)


def test_input_a_command_no_longer_reads_is_dropped_not_an_error(client: httpx.Client) -> None:
    """``head -c 1`` exits after one byte; the rest is dropped, the exit is clean, then 409."""
    process_id = start(client, "head -c 1", stdin=True)
    assert written(client, process_id, data="x" * (4 * PIECE))["queued"] == 4 * PIECE
    assert finish(client, process_id) == {
        "output": "x",
        "running": False,
        "exit_code": 0,
        "exit_reason": "exit",
    }
    assert write(client, process_id, data="more").json() == no_stdin(process_id)


# -- stdin_open --------------------------------------------------------------------------------


def test_stdin_open_is_listed_until_close_and_gone_after_exit(client: httpx.Client) -> None:
    """True while input can be sent; absent once closed (still running) and after exit."""
    closing = start(client, "sleep 300", stdin=True)
    exiting = start(client, "cat", stdin=True)
    try:
        assert info(client, closing)["stdin_open"] is True
        written(client, closing, close=True)
        listed = info(client, closing)
        assert listed["running"] is True
        assert "stdin_open" not in listed
        assert info(client, exiting)["stdin_open"] is True
        kill(client, exiting)
        assert "stdin_open" not in info(client, exiting)
    finally:
        kill(client, closing)


# -- refusals ----------------------------------------------------------------------------------


def test_input_without_an_open_stdin_is_a_409(client: httpx.Client) -> None:
    """Started without stdin, closed, or exited: 409 naming the process."""
    without = start(client, "sleep 300")
    closed = start(client, "sleep 300", stdin=True)
    try:
        assert write(client, without, data="x").status_code == 409
        assert write(client, without, data="x").json() == no_stdin(without)
        written(client, closed, close=True)
        response = write(client, closed, data="x")
        assert (response.status_code, response.json()) == (409, no_stdin(closed))
        assert write(client, closed, close=True).status_code == 409
    finally:
        kill(client, without)
        kill(client, closed)
    exited = start(client, "true", stdin=True)
    finish(client, exited)
    response = write(client, exited, data="x")
    assert (response.status_code, response.json()) == (409, no_stdin(exited))


def test_input_to_an_unknown_or_hidden_process_is_a_404(agent: InProcessAgent) -> None:
    """Unknown id, another chat's process, an untagged one from a chat: not found."""
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    with (
        agent.client() as untagged,
        agent.client({"Coder-Chat-Id": mine}) as chat,
        agent.client({"Coder-Chat-Id": other}) as stranger,
    ):
        unknown = write(untagged, "no-such-process", data="x")
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"message": 'Process "no-such-process" not found.'},
        )
        tagged = start(chat, "sleep 300", stdin=True)
        bare = start(untagged, "sleep 300", stdin=True)
        try:
            assert write(stranger, tagged, data="x").status_code == 404
            assert write(chat, bare, data="x").status_code == 404
            assert written(chat, tagged, data="x")["queued"] == 1
        finally:
            kill(untagged, tagged)
            kill(untagged, bare)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, NOTHING_TO_SEND),
        ({"close": False}, NOTHING_TO_SEND),
        ({"data": "a", "data_base64": "YQ=="}, BOTH_FORMS),
        ({"data_base64": "YQ="}, 'Invalid field "data_base64": not base64.'),
        ({"data_base64": "not base64!"}, 'Invalid field "data_base64": not base64.'),
        ({"data": 1}, "Request body must be valid JSON."),
        ({"close": "yes"}, "Request body must be valid JSON."),
    ],
    ids=["empty", "close-false", "both", "padding", "alphabet", "data-number", "close-string"],
)
def test_a_bad_input_body_is_a_400_before_the_id_is_looked_up(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    """Validated first, as a signal is: even an unknown id gets the 400, in the error shape."""
    response = client.post(f"{API}/no-such-process/input", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == message
    assert response.json()["validations"]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b'{"data": "x"}', {"Content-Type": "text/plain"}, 415),
        (b'{"data": "x"}', {}, 404),  # no Content-Type, as Coder's Go client sends
    ],
    ids=["malformed", "text-plain", "no-content-type"],
)
def test_input_bodies_follow_the_rules_of_every_post(
    client: httpx.Client, content: bytes, headers: dict[str, str], status: int
) -> None:
    """Malformed JSON 400, a simple Content-Type 415, none at all is JSON."""
    response = client.post(f"{API}/no-such-process/input", content=content, headers=headers)
    assert response.status_code == status, response.text


def test_an_oversized_input_body_is_a_413(make_agent: MakeAgent) -> None:
    """The body limit applies to input as to every request body."""
    with make_agent(Settings(max_body_bytes=100)) as small, small.client() as client:
        response = write(client, "any-id", data="x" * 200)
    assert response.status_code == 413
    assert response.json() == {"message": "Request body is larger than 100 bytes."}


def test_a_full_queue_is_a_429_that_queues_nothing(make_agent: MakeAgent, tmp_path: Path) -> None:
    """All or nothing: the refused call adds no byte, and what was accepted arrives in full.

    The command first waits on a FIFO, so the queue fills while nothing reads; then it counts
    every byte of its stdin.
    """
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    limit = 1000
    with make_agent(Settings(max_input_bytes=limit)) as small, small.client() as client:
        process_id = start(client, 'cat "$GATE"; wc -c', stdin=True, env={"GATE": str(gate)})
        accepted = 0
        while (response := write(client, process_id, data="x" * 300)).status_code == 200:
            accepted += response.json()["queued"]
            assert accepted < 1024 * 1024, "the queue never filled"
        assert response.status_code == 429, response.text
        assert response.headers["Retry-After"] == "1"
        assert "input queue is full" in response.json()["message"]
        assert accepted > limit  # the pipe took some, the queue the rest
        written(client, process_id, close=True)
        with gate.open("wb"):
            pass  # lets the command past its gate
        body = finish(client, process_id)
    assert (body["output"].strip(), body["exit_code"]) == (str(accepted), 0)


def test_input_larger_than_the_whole_queue_is_a_413(make_agent: MakeAgent) -> None:
    """No retry could queue it: a 413 that says to send it in pieces, not a 429."""
    with make_agent(Settings(max_input_bytes=10)) as small, small.client() as client:
        process_id = start(client, "sleep 300", stdin=True)
        try:
            response = write(client, process_id, data="x" * 11)
            assert response.status_code == 413, response.text
            assert "Send it in smaller pieces." in response.json()["message"]
            assert written(client, process_id, data="x" * 10)["queued"] == 10
        finally:
            kill(client, process_id)


def test_a_repeated_key_with_another_stdin_is_a_409(client: httpx.Client) -> None:
    """stdin identifies a start: the same key with it flipped conflicts and runs nothing."""
    key = str(uuid.uuid4())
    process_id = start(client, "sleep 300", stdin=True, idempotency_key=key)
    try:
        again = {"command": "sleep 300", "stdin": True, "idempotency_key": key}
        attached = client.post(f"{API}/start", json=again)
        assert attached.json() == {"id": process_id, "started": False, "attached": True}
        conflict = client.post(f"{API}/start", json={**again, "stdin": False})
        assert conflict.status_code == 409
        assert conflict.json()["message"].endswith("with a different stdin.")
    finally:
        kill(client, process_id)


# -- a command that never reads ----------------------------------------------------------------


def timed(call: Any, *args: Any, **kwargs: Any) -> httpx.Response:
    """Make the call; fail if it took longer than the liveness bound."""
    began = time.monotonic()
    response: httpx.Response = call(*args, **kwargs)
    assert time.monotonic() - began < LIVENESS_BOUND_SECONDS, "the agent stalled"
    return response


def test_a_command_that_never_reads_stalls_nothing(live_agent: LiveAgent) -> None:
    """2 MiB written in pieces to ``sleep 300``: the queue fills, then 429 at once, while
    liveness, listing, other processes and other input all answer."""
    with live_agent.client() as client:
        sleeper = start(client, "sleep 300", stdin=True)
        reader = start(client, "cat", stdin=True)
        try:
            accepted, refused = 0, 0
            for _ in range(2 * 1024 * 1024 // PIECE):
                response = timed(write, client, sleeper, data="x" * PIECE)
                if response.status_code == 200:
                    accepted += response.json()["queued"]
                else:
                    assert response.status_code == 429, response.text
                    assert response.headers["Retry-After"] == "1"
                    refused += 1
                assert timed(client.get, "/healthz").status_code == 200
            assert DEFAULT_MAX_INPUT_BYTES <= accepted < 2 * 1024 * 1024
            assert refused > 0
            assert timed(client.get, f"{API}/list").status_code == 200
            assert timed(written, client, reader, data="still here\n", close=True)["queued"] == 11
            assert timed(finish, client, reader)["output"] == "still here\n"
            echoed = start(client, "echo other work")
            assert timed(finish, client, echoed)["output"] == "other work\n"
        finally:
            kill(client, sleeper)
            kill(client, reader)


def test_concurrent_writers_to_one_command_each_land_whole(live_agent: LiveAgent) -> None:
    """Calls racing on one process: each call's bytes arrive together, none interleaved."""
    with live_agent.client() as client:
        process_id = start(client, "cat", stdin=True)
        pieces = [f"{name * 1000}\n" for name in "abcdefgh"]

        def send(piece: str) -> None:
            with live_agent.client() as own:
                written(own, process_id, data=piece)

        threads = [threading.Thread(target=send, args=(piece,)) for piece in pieces]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SAFETY_TIMEOUT_SECONDS)
        written(client, process_id, close=True)
        lines = finish(client, process_id)["output"].splitlines(keepends=True)
    assert sorted(lines) == sorted(pieces)


# -- descriptors -------------------------------------------------------------------------------


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_hundred_commands_with_stdin_leave_no_descriptor_behind() -> None:
    """Closed, killed, exited on their own with input queued: the agent's fd count returns."""
    with serve_agent() as agent, agent.client() as client:
        warm_up = start(client, "cat", stdin=True)  # lazy descriptors open once
        written(client, warm_up, close=True)
        finish(client, warm_up)
        before = _open_fds(agent.pid)
        for number in range(100):
            process_id = start(client, "cat", stdin=True)
            match number % 3:
                case 0:
                    written(client, process_id, data="bye\n", close=True)
                case 1:
                    written(client, process_id, data="x" * (2 * PIECE))
                    kill(client, process_id)
                case _:
                    written(client, process_id, data="y")
                    kill(client, process_id)
            finish(client, process_id)
        # Custody's scans open /proc files for a moment; wait until none is open.
        deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
        while (after := _open_fds(agent.pid)) > before and time.monotonic() < deadline:
            time.sleep(0.01)
    assert after <= before, agent.log_text(50)
