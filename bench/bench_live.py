"""Benchmarks of live output: streams, cursor reads, and memory under many chatty processes.

Each function takes a running agent (its base URL and pid) and returns rows for
``bench/run.py``'s table, every one against a baseline measured in the same run:

- 1 GiB of output followed over ``/{id}/stream`` vs ``head -c 1G /dev/zero | cat``;
- the same output followed by cursor reads (``output?since=N``) vs the same pipe;
- 100 concurrent streams of one process vs one stream of it;
- a writer's throughput with a stalled stream reader attached vs with none;
- the agent's memory after 500 processes × 10 MB vs its output budget.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

from agentsdk import AgentConn, ExitEvent
from agentsdk.wire import API_PREFIX

TOKEN = "bench-token"  # noqa: S105 - the throwaway token of bench/run.py's agent
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MIB = 1024**2
STREAM_READERS = 100
CHATTY_PROCESSES = 500
CHATTY_BYTES = 10 * MIB
DEFAULT_BUDGET_MIB = 128
"""The agent's default ``--output-budget-bytes``, in MiB."""


def _pipe_ms(size: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", f"head -c {size} /dev/zero | cat > /dev/null"], check=True)
    return (time.perf_counter() - t0) * 1000


def _follow_stream(agent: AgentConn, process_id: str) -> int:
    received = 0
    with agent.stream_output(process_id) as stream:
        for event in stream:
            if isinstance(event, ExitEvent):
                break
            received += len(event.output.encode())
    return received


def stream_throughput(base: str, size: int) -> list[tuple[str, float, float, str, str]]:
    """``size`` bytes followed over the SSE stream, and by cursor reads, vs a pipe."""
    floor = _pipe_ms(size)
    rows = []
    with AgentConn(base, token=TOKEN, timeout=600) as agent:
        t0 = time.perf_counter()
        started = agent.start_process(command=f"head -c {size} /dev/zero")
        received = _follow_stream(agent, started.id)
        streamed = (time.perf_counter() - t0) * 1000
        note = f"{received / MIB:,.0f} MiB delivered, the rest reported skipped"
        rows.append((f"{size / MIB:,.0f} MiB over the stream", streamed, floor, "pipe", note))

        t0 = time.perf_counter()
        started = agent.start_process(command=f"head -c {size} /dev/zero")
        offset, delivered = 0, 0
        while True:
            read = agent.process_output(started.id, since=offset, limit=1024 * 1024)
            delivered += len(read.output.encode())
            offset = read.next_offset if read.next_offset is not None else offset
            if not read.running and offset >= (read.total_bytes or 0):
                break
        cursor = (time.perf_counter() - t0) * 1000
        note = f"{delivered / MIB:,.0f} MiB delivered"
        rows.append((f"{size / MIB:,.0f} MiB by cursor reads", cursor, floor, "pipe", note))
    return rows


def concurrent_streams(base: str, size: int) -> list[tuple[str, float, float, str, str]]:
    """``STREAM_READERS`` streams of one writer vs one stream of the same writer."""
    with AgentConn(base, token=TOKEN, timeout=600) as agent:
        alone = _gated_streams(agent, size, readers=1)
        many = _gated_streams(agent, size, readers=STREAM_READERS)
    name = f"{STREAM_READERS} streams of {size / MIB:,.0f} MiB"
    return [(name, many, alone, "one stream", "")]


def _gated_streams(agent: AgentConn, size: int, readers: int) -> float:
    # The writer waits for its stdin to end, so every reader is attached before it writes.
    started = agent.start_process(command=f"cat >/dev/null; head -c {size} /dev/zero", stdin=True)
    done = threading.Barrier(readers + 1)
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            _follow_stream(agent, started.id)
        except BaseException as exc:  # reported below, not lost in a thread
            errors.append(exc)
        finally:
            done.wait()

    threads = [threading.Thread(target=follow) for _ in range(readers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # attach time for the readers; not part of the measurement
    t0 = time.perf_counter()
    agent.close_input(started.id)
    done.wait()
    elapsed = (time.perf_counter() - t0) * 1000
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return elapsed


def stalled_reader(base: str, size: int) -> list[tuple[str, float, float, str, str]]:
    """A writer's time with a stream reader that never reads vs with no reader at all."""
    with AgentConn(base, token=TOKEN, timeout=600) as agent:
        alone = _writer_ms(agent, size, stall=False)
        stalled = _writer_ms(agent, size, stall=True)
    name = f"{size / MIB:,.0f} MiB with a stalled reader"
    return [(name, stalled, alone, "no reader", "")]


def _writer_ms(agent: AgentConn, size: int, *, stall: bool) -> float:
    started = agent.start_process(command=f"cat >/dev/null; head -c {size} /dev/zero", stdin=True)
    sock = None
    if stall:
        host, _, port = base_host_port(agent.base_url)
        sock = socket.create_connection((host, port))
        sock.sendall(
            f"GET {API_PREFIX}/{started.id}/stream HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        sock.recv(1)  # the stream is open; from now on nothing is read
    try:
        t0 = time.perf_counter()
        agent.close_input(started.id)
        agent.process_output(started.id, wait=True)
        return (time.perf_counter() - t0) * 1000
    finally:
        if sock is not None:
            sock.close()


def base_host_port(base_url: str) -> tuple[str, str, int]:
    """``(host, ":", port)`` of an ``http://host:port`` URL."""
    host, sep, port = base_url.removeprefix("http://").partition(":")
    return host, sep, int(port)


def chatty_memory(base: str, pid: int) -> list[tuple[str, float, float, str, str]]:
    """The agent's RSS growth after ``CHATTY_PROCESSES`` × ``CHATTY_BYTES`` vs its budget."""
    before = _rss_mib(pid)
    with httpx.Client(base_url=f"{base}{API_PREFIX}", headers=AUTH, timeout=600) as http:
        ids = []
        for _ in range(CHATTY_PROCESSES):
            answer = http.post("/start", json={"command": f"head -c {CHATTY_BYTES} /dev/zero"})
            answer.raise_for_status()
            ids.append(answer.json()["id"])
        for process_id in ids:
            http.get(f"/{process_id}/output", params={"wait": "true"}).raise_for_status()
    growth = _rss_mib(pid) - before
    name = f"RSS after {CHATTY_PROCESSES} × {CHATTY_BYTES // MIB} MiB"
    return [(name, growth, DEFAULT_BUDGET_MIB, "the output budget", "growth, MiB")]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise KeyError("VmRSS")
