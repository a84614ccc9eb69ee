"""What a terminal costs: the raw stream of a terminal, and rendering its screen, against
baselines measured in the same run.

    .venv/bin/python bench/terminal.py [--quick]

``make bench`` includes these rows (``--only terminal``). Rows:

- a command printing coloured text (escape sequences on every line, as compilers and test
  runners print) on a terminal, start to recorded exit, vs the same command on a pipe, and
  vs a terminal read by a bare loop in this process (the kernel's part);
- the screen emulator's throughput on those bytes (pyte, in this process), vs the terminal's
  raw stream through the agent: how far behind a flood the screen falls, and why the agent
  skips to the tail of what it cannot keep up with;
- ``GET /screen`` right after that flood (the emulator catching up, at most its backlog)
  and on an idle terminal, vs ``GET /output`` of the same process.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import AUTH, PROCESSES, Baseline, Bench, Context, Row, agent_server, table

from agentproc.screen import Screen
from agentproc.spec import TerminalSize

WAIT = {"wait": "true", "timeout_ms": "300000"}
SIZE = TerminalSize(rows=24, cols=80)
LINE = (
    "\x1b[1;32mPASSED\x1b[0m tests/agent/test_{n:06d}.py::test_something_about_terminals "
    "\x1b[2m[{p:3d}%]\x1b[0m\n"
)
"""One line of the text: a test runner's, with colour on and off."""

EMULATION_SAMPLE_BYTES = 4 * 1024**2
"""What the in-process emulation is timed on: seconds at its rate, whatever the text's size."""


def coloured_text(size: int) -> bytes:
    """About ``size`` bytes of lines like a test runner's."""
    lines = []
    total = 0
    n = 0
    while total < size:
        line = LINE.format(n=n, p=n % 100).encode()
        lines.append(line)
        total += len(line)
        n += 1
    return b"".join(lines)


def start(client: httpx.Client, command: str, **fields: object) -> str:
    """Start ``command``; its id."""
    response = client.post(f"{PROCESSES}/start", json={"command": command, **fields})
    response.raise_for_status()
    process_id: str = response.json()["id"]
    return process_id


def run_seconds(client: httpx.Client, command: str, **fields: object) -> tuple[str, float]:
    """Start ``command`` and wait for its recorded exit: its id and the seconds it took."""
    began = time.perf_counter()
    process_id = start(client, command, **fields)
    body = client.get(f"{PROCESSES}/{process_id}/output", params=WAIT).json()
    elapsed = time.perf_counter() - began
    assert body["exit_code"] == 0, body
    return process_id, elapsed


def bare_terminal_seconds(argv: list[str]) -> float:
    """Seconds ``argv`` takes to run on a terminal read by a plain loop in this process: the
    floor of any terminal, the kernel's work on the output included."""
    master, slave = os.openpty()
    began = time.perf_counter()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        while os.read(master, 65536):
            pass
    except OSError as exc:
        if exc.errno != errno.EIO:  # EIO: every holder of the terminal is gone
            raise
    finally:
        os.close(master)
    assert child.wait() == 0
    return time.perf_counter() - began


def emulation_rate(data: bytes) -> float:
    """MiB/s pyte renders of ``data`` as the terminal hands it over (``\\r\\n``), measured
    on its first :data:`EMULATION_SAMPLE_BYTES`: the rate is the same all through."""
    screen = Screen(SIZE, scrollback_lines=1000)
    sample = data[:EMULATION_SAMPLE_BYTES].replace(b"\n", b"\r\n")
    began = time.perf_counter()
    for start_at in range(0, len(sample), 4096):
        screen.feed(sample[start_at : start_at + 4096])
    return len(sample) / 1024**2 / (time.perf_counter() - began)


def median_ms(client: httpx.Client, path: str, n: int) -> float:
    """Median milliseconds of ``n`` GETs of ``path``."""
    times = []
    for _ in range(n):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def terminal_rows(ctx: Context) -> list[Row]:
    """The terminal rows against the run's agent."""
    size = ctx.pick(32, 4) * 1024**2
    n = ctx.pick(100, 20)
    data = coloured_text(size)
    mib = len(data) / 1024**2
    with (
        tempfile.TemporaryDirectory() as workdir,
        httpx.Client(base_url=ctx.base_url, headers=AUTH, timeout=600) as client,
    ):
        text = Path(workdir) / "text"
        text.write_bytes(data)
        command = f"cat {text}"
        _, piped = run_seconds(client, command)
        bare = bare_terminal_seconds(["cat", str(text)])
        flooded, on_terminal = run_seconds(client, command, tty=True)
        began = time.perf_counter()
        shown = client.get(f"{PROCESSES}/{flooded}/screen").json()
        caught_up_ms = (time.perf_counter() - began) * 1000
        assert "terminals" in shown["lines"][-2], shown
        output_ms = median_ms(client, f"{PROCESSES}/{flooded}/output", n)
        idle = start(client, "read x", tty=True)
        screen_ms = median_ms(client, f"{PROCESSES}/{idle}/screen", n)
        client.post(f"{PROCESSES}/{idle}/signal", json={"signal": "kill"})
    emulated = emulation_rate(data)
    name = f"{mib:.0f} MiB coloured text"
    output = Baseline("GET /output", output_ms)
    return [
        Row(
            f"{name} on a terminal, start → exit",
            on_terminal * 1000,
            "ms",
            Baseline("a bare terminal read in process", bare * 1000),
        ),
        Row(
            f"{name} on a pipe, start → exit",
            piped * 1000,
            "ms",
            Baseline("the same on a terminal", on_terminal * 1000),
        ),
        Row(
            f"screen emulation of the {name}",
            emulated,
            "MiB/s",
            Baseline("the terminal's raw stream", mib / on_terminal),
            note="pyte in process; the agent skips what it cannot keep up with",
            higher_is_better=True,
        ),
        Row("GET /screen right after that flood", caught_up_ms, "ms", output),
        Row("GET /screen of an idle terminal", screen_ms, "ms", output),
    ]


BENCHES = (Bench("terminal", terminal_rows, order=70),)


def main() -> None:
    """Run the rows against an agent of their own and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 MiB instead of 32, fewer samples")
    args = parser.parse_args()
    with agent_server() as ctx:
        measured = terminal_rows(dataclasses.replace(ctx, quick=args.quick))
    print(table(measured))


if __name__ == "__main__":
    sys.exit(main())
