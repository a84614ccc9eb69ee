"""What following output costs: a writer's throughput with a stalled stream reader attached,
and the agent's memory after many large outputs, each kept as a head and a window.

    .venv/bin/python bench/live_output.py [--size BYTES] [--rounds N]

Throughput is ``yes | head -c SIZE`` (text, as logs are) through the agent, from the moment
the command is let go to its recorded exit: alone, with one stream reader that never reads
(its socket's receive buffer shrunk to 4 KiB), and with one stream reader that reads
everything (in this process, so on a small machine it competes for the same cores). Memory
is the agent's RSS before and after 50 commands of 10 MB each, at the default window and
budget, then with a budget smaller than their windows.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from run import TOKEN, _status_kib, _wait_for_line

PROCESSES = "/api/v0/processes"
WAIT = {"wait": "true", "timeout_ms": "300000"}


@contextmanager
def agent(*flags: str) -> Iterator[tuple[httpx.Client, int]]:
    """``agentproc serve`` with ``flags``: a client of it, and its pid."""
    with tempfile.NamedTemporaryFile(prefix="agentproc-live-", suffix=".log") as log:
        argv = [sys.executable, "-m", "agentproc", "serve", "--port", "0", "--token", TOKEN]
        proc = subprocess.Popen([*argv, *flags], stdout=log, stderr=subprocess.STDOUT)
        try:
            base = _wait_for_line(
                Path(log.name), re.compile(r"process API at (http://\S+?)/api/v0/processes"), proc
            )
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                yield client, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def start(client: httpx.Client, command: str) -> str:
    """Start ``command``; its id."""
    response = client.post(f"{PROCESSES}/start", json={"command": command})
    response.raise_for_status()
    process_id: str = response.json()["id"]
    return process_id


def stalled_reader(client: httpx.Client, process_id: str) -> socket.socket:
    """A stream of ``process_id`` whose client never reads."""
    host, port = str(client.base_url).removeprefix("http://").rstrip("/").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET {PROCESSES}/{process_id}/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def reading_reader(client: httpx.Client, process_id: str) -> threading.Thread:
    """A stream of ``process_id`` read to its end, in a thread."""

    def read() -> None:
        with client.stream("GET", f"{PROCESSES}/{process_id}/stream") as response:
            for _ in response.iter_bytes():
                pass

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def write_seconds(client: httpx.Client, size: int, reader: str, workdir: Path) -> float:
    """Seconds from letting ``yes | head -c size`` go to its recorded exit, with ``reader``."""
    gate = workdir / f"gate-{time.monotonic_ns()}"
    os.mkfifo(gate)
    process_id = start(client, f"read go < {shlex.quote(str(gate))}; yes | head -c {size}")
    stalled = stalled_reader(client, process_id) if reader == "stalled" else None
    thread = reading_reader(client, process_id) if reader == "reading" else None
    # A round trip on the same agent: the stream request has been taken in by now.
    client.get("/healthz")
    with open(gate, "w") as release:
        began = time.perf_counter()
        release.write("\n")
    body = client.get(f"{PROCESSES}/{process_id}/output", params=WAIT).json()
    elapsed = time.perf_counter() - began
    assert body["exit_code"] == 0 and body["truncated"]["original_bytes"] == size, body
    if stalled is not None:
        stalled.close()
    if thread is not None:
        thread.join()
    return elapsed


def throughput(size: int, rounds: int) -> None:
    """Print the writer's throughput alone and with each kind of reader."""
    with agent() as (client, _), tempfile.TemporaryDirectory() as workdir:
        results: dict[str, list[float]] = {"none": [], "stalled": [], "reading": []}
        for _ in range(rounds):
            for reader, times in results.items():
                times.append(write_seconds(client, size, reader, Path(workdir)))
    alone = statistics.median(results["none"])
    print(f"writer throughput, {size / 2**20:.0f} MiB, median of {rounds}:")
    for reader, times in results.items():
        seconds = statistics.median(times)
        print(
            f"  {reader + ' reader':<16} {size / seconds / 2**20:8.0f} MiB/s"
            f"  ({seconds:.3f} s, {alone / seconds:.2f}x of alone)"
        )


def memory(flags: Sequence[str], label: str, count: int = 50, size: int = 10_000_000) -> None:
    """Print the agent's RSS before and after ``count`` commands of ``size`` bytes."""
    with agent(*flags) as (client, pid):
        warm = start(client, "head -c 100000 /dev/zero")
        client.get(f"{PROCESSES}/{warm}/output", params=WAIT)
        before = _status_kib(pid, "VmRSS")
        ids = [start(client, f"head -c {size} /dev/zero") for _ in range(count)]
        for process_id in ids:
            client.get(f"{PROCESSES}/{process_id}/output", params=WAIT)
        after = _status_kib(pid, "VmRSS")
        peak = _status_kib(pid, "VmHWM")
    print(
        f"RSS, {count} x {size / 1e6:g} MB, {label}: {before / 1024:.1f} MiB before, "
        f"{after / 1024:.1f} MiB after (+{(after - before) / 1024:.1f} MiB), "
        f"peak {peak / 1024:.1f} MiB"
    )


def main() -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024**3, help="bytes the writer writes")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case")
    args = parser.parse_args()
    throughput(args.size, args.rounds)
    memory((), "window 256 KiB, budget 128 MiB")
    memory(("--output-budget-bytes", str(4 * 2**20)), "window 256 KiB, budget 4 MiB")


if __name__ == "__main__":
    main()
