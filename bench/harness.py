"""What every benchmark module shares: rows, their registration, the servers, the timing.

A benchmark module of this directory declares ``BENCHES``, a tuple of :class:`Bench`; ``run.py``
finds every such module and runs their benches in ``order``, so a new area is a new module
(``bench/terminal.py`` with its own ``BENCHES``) and nothing else. A bench gets the
:class:`Context` of the run (the agent under test, SWE-ReX if it is there, quick mode) and
returns :class:`Row` s: our number, and the floor and the peer measured in the same run,
interleaved with ours where they can be, so that a busy machine weighs on both alike.
"""

from __future__ import annotations

import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
SWEREX_VERSION = "1.4.0"
"""Pinned so the peer's numbers are comparable from run to run."""

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for servers on 127.0.0.1
STARTUP_TIMEOUT = 60.0
"""Safety net for a server to come up; it normally takes well under a second."""

PROCESSES = "/api/v0/processes"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PORT_LINE = re.compile(r"process API at (http://\S+?)/api/v0/processes")


# -- rows and benches ------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """A number measured in the same run to compare ours with."""

    name: str
    value: float


@dataclass(frozen=True)
class Row:
    """One line of the result table: ours, and the floor and the peer where they apply.

    A ratio is always our cost over the baseline's, so below 1 is better: for a time, ours
    divided by theirs; for a rate (``higher_is_better``), theirs divided by ours.
    """

    name: str
    ours: float
    unit: str
    floor: Baseline | None = None
    peer: Baseline | None = None
    note: str = ""
    higher_is_better: bool = False

    def ratio(self, baseline: Baseline | None) -> str:
        """Our cost over ``baseline``'s, as ``1.23x``; empty without a baseline."""
        if baseline is None or not baseline.value or not self.ours:
            return ""
        value = baseline.value / self.ours if self.higher_is_better else self.ours / baseline.value
        return f"{value:.2f}x"

    def cells(self) -> list[str]:
        """The row's Markdown table cells."""

        def show(value: float) -> str:
            digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
            return f"{value:,.{digits}f} {self.unit}"

        def baseline(base: Baseline | None) -> str:
            return "" if base is None else f"{base.name}: {show(base.value)}"

        return [
            self.name,
            show(self.ours),
            baseline(self.floor),
            self.ratio(self.floor),
            baseline(self.peer),
            self.ratio(self.peer),
            self.note,
        ]


HEADER = ["benchmark", "agentproc", "floor", "ratio", "SWE-ReX", "ratio", "note"]


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table, as the README shows it."""
    lines = [HEADER, ["---"] * len(HEADER), *(row.cells() for row in rows)]
    return "\n".join(
        "| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines
    )


@dataclass(frozen=True)
class Context:
    """What a bench is given: the agent under test and the peer, and how long to take."""

    base_url: str
    """The agent under test (``agentproc serve`` with default settings and a token)."""
    pid: int
    """Its process id, for its memory."""
    swerex: str | None
    """SWE-ReX's base URL, or ``None`` when it is not installed (its columns stay empty)."""
    quick: bool
    """Fewer samples and smaller sizes: seconds instead of minutes."""

    def pick(self, full: int, quick: int) -> int:
        """``full``, or ``quick`` in quick mode."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Bench:
    """One benchmark: a name, and a function of the run's :class:`Context` to its rows."""

    name: str
    run: Callable[[Context], list[Row]]
    order: int = 100
    """Benches run (and print) by order, then name."""
    needs_peer: bool = field(default=False)
    """Runs while SWE-ReX is served (the peer costs a server process, so only then)."""


# -- measuring -------------------------------------------------------------------------------


def interleaved(
    actions: Mapping[str, Callable[[], object]], samples: int, warmup: int = 3
) -> dict[str, float]:
    """Median wall time in ms of each action, sampled round-robin so that the load of the
    machine at any moment weighs on every action alike."""
    for action in actions.values():
        for _ in range(warmup):
            action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(samples):
        for name, action in actions.items():
            began = time.perf_counter()
            action()
            times[name].append((time.perf_counter() - began) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def seconds(action: Callable[[], object]) -> float:
    """How long ``action`` took, in seconds."""
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def status_kib(pid: int, field_name: str) -> int:
    """A memory figure of ``pid`` from ``/proc/<pid>/status`` (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise KeyError(field_name)


def reset_peak(pid: int) -> None:
    """Make VmHWM measure from now on (Linux: write 5 to ``clear_refs``), where allowed."""
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds() -> float:
    """This process's CPU time so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
def agent_server(*flags: str, python: Sequence[str] = (sys.executable,)) -> Iterator[Context]:
    """``agentproc serve`` with ``flags`` as a process of its own; its context (no peer).

    ``python`` runs the agent's module: this interpreter by default.
    """
    with tempfile.NamedTemporaryFile(prefix="agentproc-bench-", suffix=".log") as log:
        argv = [*python, "-m", "agentproc", "serve", "--port", "0", "--token", TOKEN]
        argv += ["--max-running", "512", *flags]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = _wait_for_line(Path(log.name), PORT_LINE, proc)
            yield Context(base, proc.pid, swerex=None, quick=False)
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
        print(f"swe-rex could not be installed; its columns stay empty:\n{result.stderr[-2000:]}")
        return None
    marker.touch()
    return python


@contextmanager
def swerex_server() -> Iterator[str | None]:
    """SWE-ReX's server on 127.0.0.1; yields its base URL, or None when unavailable."""
    python = swerex_python()
    if python is None:
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="swerex-bench-", suffix=".log") as log:
        port = free_port()
        argv = [str(python), "-m", "swerex.server", "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(
            [*argv, "--auth-token", TOKEN], stdout=log, stderr=subprocess.STDOUT
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


def swerex_execute(client: httpx.Client, command: str) -> None:
    """One command through SWE-ReX's ``/execute``, checked to have exited 0."""
    response = client.post("/execute", json={"command": command, "shell": True})
    assert response.json()["exit_code"] == 0, response.text
