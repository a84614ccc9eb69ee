"""Output: a gibibyte through the agent, and the ways of following it (a stream, cursor reads,
a hundred streams, a reader that stops reading), each against the plain pipe, in one run.

The pipe floor is the same writer piped to ``cat > /dev/null``. Streams are read with curl
(``curl -sN``), so the numbers are the agent's, not a Python client's; a stream reader that
falls behind the kept window is told how many bytes it skipped, which each row sums.
"""

from __future__ import annotations

import os
import shlex
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from harness import (
    AUTH,
    PROCESSES,
    TOKEN,
    Baseline,
    Bench,
    Context,
    Row,
    reset_peak,
    seconds,
    status_kib,
)

from agentsdk import AgentConn

ONE_GIB = 1024**3
MIB = 1024**2
WAIT = {"wait": "true", "timeout_ms": "300000"}


def text_writer(size: int) -> str:
    """A fast writer of ``size`` bytes of text (logs are text)."""
    return f"yes | head -c {size}"


def pipe_floor(writer: str) -> float:
    """Seconds the writer takes into ``cat > /dev/null``."""
    return seconds(lambda: subprocess.run(["sh", "-c", f"{writer} | cat > /dev/null"], check=True))


class Gate:
    """A process started on the agent that waits at a FIFO before it runs its command, so
    that readers attach before its output begins."""

    def __init__(self, client: httpx.Client, command: str, workdir: Path) -> None:
        self.path = workdir / f"gate-{time.monotonic_ns()}"
        os.mkfifo(self.path)
        gated = f"read go < {shlex.quote(str(self.path))}; {command}"
        response = client.post(f"{PROCESSES}/start", json={"command": gated})
        response.raise_for_status()
        self.id: str = response.json()["id"]

    def open(self) -> float:
        """Let the command run; the moment it was let go."""
        with open(self.path, "w") as release:
            began = time.perf_counter()
            release.write("\n")
        return began


@contextmanager
def agent_client(ctx: Context) -> Iterator[httpx.Client]:
    """A plain client of the agent under test, with a long timeout."""
    with httpx.Client(base_url=ctx.base_url, headers=AUTH, timeout=600) as client:
        yield client


def wait_exit(client: httpx.Client, process_id: str) -> dict[str, object]:
    """The process's output once it exited (and its output is complete)."""
    body: dict[str, object] = client.get(f"{PROCESSES}/{process_id}/output", params=WAIT).json()
    assert body["running"] is False, body
    return body


def stream_reader(ctx: Context, process_id: str) -> subprocess.Popen[str]:
    """``curl -sN`` on the process's stream; prints the sum of the ``skipped`` it was told."""
    url = f"{ctx.base_url}{PROCESSES}/{process_id}/stream"
    script = (
        f"curl -sN -H 'Authorization: Bearer {TOKEN}' {shlex.quote(url)}"
        " | grep -o '\"skipped\":[0-9]*' | awk -F: '{s += $2} END {print s + 0}'"
    )
    return subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True)


def skipped_of(reader: subprocess.Popen[str]) -> int:
    """What a stream reader was told it skipped, once its stream ended."""
    out, _ = reader.communicate()
    return int(out.strip() or 0)


# -- a gibibyte through the agent ------------------------------------------------------------


def big_output(ctx: Context) -> list[Row]:
    """``head -c 1G /dev/zero`` through ``run_process`` (start → exit → head+tail), rounds
    interleaved with the pipe floor; the agent's peak memory growth while it streams."""
    size = ctx.pick(ONE_GIB, 64 * MIB)
    rounds = ctx.pick(3, 1)
    command = f"head -c {size} /dev/zero"
    ours: list[float] = []
    floor: list[float] = []
    with AgentConn(ctx.base_url, token=TOKEN, timeout=600) as agent:
        agent.run_process(command="head -c 1000000 /dev/zero")  # the pump's scratch, once
        rss_before = status_kib(ctx.pid, "VmRSS")
        reset_peak(ctx.pid)
        for _ in range(rounds):
            floor.append(pipe_floor(command))
            began = time.perf_counter()
            result = agent.run_process(command=command)
            ours.append(time.perf_counter() - began)
            assert result.truncated is not None and result.truncated.original_bytes == size
    growth = max(0, status_kib(ctx.pid, "VmHWM") - rss_before) / 1024
    return [
        Row(
            f"{size / MIB:,.0f} MiB of output, run_process",
            statistics.median(ours),
            "s",
            Baseline("head | cat", statistics.median(floor)),
            note=f"agent's peak RSS growth {growth:.1f} MiB",
        )
    ]


def stream_one(ctx: Context) -> list[Row]:
    """The same amount of text followed as a server-sent-event stream by one reader, from
    the writer's release to the end of the stream, vs the writer into ``cat``."""
    size = ctx.pick(ONE_GIB, 64 * MIB)
    rounds = ctx.pick(3, 1)
    writer = text_writer(size)
    ours: list[float] = []
    floor: list[float] = []
    skipped: list[int] = []
    with agent_client(ctx) as client, tempfile.TemporaryDirectory() as workdir:
        for _ in range(rounds):
            floor.append(pipe_floor(writer))
            gate = Gate(client, writer, Path(workdir))
            reader = stream_reader(ctx, gate.id)
            client.get("/healthz")  # the stream request has been taken in by now
            began = gate.open()
            skipped.append(skipped_of(reader))
            ours.append(time.perf_counter() - began)
            wait_exit(client, gate.id)
    return [
        Row(
            f"{size / MIB:,.0f} MiB of text over the SSE stream (curl)",
            statistics.median(ours),
            "s",
            Baseline("yes | head | cat", statistics.median(floor)),
            note=f"reader skipped {statistics.median(skipped) / MIB:.1f} MiB",
        )
    ]


def follow_cursor(ctx: Context) -> list[Row]:
    """Cursor reads (``since=next_offset&wait=true``, 1 MiB at most each) following a fast
    writer until its exit, vs the writer into ``cat``."""
    size = ctx.pick(256 * MIB, 32 * MIB)
    rounds = ctx.pick(3, 1)
    writer = text_writer(size)
    ours: list[float] = []
    floor: list[float] = []
    read: list[int] = []
    with agent_client(ctx) as client, tempfile.TemporaryDirectory() as workdir:
        for _ in range(rounds):
            floor.append(pipe_floor(writer))
            gate = Gate(client, writer, Path(workdir))
            began = gate.open()
            offset, got = 0, 0
            while True:
                params = {"since": str(offset), "limit": str(MIB), **WAIT}
                body = client.get(f"{PROCESSES}/{gate.id}/output", params=params).json()
                got += len(body["output"])
                offset = body["next_offset"]
                if not body["running"] and offset == body["total_bytes"]:
                    break
            ours.append(time.perf_counter() - began)
            read.append(got)
    share = statistics.median(read) / size
    return [
        Row(
            f"cursor reads following {size / MIB:,.0f} MiB of text",
            statistics.median(ours),
            "s",
            Baseline("yes | head | cat", statistics.median(floor)),
            note=f"read {share:.0%} of it, the rest reported skipped",
        )
    ]


def many_streams(ctx: Context) -> list[Row]:
    """100 streams following one process, vs one stream of the same process alone."""
    readers = ctx.pick(100, 20)
    size = 10 * MIB
    writer = text_writer(size)

    def follow(count: int, workdir: Path) -> tuple[float, int]:
        gate = Gate(client, writer, workdir)
        streams = [stream_reader(ctx, gate.id) for _ in range(count)]
        client.get("/healthz")
        time.sleep(0.5)  # curl processes connect; nothing tells when the last one has
        began = gate.open()
        skipped = sum(skipped_of(reader) for reader in streams)
        elapsed = time.perf_counter() - began
        wait_exit(client, gate.id)
        return elapsed, skipped

    with agent_client(ctx) as client, tempfile.TemporaryDirectory() as workdir:
        alone, _ = follow(1, Path(workdir))
        together, skipped = follow(readers, Path(workdir))
    return [
        Row(
            f"{readers} streams following {size / MIB:.0f} MiB of text",
            together,
            "s",
            Baseline("one stream", alone),
            note=f"skipped {skipped / readers / MIB:.1f} MiB per reader",
        )
    ]


# -- a reader that stops reading -------------------------------------------------------------


def stalled_socket(ctx: Context, process_id: str) -> socket.socket:
    """A stream of ``process_id`` whose client never reads (receive buffer of 4 KiB)."""
    host, port = ctx.base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET {PROCESSES}/{process_id}/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def stalled_reader(ctx: Context) -> list[Row]:
    """The writer's time from release to its recorded exit, with a stream reader that never
    reads, against the same writer with no reader (spec: a slow reader never slows it)."""
    size = ctx.pick(256 * MIB, 32 * MIB)
    rounds = ctx.pick(3, 1)
    writer = text_writer(size)
    alone: list[float] = []
    stalled: list[float] = []

    def timed(client: httpx.Client, workdir: Path, attach: Callable[[str], object]) -> float:
        gate = Gate(client, writer, workdir)
        attached = attach(gate.id)
        client.get("/healthz")
        began = gate.open()
        wait_exit(client, gate.id)
        elapsed = time.perf_counter() - began
        if isinstance(attached, socket.socket):
            attached.close()
        return elapsed

    with agent_client(ctx) as client, tempfile.TemporaryDirectory() as workdir:
        for _ in range(rounds):
            alone.append(timed(client, Path(workdir), lambda _id: None))
            stalled.append(timed(client, Path(workdir), lambda pid: stalled_socket(ctx, pid)))
    return [
        Row(
            f"{size / MIB:,.0f} MiB writer with a stalled stream reader",
            statistics.median(stalled),
            "s",
            Baseline("no reader", statistics.median(alone)),
        )
    ]


BENCHES = (
    Bench("a gibibyte of output", big_output, order=40),
    Bench("the SSE stream", stream_one, order=41),
    Bench("cursor reads", follow_cursor, order=42),
    Bench("many streams", many_streams, order=43),
    Bench("stalled reader", stalled_reader, order=44),
)
