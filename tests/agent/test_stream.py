"""End to end: ``GET /{id}/stream``, a process's output as server-sent events (spec:
live-io.md, "Streaming"), on a real uvicorn on 127.0.0.1.

Output events carry their offset and, as their id, the offset to resume from; the exit event
ends the stream. Many readers may follow one process; one that stops reading slows neither the
process nor the others, and learns what it missed as ``skipped``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.settings import Settings
from tests.conftest import LiveAgent, serve_agent

from ._live_processes import PROCESSES, SAFETY_TIMEOUT_SECONDS, send, start

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Waits end on an event; 60 s is only a safety net."""

AgentFactory = Callable[[Settings], AbstractContextManager[LiveAgent]]


@dataclass(frozen=True)
class Event:
    """One server-sent event: its name, its data decoded, and its id if it has one."""

    name: str
    data: dict[str, Any]
    id: int | None = None


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a ``text/event-stream``, as a client reads them; comments are dropped."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                event_id = fields.get("id")
                yield Event(
                    fields["event"],
                    json.loads(fields["data"]),
                    None if event_id is None else int(event_id),
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def stream_path(process_id: str) -> str:
    """The stream endpoint of a process."""
    return f"{PROCESSES}/{process_id}/stream"


def follow(
    client: httpx.Client, process_id: str, headers: dict[str, str] | None = None, **params: str
) -> list[Event]:
    """Every event of a stream, to its end."""
    with client.stream("GET", stream_path(process_id), params=params, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        return list(parse_events(r.iter_lines()))


def joined(events: Iterable[Event], start: int = 0) -> str:
    """The output of ``events``, checked to be contiguous from ``start``, nothing skipped."""
    texts = []
    position = start
    for event in events:
        if event.name == "output":
            assert event.data["offset"] == position
            assert "skipped" not in event.data
            assert event.id is not None
            texts.append(event.data["output"])
            position = event.id
    return "".join(texts)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe: ``cat`` on it prints what the test writes, when the test writes it."""
    path = tmp_path / "feed"
    os.mkfifo(path)
    return path


def test_a_stream_is_the_output_then_the_exit_code(live_agent: LiveAgent) -> None:
    """A finished process streams what it wrote, each event's id its end, then its exit."""
    with live_agent.client() as client:
        process_id = start(client, "printf 'one\\n'; printf 'two\\n' >&2; exit 3")
        client.get(f"{PROCESSES}/{process_id}/output", params=WAIT)
        events = follow(client, process_id)
    assert joined(events) == "one\ntwo\n"
    assert events[-1] == Event("exit", {"exit_code": 3})
    assert events[-2].id == 8


def test_last_event_id_wins_over_since(live_agent: LiveAgent) -> None:
    """A reconnecting EventSource sends the last id it saw; that is where the stream resumes."""
    with live_agent.client() as client:
        process_id = start(client, "printf 0123456789")
        client.get(f"{PROCESSES}/{process_id}/output", params=WAIT)
        events = follow(client, process_id, headers={"Last-Event-ID": "6"}, since="2")
    assert joined(events, start=6) == "6789"


def test_a_cut_stream_resumed_with_last_event_id_yields_every_byte_once(
    live_agent: LiveAgent, fifo: Path
) -> None:
    """Cut after its first event while the command still writes, resumed from that event's
    id: every byte comes once and in order, and the exit event last."""
    first_part = "".join(f"{i:06d} first ünïcödé €\n" for i in range(4000))
    second_part = "".join(f"{i:06d} second 𝄞\n" for i in range(4000))
    with live_agent.client() as client:
        process_id = start(client, f"cat {shlex.quote(str(fifo))}")
        writer = os.open(fifo, os.O_WRONLY)
        try:
            with client.stream("GET", stream_path(process_id)) as response:
                os.write(writer, first_part.encode())
                first = next(parse_events(response.iter_lines()))
            os.write(writer, second_part.encode())
        finally:
            os.close(writer)
        assert first.id is not None
        rest = follow(client, process_id, headers={"Last-Event-ID": str(first.id)})
    assert first.data["offset"] == 0
    assert first.data["output"] + joined(rest, start=first.id) == first_part + second_part
    assert rest[-1] == Event("exit", {"exit_code": 0})


def test_ten_concurrent_readers_get_the_same_bytes(
    make_live_agent: AgentFactory, fifo: Path
) -> None:
    """Ten streams open before the command writes 1 MB: each gets all of it, in order."""
    readers = 10
    data = "".join(f"{i:07d} ∑ line\n" for i in range(70_000))
    settings = Settings(token="stream-token", output_window_bytes=4 * MIB)
    results: list[list[Event]] = [[] for _ in range(readers)]
    connected = threading.Barrier(readers + 1, timeout=SAFETY_TIMEOUT_SECONDS)
    with make_live_agent(settings) as agent, agent.client() as client:
        process_id = start(client, f"cat {shlex.quote(str(fifo))}")

        def read_stream(index: int) -> None:
            with (
                agent.client() as own,
                own.stream("GET", stream_path(process_id)) as response,
            ):
                connected.wait()
                results[index] = list(parse_events(response.iter_lines()))

        threads = [threading.Thread(target=read_stream, args=(i,)) for i in range(readers)]
        for thread in threads:
            thread.start()
        connected.wait()
        writer = os.open(fifo, os.O_WRONLY)
        try:
            os.write(writer, data.encode())
        finally:
            os.close(writer)
        for thread in threads:
            thread.join(SAFETY_TIMEOUT_SECONDS)
    for events in results:
        assert joined(events) == data
        assert events[-1] == Event("exit", {"exit_code": 0})


def dechunked(raw: bytes) -> tuple[bytes, bytes]:
    """An HTTP/1.1 response with a chunked body: its head and its body, which must be
    complete (ended by the zero-length chunk)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    body = bytearray()
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, bytes(body)
        body += rest[:size]
        rest = rest[size + 2 :]


def test_a_reader_that_stops_reading_stalls_neither_the_process_nor_other_readers(
    live_agent: LiveAgent, fifo: Path
) -> None:
    """One stream's client never reads while the command writes 50 MB: the command finishes,
    another stream gets its exit event, and the stalled reader, once it reads, gets the
    window's bytes with the gap counted as skipped, then the exit."""
    total = 50_000_000
    command = f"read go < {shlex.quote(str(fifo))}; head -c {total} /dev/zero | tr '\\0' y"
    with live_agent.client() as client:
        process_id = start(client, command)
        host, port = live_agent.base_url.removeprefix("http://").split(":")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(SAFETY_TIMEOUT_SECONDS)
        stalled.connect((host, int(port)))
        with stalled:
            stalled.sendall(
                f"GET {stream_path(process_id)} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {live_agent.token}\r\nConnection: close\r\n\r\n".encode()
            )
            other: list[Event] = []
            reader = threading.Thread(target=lambda: other.extend(follow(client, process_id)))
            reader.start()
            with open(fifo, "w") as release:
                release.write("\n")
            finished = client.get(f"{PROCESSES}/{process_id}/output", params=WAIT).json()
            reader.join(SAFETY_TIMEOUT_SECONDS)
            raw = bytearray()
            while chunk := stalled.recv(65536):
                raw += chunk
    assert (finished["running"], finished["exit_code"]) == (False, 0)
    assert finished["truncated"]["original_bytes"] == total
    assert other[-1] == Event("exit", {"exit_code": 0})
    head, body = dechunked(bytes(raw))
    assert head.startswith(b"HTTP/1.1 200")
    events = list(parse_events(body.decode().split("\n")))
    position = 0
    skipped = 0
    for event in events[:-1]:
        assert event.name == "output"
        assert event.id is not None
        assert event.data["offset"] == position + event.data.get("skipped", 0)
        assert event.data["output"] == "y" * (event.id - event.data["offset"])
        skipped += event.data.get("skipped", 0)
        position = event.id
    assert position == total
    assert skipped > 0
    assert events[-1] == Event("exit", {"exit_code": 0})


class TestRefused:
    """A stream is scoped and validated like every other endpoint, before it starts."""

    def test_a_process_of_another_chat_or_none_is_404(self, live_agent: LiveAgent) -> None:
        """Another chat's process and an untagged one are hidden, as an unknown id is."""
        with (
            live_agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as mine,
            live_agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as theirs,
            live_agent.client() as anyone,
        ):
            chat_process = start(mine, "true")
            untagged = start(anyone, "true")
            for client, process_id in (
                (theirs, chat_process),
                (mine, untagged),
                (anyone, "no-such-process"),
            ):
                response = client.get(stream_path(process_id))
                assert response.status_code == 404
                assert response.json() == {"message": f'Process "{process_id}" not found.'}

    @pytest.mark.parametrize(
        ("params", "headers", "field"),
        [
            ({"since": "-1"}, {}, "since"),
            ({"since": "last"}, {}, "since"),
            ({"since": "1.5"}, {}, "since"),
            ({}, {"Last-Event-ID": "abc"}, "Last-Event-ID"),
            ({}, {"Last-Event-ID": ""}, "Last-Event-ID"),
        ],
    )
    def test_a_bad_offset_is_a_400(
        self,
        live_agent: LiveAgent,
        params: dict[str, str],
        headers: dict[str, str],
        field: str,
    ) -> None:
        """since and Last-Event-ID must be non-negative whole numbers."""
        with live_agent.client() as client:
            process_id = start(client, "true")
            response = client.get(stream_path(process_id), params=params, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["validations"][0]["field"] == field

    def test_a_stream_needs_the_token(self, live_agent: LiveAgent) -> None:
        """Like every /api/ path: 401 without the bearer token."""
        with live_agent.client() as client:
            process_id = start(client, "true")
        response = httpx.get(live_agent.base_url + stream_path(process_id))
        assert response.status_code == 401


def test_open_streams_end_cleanly_when_the_agent_shuts_down() -> None:
    """SIGTERM while a stream follows a command that ignores SIGTERM: the stream ends at once
    and cleanly (the body is complete, with no exit event), and the agent exits 0."""
    with serve_agent("--shutdown-grace", "1") as agent, agent.client() as client:
        process_id = start(client, "trap '' TERM; echo ready; sleep 300")
        with client.stream("GET", stream_path(process_id)) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: output"
            agent.process.send_signal(signal.SIGTERM)
            events = list(parse_events(["event: output", *lines]))
        status = agent.process.wait(SAFETY_TIMEOUT_SECONDS)
    assert status == 0, agent.log_text()
    assert [e.name for e in events] == ["output"]
    assert events[0].data == {"offset": 0, "output": "ready\n"}


def test_a_stream_whose_reader_stopped_reading_does_not_hold_the_shutdown() -> None:
    """A stream's client that never reads cannot take the stream's end: the agent drops it
    and exits 0 long before uvicorn's own graceful timeout (here over the 30 s wait)."""
    with serve_agent("--shutdown-grace", "1", "--drain-seconds", "30") as agent:
        with agent.client() as client:
            process_id = start(client, "yes")
        host, port = agent.base_url.removeprefix("http://").split(":")
        with socket.socket() as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect((host, int(port)))
            stalled.sendall(
                f"GET {stream_path(process_id)} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {agent.token}\r\n\r\n".encode()
            )
            # The stream fills the socket's buffers: the answer has begun, and stalled.
            assert stalled.recv(12) == b"HTTP/1.1 200"
            agent.process.send_signal(signal.SIGTERM)
            status = agent.process.wait(SAFETY_TIMEOUT_SECONDS)
    assert status == 0, agent.log_text()


def test_a_stream_follows_a_command_until_it_is_killed(live_agent: LiveAgent) -> None:
    """A stream of a running command stays open until the command ends, however it ends."""
    with live_agent.client() as client:
        process_id = start(client, "echo ready; sleep 300")
        with client.stream("GET", stream_path(process_id)) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: output"
            send(client, process_id, "kill")
            events = list(parse_events(["event: output", *lines]))
    assert joined(events) == "ready\n"
    assert events[-1] == Event("exit", {"exit_code": -1})
