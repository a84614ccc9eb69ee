"""Hundreds of start/kill cycles of forking commands leave nothing behind in the agent.

The agent runs as an ``agentproc serve`` process of its own, so that its open file
descriptors and its children are its own and can be read from ``/proc`` without counting
the test's. Everything here is checked by reading ``/proc`` directly, not through the
agent's own ``sessions`` module, so the check does not share the code it checks.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServedAgent, serve_agent

API = "/api/v0/processes"
TOKEN = "leak-token"

CYCLES = 500
"""Start/kill cycles: enough that a leak of one descriptor or process per cycle is obvious."""

CONCURRENCY = 16
"""Cycles in flight at once; well under the agent's running-process cap of 256."""

FORKING_COMMAND = "sleep 300 & sleep 300"
"""A shell with a background child: the kill must reach both, and the orphan be reaped."""

WAIT_MS = 60_000
"""Safety net for the wait=true read after a kill; the answer comes as soon as it exits."""

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net for settling; every wait ends on its condition first."""

SETTLE_POLL_SECONDS = 0.01
"""Cadence of the bounded checks below: the agent reaps orphans on its own schedule and
closes sockets when it reads their FIN, and neither is observable from outside as an event."""

LOG_LINES_KEPT = 50
"""The agent's last log lines, shown when a check fails."""


@dataclass(frozen=True)
class Proc:
    """One process as ``/proc/<pid>/stat`` describes it."""

    pid: int
    state: str
    ppid: int
    session: int


def _processes() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The name may contain spaces and ')'; the fields after the last ')' are fixed.
        fields = text.rpartition(")")[2].split()
        table[int(entry)] = Proc(int(entry), fields[0], int(fields[1]), int(fields[3]))
    return table


def _is_keeper(pid: int) -> bool:
    # The agent's keeper (python -m agentproc.keeper) lives beside it as its child for as
    # long as it runs: part of the agent, not something a command left.
    try:
        return b"agentproc.keeper" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _descendants(root: int, table: dict[int, Proc]) -> list[Proc]:
    children: dict[int, list[Proc]] = collections.defaultdict(list)
    for proc in table.values():
        children[proc.ppid].append(proc)
    found: list[Proc] = []
    stack = [root]
    while stack:
        for child in children[stack.pop()]:
            if child.ppid == root and _is_keeper(child.pid):
                continue
            found.append(child)
            stack.append(child.pid)
    return found


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            found.update(
                int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            )
        except OSError:
            continue  # the thread ended while we looked
    return {child for child in found if not _is_keeper(child)}


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _settle(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(SETTLE_POLL_SECONDS)
    return True


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[ServedAgent]:
    """An agent in its own process, stopped (and checked to stop cleanly) afterwards."""
    flags = ("--workdir", str(tmp_path), "--log-level", "info")
    with serve_agent(*flags, token=TOKEN) as served:
        try:
            yield served
        finally:
            status = served.stop()
    assert status == 0, served.log_text(LOG_LINES_KEPT)


def _cycle(client: httpx.Client, server_pid: int) -> set[int]:
    """Start a forking command, kill it, wait for its exit; the shells seen meanwhile."""
    started = client.post(f"{API}/start", json={"command": FORKING_COMMAND})
    assert started.status_code == 200, started.text
    process_id = started.json()["id"]
    # The shell is the agent's child until the kill below: every cycle's shell is seen.
    shells = _children(server_pid)

    killed = client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
    assert killed.status_code == 200, killed.text
    output = client.get(
        f"{API}/{process_id}/output", params={"wait": "true", "timeout_ms": str(WAIT_MS)}
    )
    assert output.status_code == 200, output.text
    assert (output.json()["running"], output.json()["exit_code"]) == (False, -1), output.text
    return shells


def test_start_kill_cycles_leave_no_process_zombie_or_descriptor(agent: ServedAgent) -> None:
    """500 start/kill cycles of `sleep & sleep`, 16 at a time, leave no process and no new fd."""
    fds_before = _open_fds(agent.pid)

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    with (
        httpx.Client(
            base_url=agent.base_url,
            headers=agent.headers,
            limits=limits,
            timeout=SAFETY_TIMEOUT_SECONDS * 2,
        ) as client,
        ThreadPoolExecutor(max_workers=CONCURRENCY) as pool,
    ):
        seen = list(pool.map(lambda _: _cycle(client, agent.pid), range(CYCLES)))
    shells = set().union(*seen)
    assert len(shells) >= CYCLES, "every cycle's shell must have been seen"

    # Orphaned background sleeps are reaped on the agent's scan, and keep-alive connections
    # are closed once the agent reads their end. Neither comes back once gone, so seeing
    # the agent bare once proves nothing leaked (a later look could catch the descriptor
    # of a scan of /proc in progress).
    settled = _settle(
        lambda: not _descendants(agent.pid, _processes()) and _open_fds(agent.pid) == fds_before
    )
    table = _processes()
    log = agent.log_text(LOG_LINES_KEPT)
    left = [p for p in table.values() if p.session in shells]
    assert left == [], f"{len(left)} left in the commands' sessions\n{log}"
    descendants = _descendants(agent.pid, table)
    assert descendants == [], f"{len(descendants)} left under the agent\n{log}"
    assert settled, f"{fds_before} fds before, {_open_fds(agent.pid)} now\n{log}"
