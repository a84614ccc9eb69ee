"""Which commands are blocked reading their own input, from ``/proc`` (``agentproc.blockedreads``).

Real processes in sessions of their own, without an agent. A command reading something else is
checked against a positive control in the same command: the scan must see the process blocked
on what it does read, and still not count it as reading its input.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import termios
import time
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from agentproc.blockedreads import InputIdentity, waiting_sessions
from tests.conftest import SAFETY_TIMEOUT_SECONDS

POLL_SECONDS = 0.01
"""No event tells that a process went to sleep in a read; the scan is polled, bounded."""

PYTHON_PROMPT = "python3 -c 'input(\"Ok? \")'"


@contextlib.contextmanager
def command(argv: list[str], **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in a session of its own until the block ends; then kill the session."""
    process = subprocess.Popen(argv, start_new_session=True, **popen)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(SAFETY_TIMEOUT_SECONDS)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def shell(
    script: str, **popen: object
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """``sh -c script`` with stdin a pipe from this test, unless ``popen`` says otherwise."""
    options: dict[str, object] = {"stdin": subprocess.PIPE, "stdout": subprocess.DEVNULL}
    options.update(popen)
    return command(["sh", "-c", script], **options)


def stdin_of(process: subprocess.Popen[bytes]) -> frozenset[InputIdentity]:
    """The identity of the command's stdin pipe, as the spawner takes it."""
    assert process.stdin is not None
    return frozenset({InputIdentity.of_descriptor(process.stdin.fileno())})


def blocked_on(session: int, inputs: Collection[InputIdentity]) -> bool:
    """One scan: is some process of ``session`` blocked reading one of ``inputs``?"""
    scan = waiting_sessions({session: inputs})
    assert scan.problem is None
    return session in scan.waiting


def eventually_blocked_on(session: int, inputs: Collection[InputIdentity]) -> None:
    """Poll, bounded, until some process of ``session`` is blocked reading ``inputs``."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while not blocked_on(session, inputs):
        assert time.monotonic() < deadline, f"session {session} never blocked on {inputs}"
        time.sleep(POLL_SECONDS)


def identity_of_path(path: Path) -> frozenset[InputIdentity]:
    """The identity of a file opened by name (a FIFO opened for reading and writing)."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        return frozenset({InputIdentity.of_descriptor(fd)})
    finally:
        os.close(fd)


# -- reading its own stdin -----------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "read x",
        PYTHON_PROMPT,
        "cat > /dev/null",
        # What event loops and line editors wait in, rather than read itself.
        "python3 -c 'import select, sys; select.select([sys.stdin], [], [])'",
        "python3 -c 'import select; p = select.poll(); p.register(0, select.POLLIN); p.poll()'",
        "python3 -c 'import select; e = select.epoll(); e.register(0, select.EPOLLIN); e.poll()'",
    ],
    ids=["sh-read", "python-input", "cat", "select", "poll", "epoll"],
)
def test_a_process_blocked_reading_the_stdin_pipe_is_seen(script: str) -> None:
    """read, select, poll and epoll on the command's stdin pipe all count."""
    with shell(script) as process:
        eventually_blocked_on(process.pid, stdin_of(process))


def test_a_reader_in_a_subshell_of_the_command_is_seen() -> None:
    """Any process of the session counts, not only the shell: here a grandchild reads."""
    with shell("(sh -c 'read x'; echo done) | cat") as process:
        eventually_blocked_on(process.pid, stdin_of(process))


def test_input_that_arrives_unblocks_the_reader() -> None:
    """Once the line is written, the reader is no longer blocked (it exits)."""
    with shell("read x; sleep 300") as process:
        inputs = stdin_of(process)
        eventually_blocked_on(process.pid, inputs)
        assert process.stdin is not None
        process.stdin.write(b"answer\n")
        process.stdin.flush()
        deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
        while blocked_on(process.pid, inputs):
            assert time.monotonic() < deadline
            time.sleep(POLL_SECONDS)


# -- reading something else ----------------------------------------------------------------


def test_sleep_is_not_reading_anything() -> None:
    """``sleep`` sleeps in nanosleep: no read at all."""
    with shell("echo ready; exec sleep 300", stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        assert not blocked_on(process.pid, stdin_of(process))


def test_a_pipeline_reading_its_own_pipe_is_not_reading_the_stdin() -> None:
    """``sleep | grep``: grep is blocked on the pipe from sleep, another process's, not on the
    command's stdin, though the command has one."""
    read_end, write_end = os.pipe()
    try:
        # The command's own pipe is made here, so its identity is known for the control.
        with shell("sleep 300 | grep x", stdin=read_end) as process:
            pipeline_pipe = _pipe_between(process.pid)
            eventually_blocked_on(process.pid, pipeline_pipe)
            assert not blocked_on(process.pid, {InputIdentity.of_descriptor(write_end)})
    finally:
        os.close(read_end)
        os.close(write_end)


def _pipe_between(session: int) -> frozenset[InputIdentity]:
    """The pipe grep reads in the session (found by name, bounded): its stdin's identity."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        for pid in os.listdir("/proc"):
            with contextlib.suppress(OSError):
                stat_text = Path("/proc", pid, "stat").read_text()
                in_session = int(stat_text.rpartition(")")[2].split()[3]) == session
                if in_session and Path("/proc", pid, "comm").read_text().strip() == "grep":
                    status = os.stat(Path("/proc", pid, "fd", "0"))
                    return frozenset({InputIdentity(status.st_dev, status.st_ino)})
        assert time.monotonic() < deadline, "grep never started"
        time.sleep(POLL_SECONDS)


def test_a_process_reading_a_fifo_is_not_reading_the_stdin(tmp_path: Path) -> None:
    """A read of a named pipe (the program's own file) is blocked, and not on the stdin."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opened for reading and writing, so the open itself does not wait for a writer.
    with shell('exec 3<>"$FIFO"; read x <&3', env={**os.environ, "FIFO": str(fifo)}) as process:
        eventually_blocked_on(process.pid, identity_of_path(fifo))
        assert not blocked_on(process.pid, stdin_of(process))


def test_a_process_reading_a_socket_is_not_reading_the_stdin() -> None:
    """A read of a socket is blocked, and not on the stdin."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        # os.read, not recv: a read(2) of a socket is what the scan sees and must set aside.
        script = "python3 -c 'import os; os.read(int(os.environ[\"FD\"]), 1)'"
        env = {**os.environ, "FD": str(theirs.fileno())}
        with shell(script, pass_fds=(theirs.fileno(),), env=env) as process:
            inputs = frozenset({InputIdentity.of_descriptor(theirs.fileno())})
            eventually_blocked_on(process.pid, inputs)
            assert not blocked_on(process.pid, stdin_of(process))


def test_a_command_with_stdin_from_dev_null_is_never_watched() -> None:
    """No input identities, nothing to wait on: even ``read`` of /dev/null is not waiting."""
    with shell("read x; sleep 300", stdin=subprocess.DEVNULL) as process:
        assert waiting_sessions({process.pid: frozenset()}).waiting == frozenset()


def test_an_architecture_without_a_table_says_so() -> None:
    """Where the system call numbers are unknown, nothing is seen and the scan says why."""
    scan = waiting_sessions({1: frozenset({InputIdentity(1, 1)})}, machine="vax")
    assert scan.waiting == frozenset()
    assert scan.problem == "blocked reads are not understood on vax"


# -- terminals: the identity a terminal's process adds ---------------------------------------


@pytest.mark.parametrize(
    "script",
    [PYTHON_PROMPT, "python3 -c 'import getpass; getpass.getpass()' </dev/null", "bash --norc -i"],
    ids=["input", "password-from-dev-tty", "readline"],
)
def test_a_terminal_s_slave_identity_covers_its_readers(script: str) -> None:
    """With the slave end's identity, a read of the terminal, of /dev/tty under it as the
    controlling terminal, and readline's pselect all count."""
    master, slave = os.openpty()
    try:
        inputs = frozenset({InputIdentity.of_descriptor(slave)})
        with shell(
            script,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        ) as process:
            eventually_blocked_on(process.pid, inputs)
    finally:
        os.close(slave)
        os.close(master)
