"""Cursor reads over HTTP: ``output?since=N[&limit=L]``, ``since=last`` and long polls for new
output (spec: live-io.md, "Output as a byte stream").

Where HTTP is not the point, against the agent in process; long polls and the 10 MB reads
against a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import os
import shlex
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.settings import Settings
from agentsdk.wire import MAX_CURSOR_LIMIT_BYTES
from tests.conftest import LiveAgent

from ._live_processes import (
    PROCESSES,
    SAFETY_TIMEOUT_SECONDS,
    open_raw_get,
    read_raw_response,
    send,
    start,
)
from .conftest import InProcessAgent, MakeAgent

KIB = 1024
MIB = 1024 * KIB
HEAD = 16 * KIB
WINDOW = 256 * KIB
"""The default head and window (--output-window-bytes)."""

TEN_MB = 10_000_000

WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Waits end on an event; 60 s is only a safety net."""

AgentFactory = Callable[[Settings], AbstractContextManager[LiveAgent]]


@pytest.fixture
def client(agent: InProcessAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared in-process agent."""
    with agent.client() as c:
        yield c


def read(client: httpx.Client, process_id: str, **params: str) -> dict[str, Any]:
    """The output endpoint's answer to ``params``, failing on anything but 200."""
    response = client.get(f"{PROCESSES}/{process_id}/output", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def finished(client: httpx.Client, command: str, **fields: Any) -> str:
    """Run ``command`` to its end; its id."""
    process_id = start(client, command, **fields)
    assert read(client, process_id, **WAIT)["running"] is False
    return process_id


def mixed_text(size: int) -> str:
    """About ``size`` bytes of text of one-, two-, three- and four-byte characters, each line
    numbered, so a byte out of place shows."""
    lines = []
    total = 0
    number = 0
    while total < size:
        line = f"{number:08d} héllo wörld € 𝄞 ok\n"
        lines.append(line)
        total += len(line.encode())
        number += 1
    return "".join(lines)


def written_file(tmp_path: Path, text: str) -> Path:
    """``text`` in a file, for ``cat`` to print."""
    path = tmp_path / "output.txt"
    path.write_text(text)
    return path


class TestCursorRead:
    """The kept bytes from an offset on, where they start, and where the next read starts."""

    def test_from_zero_is_the_whole_output_with_its_offsets(self, client: httpx.Client) -> None:
        """No cuts, no marker, no truncated; offset, next_offset and total_bytes; no skipped."""
        process_id = finished(client, "printf 'hello world'")
        assert read(client, process_id, since="0") == {
            "output": "hello world",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
            "offset": 0,
            "next_offset": 11,
            "total_bytes": 11,
        }

    def test_limit_walks_the_output_read_by_read(self, client: httpx.Client) -> None:
        """Each read returns at most ``limit`` bytes; ``next_offset`` is the next ``since``."""
        process_id = finished(client, "printf 'hello world'")
        texts = []
        since = 0
        while since < 11:
            body = read(client, process_id, since=str(since), limit="4")
            assert body["offset"] == since
            texts.append(body["output"])
            since = body["next_offset"]
        assert texts == ["hell", "o wo", "rld"]

    @pytest.mark.parametrize("since", ["11", "12", "9" * 5000])
    def test_at_or_past_the_end_is_empty_at_the_end(self, client: httpx.Client, since: str) -> None:
        """Any offset at or past the end, of any length: no output, ``next_offset`` the total."""
        process_id = finished(client, "printf 'hello world'")
        body = read(client, process_id, since=since)
        assert (body["output"], body["offset"], body["next_offset"]) == ("", 11, 11)
        assert "skipped" not in body

    def test_lines_longer_than_the_snapshot_keeps_are_not_cut(self, client: httpx.Client) -> None:
        """The snapshot cuts lines at 2048 bytes; a cursor read returns the bytes as they are."""
        process_id = finished(client, "head -c 5000 /dev/zero | tr '\\0' x")
        body = read(client, process_id, since="0")
        assert body["output"] == "x" * 5000
        assert "truncated" not in body

    def test_limit_above_a_mebibyte_counts_as_one(self, make_agent: MakeAgent) -> None:
        """Any larger limit, of any length, returns 1 MiB at most."""
        settings = Settings(token="cursor-token", output_window_bytes=2 * MIB)
        with make_agent(settings) as big_window, big_window.client() as client:
            process_id = finished(client, "head -c 2000000 /dev/zero | tr '\\0' x")
            for limit in (str(MAX_CURSOR_LIMIT_BYTES + 1), "9" * 5000):
                body = read(client, process_id, since=str(HEAD), limit=limit)
                assert body["next_offset"] - HEAD == MAX_CURSOR_LIMIT_BYTES

    def test_the_bytes_no_longer_kept_are_counted_as_skipped(self, client: httpx.Client) -> None:
        """After the head, a read jumps to the window and says exactly how much it skipped."""
        total = 1_000_000
        process_id = finished(client, f"head -c {total} /dev/zero | tr '\\0' x")
        head = read(client, process_id, since="0", limit=str(MIB))
        assert (head["output"], head["next_offset"]) == ("x" * HEAD, HEAD)
        body = read(client, process_id, since=str(HEAD), limit=str(MIB))
        assert body["skipped"] == total - HEAD - WINDOW
        assert (body["offset"], body["next_offset"]) == (total - WINDOW, total)
        assert body["output"] == "x" * WINDOW

    def test_a_character_is_never_split_across_reads(
        self, client: httpx.Client, tmp_path: Path
    ) -> None:
        """Reads of 5 bytes over text of 1- to 4-byte characters: each read ends on a
        character boundary, and the reads joined are the text."""
        text = mixed_text(3000)
        process_id = finished(client, f"cat {written_file(tmp_path, text)}")
        texts = []
        since = 0
        while True:
            body = read(client, process_id, since=str(since), limit="5")
            if not body["output"]:
                break
            assert "\ufffd" not in body["output"]
            texts.append(body["output"])
            since = body["next_offset"]
        assert "".join(texts) == text
        assert since == len(text.encode())

    def test_a_snapshot_is_as_coder_answers_it(self, client: httpx.Client) -> None:
        """Without since, none of the cursor fields: Coder's answer, and the exit reason."""
        process_id = finished(client, "printf 'hello world'")
        assert read(client, process_id) == {
            "output": "hello world",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
        }


class TestSinceLast:
    """The agent keeps each chat context's place in each process."""

    def test_since_last_continues_where_this_chat_left_off(self, agent: InProcessAgent) -> None:
        """A chat and the context without a chat each start at 0 and go on from their own
        last read; another chat does not see the process at all."""
        chat, other = str(uuid.uuid4()), str(uuid.uuid4())
        with (
            agent.client({"Coder-Chat-Id": chat}) as mine,
            agent.client() as control_plane,
            agent.client({"Coder-Chat-Id": other}) as theirs,
        ):
            process_id = finished(mine, "printf 0123456789")
            assert read(mine, process_id, since="last", limit="4")["output"] == "0123"
            assert read(control_plane, process_id, since="last", limit="3")["output"] == "012"
            assert read(mine, process_id, since="last", limit="4")["output"] == "4567"
            assert read(control_plane, process_id, since="last", limit="3")["output"] == "345"
            last = read(mine, process_id, since="last")
            assert (last["output"], last["offset"], last["next_offset"]) == ("89", 8, 10)
            assert read(mine, process_id, since="last")["output"] == ""
            missing = theirs.get(f"{PROCESSES}/{process_id}/output", params={"since": "last"})
            assert missing.status_code == 404

    def test_any_cursor_read_moves_the_place(self, client: httpx.Client) -> None:
        """``since=N`` moves this context's place too: ``last`` continues after it."""
        process_id = finished(client, "printf 0123456789")
        read(client, process_id, since="6", limit="2")
        assert read(client, process_id, since="last")["output"] == "89"


class TestBadCursor:
    """What since and limit may not be: a 400 naming the parameter, before anything else."""

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"since": "-1"}, "since"),
            ({"since": "soon"}, "since"),
            ({"since": "1.5"}, "since"),
            ({"since": ""}, "since"),
            ({"since": "+5"}, "since"),
            ({"since": "LAST"}, "since"),
            ({"since": "0", "limit": "0"}, "limit"),
            ({"since": "0", "limit": "-1"}, "limit"),
            ({"since": "0", "limit": "lots"}, "limit"),
            ({"since": "0", "limit": ""}, "limit"),
            ({"limit": "10"}, "limit"),
        ],
    )
    def test_is_a_400_naming_the_parameter(
        self, client: httpx.Client, params: dict[str, str], field: str
    ) -> None:
        """Not a non-negative whole number or ``last``; not a positive limit; a limit alone."""
        process_id = finished(client, "true")
        response = client.get(f"{PROCESSES}/{process_id}/output", params=params)
        assert response.status_code == 400, response.text
        assert response.json()["validations"][0]["field"] == field


# -- long polls and large outputs, on a real server ------------------------------------------


@pytest.mark.e2e
def test_ten_megabytes_read_while_written_reassemble_exactly(
    make_live_agent: AgentFactory, tmp_path: Path
) -> None:
    """With a window as large as the output, reads that follow a 10 MB command (long polls
    with since, 1 MiB at a time) return every byte once, in order, no character broken."""
    text = mixed_text(TEN_MB)
    data_length = len(text.encode())
    command = f"cat {written_file(tmp_path, text)}; exec sleep 300"
    settings = Settings(token="cursor-token", output_window_bytes=16 * MIB)
    with make_live_agent(settings) as agent, agent.client() as client:
        process_id = start(client, command)
        texts = []
        since = 0
        while since < data_length:
            body = read(client, process_id, since=str(since), limit=str(MIB), **WAIT)
            assert body["running"] is True
            assert "skipped" not in body
            assert body["offset"] == since
            texts.append(body["output"])
            since = body["next_offset"]
        send(client, process_id, "kill")
        last = read(client, process_id, since=str(since), **WAIT)
    assert (last["output"], last["running"], last["total_bytes"]) == ("", False, data_length)
    assert "".join(texts) == text


@pytest.mark.e2e
def test_ten_megabytes_past_the_window_report_exactly_what_was_skipped(
    live_agent: LiveAgent, tmp_path: Path
) -> None:
    """Read after the command ended, 10 MB are the head, then exactly the last 256 KiB, with
    every byte between counted as skipped."""
    text = mixed_text(TEN_MB)
    data = text.encode()
    with live_agent.client() as client:
        process_id = finished(client, f"cat {written_file(tmp_path, text)}")
        head = read(client, process_id, since="0", limit=str(MIB))
        rest = read(client, process_id, since=str(head["next_offset"]), limit=str(MIB))
    assert (head["offset"], head["next_offset"]) == (0, HEAD)
    assert head["output"] == data[:HEAD].decode(errors="replace")
    assert rest["skipped"] == len(data) - HEAD - WINDOW
    assert (rest["offset"], rest["next_offset"]) == (len(data) - WINDOW, len(data))
    assert rest["output"] == data[-WINDOW:].decode(errors="replace")


@pytest.mark.e2e
def test_a_long_poll_with_since_returns_as_soon_as_a_byte_arrives(
    live_agent: LiveAgent, tmp_path: Path
) -> None:
    """The poll is in flight, the command prints one byte: the answer comes with that byte,
    the process still running, long before the poll's own 60 s cap."""
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    with live_agent.client() as client:
        process_id = start(client, f"cat {shlex.quote(str(fifo))}")
        began = time.monotonic()
        poll = open_raw_get(
            live_agent.base_url,
            f"{PROCESSES}/{process_id}/output?since=0&wait=true&timeout_ms=60000",
            live_agent.token,
        )
        # A round trip after the poll's bytes arrived: it is being served, and waiting.
        assert client.get("/healthz").status_code == 200
        writer = os.open(fifo, os.O_WRONLY)
        try:
            os.write(writer, b"x")
            answer = read_raw_response(poll)
        finally:
            os.close(writer)
        assert answer.body is not None
        assert time.monotonic() - began < SAFETY_TIMEOUT_SECONDS
        assert (answer.status, answer.body["output"], answer.body["running"]) == (200, "x", True)
        assert read(client, process_id, since="1", **WAIT)["running"] is False


@pytest.mark.e2e
def test_a_long_poll_with_since_last_shows_only_what_is_new(
    live_agent: LiveAgent, tmp_path: Path
) -> None:
    """A model's view: each since=last poll returns what came after the previous one."""
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    with live_agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as client:
        process_id = start(client, f"cat {shlex.quote(str(fifo))}")
        writer = os.open(fifo, os.O_WRONLY)
        try:
            os.write(writer, b"first\n")
            assert read(client, process_id, since="last", **WAIT)["output"] == "first\n"
            os.write(writer, b"second\n")
            assert read(client, process_id, since="last", **WAIT)["output"] == "second\n"
        finally:
            os.close(writer)
        final = read(client, process_id, since="last", **WAIT)
    assert (final["output"], final["running"], final["exit_code"]) == ("", False, 0)
