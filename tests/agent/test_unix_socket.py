"""End to end: ``agentproc serve --uds PATH`` serves on a Unix socket only its user may use,
and ``--token-file`` keeps the token out of the agent's command line and environment."""

from __future__ import annotations

import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAFETY_TIMEOUT_SECONDS

from ._live_processes import PROCESSES, output, start

pytestmark = pytest.mark.e2e

TOKEN = "file-token-7f3a"

PERMISSIVE_UMASK = ("sh", "-c", 'umask 000 && exec "$@"', "sh")
"""Runs the agent with umask 000, under which a socket file would be created 0777."""


@dataclass
class SocketAgent:
    """``python -m agentproc serve --uds PATH`` running as a child of the test."""

    process: subprocess.Popen[str]
    path: Path
    log: list[str]

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """An httpx client that reaches the agent through its socket."""
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.path)),
            base_url="http://localhost",
            headers=headers,
            timeout=SAFETY_TIMEOUT_SECONDS,
        )

    def stop(self) -> int:
        """SIGTERM the agent and wait for it to exit; returns its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(SAFETY_TIMEOUT_SECONDS)


def _pump(stream: Iterator[str], lines: list[str], ready: queue.Queue[bool]) -> None:
    for line in stream:
        lines.append(line)
        if "process API on unix socket" in line:
            ready.put(True)
    ready.put(False)


@contextmanager
def serve_on_socket(
    path: Path, *flags: str, wrapper: tuple[str, ...] = ()
) -> Iterator[SocketAgent]:
    """Run the agent on the Unix socket ``path`` until the block ends."""
    argv = [sys.executable, "-m", "agentproc", "serve", "--uds", str(path), *flags]
    process = subprocess.Popen(
        [*wrapper, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTPROC_")},
    )
    assert process.stdout is not None
    lines: list[str] = []
    ready: queue.Queue[bool] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines, ready), daemon=True)
    reader.start()
    try:
        assert ready.get(timeout=SAFETY_TIMEOUT_SECONDS), "did not start:\n" + "".join(lines)
        yield SocketAgent(process, path, lines)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(SAFETY_TIMEOUT_SECONDS)
        reader.join(SAFETY_TIMEOUT_SECONDS)
        process.stdout.close()


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets ``pid`` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def tcp_listeners(pid: int) -> set[int]:
    """Inodes of the TCP sockets ``pid`` listens on."""
    held = socket_inodes(pid)
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening.add(int(fields[9]))
    return held & listening


def test_the_api_is_served_on_a_socket_only_the_user_may_open_and_removed_at_exit(
    tmp_path: Path,
) -> None:
    """Even under umask 000 the socket is created 0600; the whole API works through it, no
    TCP port is opened, the log names the socket, and it is gone once the agent stopped."""
    path = tmp_path / "agent.sock"
    with serve_on_socket(path, wrapper=PERMISSIVE_UMASK) as agent:
        mode = path.lstat().st_mode
        with agent.client() as client:
            health = client.get("/healthz")
            process_id = start(client, "echo through the socket")
            body = output(client, process_id, wait=True)
            listed = client.get(f"{PROCESSES}/list").json()["processes"]
        listeners = tcp_listeners(agent.process.pid)
        status = agent.stop()
        log = "".join(agent.log)
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert health.status_code == 200
    assert body["output"] == "through the socket\n"
    assert [p["id"] for p in listed] == [process_id]
    assert listeners == set()
    assert f"process API on unix socket {path} " in log
    assert status == 0, log
    assert not path.exists()


def test_the_token_from_a_file_is_required_and_shows_in_no_argv_or_environment(
    tmp_path: Path,
) -> None:
    """--token-file's (trimmed) token is enforced, and neither /proc/<pid>/cmdline nor
    /proc/<pid>/environ of the agent contains it."""
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    path = tmp_path / "agent.sock"
    with serve_on_socket(path, "--token-file", str(token_file)) as agent:
        with agent.client() as anonymous:
            refused = anonymous.get(f"{PROCESSES}/list")
        with agent.client({"Authorization": f"Bearer {TOKEN}"}) as client:
            allowed = client.get(f"{PROCESSES}/list")
        pid = agent.process.pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert TOKEN.encode() not in cmdline
    assert TOKEN.encode() not in environ


def test_a_socket_left_by_a_dead_agent_is_replaced(tmp_path: Path) -> None:
    """A socket file nobody listens on (its agent was killed) does not stop a new agent."""
    path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(path))
    with serve_on_socket(path) as agent, agent.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_socket_another_agent_listens_on_is_left_alone(tmp_path: Path) -> None:
    """A second agent on the same path refuses to start, and the first keeps serving."""
    path = tmp_path / "agent.sock"
    with serve_on_socket(path) as first:
        second = subprocess.run(
            [sys.executable, "-m", "agentproc", "serve", "--uds", str(path)],
            capture_output=True,
            text=True,
            timeout=SAFETY_TIMEOUT_SECONDS,
            check=False,
        )
        with first.client() as client:
            still_serving = client.get("/healthz").status_code
    assert second.returncode != 0
    assert f"another server is listening on {path}" in second.stderr.splitlines()[-1]
    assert still_serving == 200
