"""Helpers for end-to-end tests that watch real processes.

They read ``/proc`` on their own (not through ``agentproc.sessions``) so the agent's cleanup
is checked by code that does not share its assumptions, and speak raw HTTP when a request
must already be inside the server before the test acts. An agent in a process of its own,
for its signals, exit status or memory, is ``tests.conftest.serve_agent``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "PROCESSES",
    "SAFETY_TIMEOUT_SECONDS",
    "Identity",
    "RawResponse",
    "end_processes",
    "identity_of",
    "kill_sessions",
    "leftovers",
    "open_raw_get",
    "output",
    "present",
    "read_raw_response",
    "running",
    "send",
    "session_of",
    "start",
    "wait_for_output",
    "wait_sessions_gone",
    "wait_stopped_running",
]

PROCESSES = "/api/v0/processes"
"""Prefix of every process endpoint."""

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an event long before this."""

POLL_SECONDS = 0.01
"""Cadence of the bounded polls (first output line, kernel reaping): short, so tests stay fast."""


# -- /proc ----------------------------------------------------------------------------------


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path("/proc", pid, "stat").read_text()
    except OSError:
        return None  # exited while we looked
    # The command name may contain spaces and ')'; the fields after the last ')' are fixed:
    # state, ppid, pgrp, session, ...
    return text.rpartition(")")[2].split()


def leftovers(sessions: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """Every process (zombies included) in ``sessions``, as ``{session: [(pid, state)]}``."""
    wanted = set(sessions)
    found: dict[int, list[tuple[int, str]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is None or len(fields) < 4:
            continue
        session = int(fields[3])
        if session in wanted:
            found.setdefault(session, []).append((int(entry.name), fields[0]))
    return found


def wait_sessions_gone(sessions: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """Poll until no process of ``sessions`` exists, bounded; returns what is still there.

    Only a bounded wait for the kernel and the agent's reaper to finish: a signalled process
    dies and is reaped within milliseconds, so anything left at the deadline is a leak.
    """
    wanted = list(sessions)
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    found = leftovers(wanted)
    while found and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = leftovers(wanted)
    return found


Identity = tuple[int, int]
"""A pid with its start time (field 22 of ``/proc/<pid>/stat``): a pid alone may be reused."""


def identity_of(pid: int) -> Identity | None:
    """The process ``pid`` as an identity, or None when there is none."""
    fields = _stat_fields(str(pid))
    if fields is None or len(fields) < 20:
        return None
    return pid, int(fields[19])


def _state(identity: Identity) -> str | None:
    fields = _stat_fields(str(identity[0]))
    if fields is None or len(fields) < 20 or int(fields[19]) != identity[1]:
        return None  # gone, and maybe its pid taken by another process
    return fields[0]


def present(identities: Iterable[Identity]) -> list[Identity]:
    """The processes of ``identities`` that still exist, zombies included."""
    return [identity for identity in identities if _state(identity) is not None]


def running(identities: Iterable[Identity]) -> list[Identity]:
    """The processes of ``identities`` that have not exited (neither gone nor zombies)."""
    return [identity for identity in identities if _state(identity) not in (None, "Z", "X")]


def wait_stopped_running(identities: Iterable[Identity]) -> list[Identity]:
    """Poll until none of ``identities`` runs, bounded; returns those still running."""
    wanted = list(identities)
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    alive = running(wanted)
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        alive = running(alive)
    return alive


def end_processes(identities: Iterable[Identity]) -> None:
    """Cleanup after a failure: SIGKILL what runs of ``identities`` and reap our zombies.

    Orphans come to this process when an in-thread agent made it a subreaper; anyone else's
    zombies are not ours to reap.
    """
    wanted = list(identities)
    for pid, _ in running(wanted):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_stopped_running(wanted)
    for pid, _ in present(wanted):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def kill_sessions(sessions: Iterable[int]) -> None:
    """Cleanup after a failure: SIGKILL what is left of ``sessions`` and reap our zombies."""
    wanted = list(sessions)
    for members in leftovers(wanted).values():
        for pid, state in members:
            if state != "Z":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    for session, members in _wait_all_exited(wanted).items():
        for pid, _ in members:
            if pid == session:
                continue  # the shell: an in-thread agent's own child, which it waits for
            # Orphans may have been re-parented to this process (the in-thread agents make it
            # a subreaper); anyone else's zombies are not ours to reap.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _wait_all_exited(sessions: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """Poll until every member of ``sessions`` has at least exited; returns the members."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    found = leftovers(sessions)
    while any(state != "Z" for m in found.values() for _, state in m):
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
        found = leftovers(sessions)
    return found


# -- the API over plain httpx -----------------------------------------------------------------


def start(client: httpx.Client, command: str, **fields: Any) -> str:
    """Start ``command`` as a new process and return its id, failing on anything else."""
    response = client.post(f"{PROCESSES}/start", json={"command": command, **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["started"] is True
    process_id: str = body["id"]
    return process_id


def output(client: httpx.Client, process_id: str, *, wait: bool = False) -> dict[str, object]:
    """The output endpoint's body, failing on anything but 200 or invalid JSON."""
    params = {"wait": "true"} if wait else {}
    response = client.get(f"{PROCESSES}/{process_id}/output", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def send(client: httpx.Client, process_id: str, sig: str) -> None:
    """Signal a process through the API, failing on anything but 200."""
    response = client.post(f"{PROCESSES}/{process_id}/signal", json={"signal": sig})
    assert response.status_code == 200, response.text


def session_of(client: httpx.Client, process_id: str) -> int:
    """The session id of a command that prints ``$$`` as its first line.

    The shell leads its own session, so ``$$`` is the session id of everything it forks.
    There is no event for "output arrived", so this polls, bounded.
    """
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        response = client.get(f"{PROCESSES}/{process_id}/output")
        assert response.status_code == 200, response.text
        first, newline, _ = response.json()["output"].partition("\n")
        if newline:
            return int(first)
        assert time.monotonic() < deadline, f"process {process_id} never printed its pid"
        time.sleep(POLL_SECONDS)


def wait_for_output(client: httpx.Client, process_id: str, expected: str) -> None:
    """Poll, bounded, until a running command's output is ``expected`` (no event tells)."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        response = client.get(f"{PROCESSES}/{process_id}/output")
        assert response.status_code == 200, response.text
        if response.json()["output"] == expected:
            return
        assert time.monotonic() < deadline, f"process {process_id} never printed {expected!r}"
        time.sleep(POLL_SECONDS)


# -- raw HTTP, for requests that must be in flight ------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    """What came back on a raw connection: nothing at all when the server just closed it."""

    status: int | None
    body: dict[str, Any] | None


def open_raw_get(base_url: str, path: str, token: str | None) -> socket.socket:
    """Send ``GET path`` on a fresh connection and return the socket without reading.

    On loopback the request bytes sit in the server's receive queue once this returns, so a
    round trip on another connection afterwards finds this request already being served.
    """
    host, _, port = base_url.removeprefix("http://").partition(":")
    sock = socket.create_connection((host, int(port)), timeout=SAFETY_TIMEOUT_SECONDS)
    auth = "" if token is None else f"Authorization: Bearer {token}\r\n"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def read_raw_response(sock: socket.socket, timeout: float = SAFETY_TIMEOUT_SECONDS) -> RawResponse:
    """Read until the server closes the connection (``Connection: close``) and parse it."""
    sock.settimeout(timeout)
    data = bytearray()
    with sock:
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    if not data:
        return RawResponse(status=None, body=None)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"transfer-encoding: chunked" not in head.lower(), head
    return RawResponse(status=status, body=json.loads(body))
