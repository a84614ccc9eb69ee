"""Benchmarks of agentproc against a floor and a peer, measured in one run.

    make bench            # or: .venv/bin/python bench/run.py [--quick]

Every row prints our number, a baseline measured in the same run on the same machine, and
their ratio, so the table means something on any hardware:

- round trip of ``true`` (start → wait → output) through ``AgentConn`` vs ``subprocess.run``
  in this process (the floor) and vs SWE-ReX's ``/execute``;
- 100 concurrent ``sleep 0.5`` through ``AsyncAgentConn`` vs the same through SWE-ReX;
- 1 GiB of output through the agent vs ``head -c 1G /dev/zero | cat > /dev/null``, and the
  agent's peak memory growth while it streams;
- ``execute`` latency for a ~50 ms command vs the command's own duration.
- a terminal's raw stream and its screen's rendering (``bench/terminal.py``).
- 10,000 lines written to ``cat`` through ``/{id}/input`` (100 calls of 100 lines, then
  end-of-file, then one output read) vs the same lines written to ``cat`` through a local pipe.

SWE-ReX is installed into ``.bench/swerex`` (its own virtualenv, never the project's); when it
cannot be installed its rows say so instead of failing the run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from agentsdk import AgentConn, AsyncAgentConn

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
SWEREX_VERSION = "1.4.0"
"""Pinned so the peer's numbers are comparable from run to run."""

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for servers on 127.0.0.1
STARTUP_TIMEOUT = 60.0
"""Safety net for a server to come up; it normally takes well under a second."""

ONE_GIB = 1024**3
CONCURRENT = 100
SLEEP_SECONDS = 0.5
INPUT_LINES = 10_000
INPUT_BATCH = 100


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    name: str
    ours: float
    baseline: float | None
    baseline_name: str
    unit: str = "ms"
    note: str = ""

    def render(self) -> str:
        ratio = "n/a" if not self.baseline else f"{self.ours / self.baseline:.2f}x"
        base = "n/a" if self.baseline is None else f"{self.baseline:,.1f} {self.unit}"
        return (
            f"{self.name:<38} {self.ours:>12,.1f} {self.unit:<3} {base:>16}  {ratio:>8}"
            f"  vs {self.baseline_name}{'  (' + self.note + ')' if self.note else ''}"
        )


# -- servers ---------------------------------------------------------------------------------


def _wait_for_line(path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        match = pattern.search(path.read_text(errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{path.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"server did not report readiness:\n{path.read_text(errors='replace')}")


@contextmanager
def agent_server() -> Iterator[tuple[str, int]]:
    """Run ``agentproc serve`` as a subprocess; yields its base URL and pid."""
    with tempfile.NamedTemporaryFile(prefix="agentproc-bench-", suffix=".log") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentproc",
                "serve",
                "--port",
                "0",
                "--token",
                TOKEN,
                "--max-running",
                "512",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = _wait_for_line(
                Path(log.name), re.compile(r"process API at (http://\S+?)/api/v0/processes"), proc
            )
            yield base, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def swerex_python() -> Path | None:
    """The SWE-ReX virtualenv's interpreter, created on first use; None when unavailable."""
    env_dir = BENCH_DIR / "swerex"
    python = env_dir / "bin" / "python"
    marker = env_dir / f".installed-{SWEREX_VERSION}"
    if marker.exists():
        return python
    print(f"installing swe-rex=={SWEREX_VERSION} into {env_dir} (once) ...", flush=True)
    venv.create(env_dir, with_pip=True, clear=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"swe-rex=={SWEREX_VERSION}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"swe-rex could not be installed; its rows are skipped:\n{result.stderr[-2000:]}")
        return None
    marker.touch()
    return python


@contextmanager
def swerex_server() -> Iterator[str | None]:
    """Run SWE-ReX's server on 127.0.0.1; yields its base URL, or None when unavailable."""
    python = swerex_python()
    if python is None:
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="swerex-bench-", suffix=".log") as log:
        port = _free_port()
        proc = subprocess.Popen(
            [
                str(python),
                "-m",
                "swerex.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--auth-token",
                TOKEN,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    ok = httpx.get(f"{base}/is_alive", headers={"X-API-Key": TOKEN}).is_success
                except httpx.TransportError:
                    ok = False
                if ok:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"swe-rex did not start:\n{Path(log.name).read_text()}")
                time.sleep(0.05)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- measurements ----------------------------------------------------------------------------


def median_ms(fn: Callable[[], object], n: int) -> float:
    """Median wall time of ``fn`` over ``n`` calls, after a few warm-up calls."""
    for _ in range(min(5, n)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def round_trip(base: str, swerex: str | None, n: int) -> list[Row]:
    """``true`` start → wait → output, vs subprocess.run and SWE-ReX /execute."""
    floor = median_ms(lambda: subprocess.run(["sh", "-c", "true"], check=True), n)
    with AgentConn(base, token=TOKEN) as agent:

        def ours() -> None:
            started = agent.start_process(command="true")
            result = agent.process_output(started.id, wait=True)
            assert result.exit_code == 0

        ours_ms = median_ms(ours, n)
    rows = [Row("round trip `true` (AgentConn)", ours_ms, floor, "subprocess.run")]
    if swerex is None:
        rows.append(Row("round trip `true` (AgentConn)", ours_ms, None, "SWE-ReX", note="n/a"))
        return rows
    with httpx.Client(base_url=swerex, headers={"X-API-Key": TOKEN}) as peer:

        def theirs() -> None:
            response = peer.post("/execute", json={"command": "true", "shell": True})
            assert response.json()["exit_code"] == 0

        peer_ms = median_ms(theirs, n)
    rows.append(Row("round trip `true` (AgentConn)", ours_ms, peer_ms, "SWE-ReX /execute"))
    return rows


async def _concurrent_ours(base: str, count: int) -> float:
    async with AsyncAgentConn(base, token=TOKEN, timeout=120) as agent:
        t0 = time.perf_counter()

        async def one() -> None:
            started = await agent.start_process(command=f"sleep {SLEEP_SECONDS}")
            result = await agent.process_output(started.id, wait=True)
            assert result.exit_code == 0

        await asyncio.gather(*(one() for _ in range(count)))
        return (time.perf_counter() - t0) * 1000


async def _concurrent_swerex(base: str, count: int) -> float:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": TOKEN}, timeout=600, limits=limits
    ) as peer:
        t0 = time.perf_counter()

        async def one() -> None:
            response = await peer.post(
                "/execute", json={"command": f"sleep {SLEEP_SECONDS}", "shell": True}
            )
            assert response.json()["exit_code"] == 0

        await asyncio.gather(*(one() for _ in range(count)))
        return (time.perf_counter() - t0) * 1000


def concurrency(base: str, swerex: str | None, count: int) -> list[Row]:
    """``count`` concurrent ``sleep 0.5``: wall time vs one sleep and vs SWE-ReX."""
    ours = asyncio.run(_concurrent_ours(base, count))
    name = f"{count} x concurrent `sleep {SLEEP_SECONDS}`"
    rows = [Row(name, ours, SLEEP_SECONDS * 1000, "one sleep alone")]
    if swerex is None:
        rows.append(Row(name, ours, None, "SWE-ReX", note="n/a"))
    else:
        rows.append(Row(name, ours, asyncio.run(_concurrent_swerex(swerex, count)), "SWE-ReX"))
    return rows


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def big_output(base: str, pid: int, size: int) -> list[Row]:
    """Stream ``size`` bytes through the agent vs through a pipe to /dev/null."""
    command = f"head -c {size} /dev/zero"
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", f"{command} | cat > /dev/null"], check=True)
    floor = (time.perf_counter() - t0) * 1000
    rss_before = _status_kib(pid, "VmRSS")
    # Reset the peak so VmHWM measures this run only (Linux: write 5 to clear_refs).
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    with AgentConn(base, token=TOKEN, timeout=600) as agent:
        t0 = time.perf_counter()
        started = agent.start_process(command=command)
        result = agent.process_output(started.id, wait=True)
        ours = (time.perf_counter() - t0) * 1000
    assert result.truncated is not None and result.truncated.original_bytes == size
    growth_mib = max(0, _status_kib(pid, "VmHWM") - rss_before) / 1024
    label = f"{size / ONE_GIB:g} GiB of output"
    return [
        Row(
            label,
            ours,
            floor,
            "head | cat > /dev/null",
            note=f"peak RSS growth {growth_mib:.1f} MiB",
        ),
    ]


def input_round_trip(base: str, lines: int, batch: int) -> list[Row]:
    """``lines`` lines through ``cat``'s stdin, ``batch`` per call, vs a local pipe to ``cat``."""
    data = [f"line {number:05d}\n" for number in range(lines)]
    expected = "".join(data).encode()
    t0 = time.perf_counter()
    local = subprocess.run(["cat"], input=expected, capture_output=True, check=True)
    floor = (time.perf_counter() - t0) * 1000
    assert local.stdout == expected
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{base}/api/v0/processes", headers=auth, timeout=60) as http:
        t0 = time.perf_counter()
        started = http.post("/start", json={"command": "cat", "stdin": True}).json()
        for first in range(0, lines, batch):
            chunk = "".join(data[first : first + batch])
            answer = http.post(f"/{started['id']}/input", json={"data": chunk})
            assert answer.status_code == 200, answer.text
        http.post(f"/{started['id']}/input", json={"close": True}).raise_for_status()
        result = http.get(f"/{started['id']}/output", params={"wait": "true"}).json()
        ours = (time.perf_counter() - t0) * 1000
    assert result["exit_code"] == 0 and result["output"].endswith(data[-1])
    written = result["truncated"]["original_bytes"] if "truncated" in result else len(expected)
    assert written == len(expected)
    name = f"{lines:,} lines through `cat` stdin"
    return [Row(name, ours, floor, "subprocess pipe to cat", note=f"{batch} lines per call")]


def execute_latency(base: str, n: int) -> list[Row]:
    """chattool's ``execute`` on a ~50 ms command vs the command's own duration."""
    import anyio
    from bench_execute import COMMAND, measure

    alone, waited, ticked = anyio.run(measure, base, TOKEN, n)
    name = f"execute `{COMMAND}`"
    return [
        Row(name, waited, alone, "the command alone"),
        Row(name, waited, ticked, "execute against an agent ignoring wait"),
    ]


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, 64 MiB output")
    parser.add_argument("--no-swerex", action="store_true", help="skip the SWE-ReX comparison")
    args = parser.parse_args()
    n = 20 if args.quick else 100
    size = 64 * 1024**2 if args.quick else ONE_GIB

    rows: list[Row] = []
    with agent_server() as (base, pid):
        with nullcontext(None) if args.no_swerex else swerex_server() as swerex:
            rows += round_trip(base, swerex, n)
            rows += concurrency(base, swerex, CONCURRENT)
        rows += big_output(base, pid, size)
        rows += input_round_trip(base, INPUT_LINES, INPUT_BATCH)
        rows += execute_latency(base, n)
        from terminal import rows as terminal_rows  # it imports this module: not at the top

        rows += terminal_rows(base, quick=args.quick)

    print()
    print(f"{'benchmark':<38} {'ours':>16} {'baseline':>16}  {'ratio':>8}")
    for row in rows:
        print(row.render())


if __name__ == "__main__":
    main()
