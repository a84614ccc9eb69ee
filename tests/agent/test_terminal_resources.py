"""What terminals cost the agent, measured on an agent in a process of its own.

Two hundred commands on terminals that exit, are killed or get end-of-file leave no
descriptor (no pseudo-terminal master) and no zombie behind; a program flooding its terminal
never keeps the agent from answering, and its screen stays readable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAFETY_TIMEOUT_SECONDS, ServedAgent, serve_agent

from ._live_processes import PROCESSES, start
from ._terminals import finish, screen, type_in, wait_for_screen

pytestmark = pytest.mark.e2e

COMMANDS = 200
"""Terminal commands started for the descriptor count."""

FLOOD_BYTES = 16 * 1024 * 1024
"""What the flooding command prints: random bytes, escape sequences and all, which a
terminal emulator in pure Python digests at about a megabyte a second. An agent that
emulated it all before answering would stall for some 16 s, eight times the bound below;
more bytes would prove nothing more, and cost the suite seconds of CPU."""

LIVENESS_BOUND_SECONDS = 2.0
"""Generous: /healthz answers in milliseconds; an event loop stalled by emulation would take
as long as the flood."""


@pytest.fixture(scope="module")
def agent() -> Iterator[ServedAgent]:
    """``agentproc serve`` in its own process, for its descriptors and its children."""
    with serve_agent() as served:
        yield served


@pytest.fixture
def client(agent: ServedAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the module's agent."""
    with agent.client() as c:
        yield c


def open_fds(pid: int) -> int:
    """How many descriptors ``pid`` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def pseudo_terminal_masters(pid: int) -> int:
    """How many of ``pid``'s descriptors are pseudo-terminal masters."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed while we looked
        count += target == "/dev/ptmx" or target.startswith("/dev/pts/ptmx")
    return count


def zombie_children(pid: int) -> list[int]:
    """The children of ``pid`` that exited and were not reaped."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def test_two_hundred_terminal_commands_leave_no_descriptor_or_zombie(
    agent: ServedAgent, client: httpx.Client
) -> None:
    """Exited, killed, ended by end-of-file, read or not: the agent's descriptors return to
    their count, no terminal master stays open, and no child is left a zombie."""
    warm_up = start(client, "echo warm", tty=True)  # lazy descriptors open once
    finish(client, warm_up)
    screen(client, warm_up)
    before = open_fds(agent.pid)
    for number in range(COMMANDS):
        match number % 4:
            case 0:
                process_id = start(client, "echo done", tty=True)
            case 1:
                process_id = start(client, "sleep 100", tty={"rows": 5, "cols": 20})
                client.post(f"{PROCESSES}/{process_id}/signal", json={"signal": "kill"})
            case 2:
                process_id = start(client, "cat", tty=True)
                type_in(client, process_id, "bye\n", close=True)
            case _:
                process_id = start(client, "sleep 100 & read x", tty=True)
                client.post(f"{PROCESSES}/{process_id}/resize", json={"rows": 9, "cols": 9})
                client.post(f"{PROCESSES}/{process_id}/signal", json={"signal": "terminate"})
        finish(client, process_id)
        if number % 2:
            screen(client, process_id)
    # Custody's scans open /proc files for a moment; wait until none is open.
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while (after := open_fds(agent.pid)) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert after <= before, agent.log_text(50)
    assert pseudo_terminal_masters(agent.pid) == 0
    while (zombies := zombie_children(agent.pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert zombies == []


def test_a_flood_on_a_terminal_never_stalls_the_agent(
    agent: ServedAgent, client: httpx.Client
) -> None:
    """While a command prints 100 MiB of random bytes to its terminal, /healthz and the
    screen keep answering within the bound, and the last screen reads after the exit."""
    # Random bytes may leave an escape sequence open or another character set chosen; BEL,
    # CAN and ST end any sequence, and ESC c resets the terminal, so END reads as END.
    reset = r"printf '\a\030\033\\\033c'"
    process_id = start(client, f"head -c {FLOOD_BYTES} /dev/urandom; {reset}; echo END", tty=True)
    slowest: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        with agent.client() as watcher:
            while not stop.is_set():
                began = time.monotonic()
                assert watcher.get("/healthz").status_code == 200
                slowest.append(time.monotonic() - began)

    watcher = threading.Thread(target=watch, name="healthz-watch")
    watcher.start()
    try:
        began = time.monotonic()
        shown = screen(client, process_id)
        assert time.monotonic() - began < LIVENESS_BOUND_SECONDS
        assert shown["running"] is True, "the flood ended before it could be watched"
        answer = finish(client, process_id)
    finally:
        stop.set()
        watcher.join(SAFETY_TIMEOUT_SECONDS)
    assert answer["exit_code"] == 0
    assert answer["truncated"]["original_bytes"] > FLOOD_BYTES
    assert slowest and max(slowest) < LIVENESS_BOUND_SECONDS, max(slowest)
    last = wait_for_screen(client, process_id, lambda s: "END" in s["lines"])
    assert last["running"] is False
