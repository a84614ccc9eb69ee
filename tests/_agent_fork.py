"""Agents for the tests, forked from a process that has imported the agent already.

An agent of its own (:func:`tests.conftest.serve_agent`) is a separate process, so that a test
can signal it, read its exit status, its memory and its descriptors. Started as
``python -m agentproc serve``, each one spends about half a second of CPU importing FastAPI,
pydantic and the agent before it runs a line of its own; the suite starts dozens. Here they
are forked instead from one server process per test worker (multiprocessing's fork server)
that has imported them once, and each runs ``agentproc.cli.main(["serve", ...])`` with its own
environment, working directory and log pipe: the same code from the parsing of the flags on,
as a process of its own that the test can signal and wait for. The command line itself
(``python -m agentproc``, the ``agentproc`` script) is tested where it is under test:
``tests/agent/test_cli.py``, the README's and the packaging tests.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from multiprocessing import reduction
from typing import IO, Any

__all__ = ["ForkedAgent", "fork_agent"]

_CONTEXT = multiprocessing.get_context("forkserver")
# What the fork server imports before its first fork: the command line, the server and the
# app it imports only to serve, and this module (which the children are told to run).
_CONTEXT.set_forkserver_preload(["agentproc.cli", "agentproc.server", __name__])


class _Inherited:
    """A descriptor handed to the forked child, as multiprocessing hands over a socket."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        # Called while the child's arguments are pickled: DupFd sends the descriptor along.
        return (_detach, (reduction.DupFd(self.fd),))


def _detach(handle: Any) -> int:
    return int(handle.detach())


def _serve(argv: list[str], environ: dict[str, str], cwd: str, log: int) -> None:
    """The forked child: the standard streams and state of ``python -m agentproc serve``
    started with stdin on ``/dev/null`` and stdout and stderr on ``log``, then its main."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # The fork server's own descriptors (its liveness pipe, its resource tracker's, the
    # parent sentinel): an agent started from a shell would have none of them, and the tests
    # count the agent's descriptors. Nothing of this process reads them.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    # multiprocessing pointed sys.stdin at a /dev/null of its own, among those just closed.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's stdin, kept open
    # As a fresh interpreter writing to a pipe sets them up.
    sys.stdout.reconfigure(line_buffering=False)
    sys.stderr.reconfigure(line_buffering=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    from agentproc.cli import main

    main(argv)


class ForkedAgent:
    """The forked agent process, with the part of :class:`subprocess.Popen` the tests use."""

    def __init__(self, process: Any, stdout: IO[str]) -> None:
        self._process = process
        self._returncode: int | None = None
        self.stdout = stdout
        self.pid: int = process.pid

    @property
    def returncode(self) -> int | None:
        """Its exit status (negative: the signal that ended it), None while it runs."""
        if self._returncode is None and self._process.exitcode is not None:
            self._returncode = int(self._process.exitcode)
            # Its status pipe to the fork server, which would otherwise wait for the GC.
            self._process.close()
        return self._returncode

    def poll(self) -> int | None:
        """Its exit status if it has ended, else None."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end, at most ``timeout`` seconds; its exit status."""
        if self._returncode is None:
            self._process.join(timeout)
        code = self.returncode
        if code is None:
            raise subprocess.TimeoutExpired("agentproc serve (forked)", timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        """Send ``sig``, unless it has ended (its pid may be another process's by then)."""
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


def fork_agent(argv: Sequence[str], environ: Mapping[str, str], cwd: str) -> ForkedAgent:
    """Start ``agentproc`` with ``argv`` (e.g. ``["serve", "--port", "0"]``) in a forked
    process; its stdout and stderr come out of the returned agent's ``stdout``."""
    read, write = os.pipe()
    try:
        process = _CONTEXT.Process(
            target=_serve,
            args=(list(argv), dict(environ), cwd, _Inherited(write)),
            name="agentproc-serve",
        )
        process.start()
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return ForkedAgent(process, os.fdopen(read, "r"))
