"""The agent's end of its keeper (:mod:`agentproc.keeper`): start it, feed it, replace it.

Claims go to the keeper as lines on a pipe. Starting a command must stay cheap and must
never block the event loop, so a line is written at once with a non-blocking ``write`` (a
line is far below ``PIPE_BUF``, so it goes in whole or not at all); only when the pipe is
full are lines kept and written by a task as the pipe drains. A keeper that stops reading
until a megabyte waits is killed; a keeper that exits while the agent runs is logged at
error level and started again, and its successor is sent every current claim first.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping

import anyio
import anyio.abc

from agentproc.children import wait_child
from agentproc.keeper import RELEASE

__all__ = ["KeeperLink"]

logger = logging.getLogger(__name__)

BACKLOG_BYTES = 1024 * 1024
"""Lines waiting for a keeper that does not read; beyond this it is stuck and replaced."""

RESTART_MIN_SECONDS = 1.0
"""First delay before a keeper that exited is replaced."""

RESTART_MAX_SECONDS = 60.0
"""Longest delay between replacements of a keeper that keeps failing; a keeper that ran
this long before it exited is replaced after the shortest delay again."""

EXIT_SECONDS = 2.0
"""How long a released keeper may take to exit before it is killed."""


class KeeperLink:
    """Runs the keeper and sends it claim lines without ever blocking.

    Args:
        argv: how to start the keeper (:func:`agentproc.keeper.command`).
        env: the keeper's environment.
        replay: every current claim, as lines, for a keeper that starts afresh.
    """

    def __init__(
        self, argv: list[str], env: Mapping[str, str], replay: Callable[[], list[str]]
    ) -> None:
        self._argv = argv
        self._env = dict(env)
        self._replay = replay
        self._popen: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._pending = bytearray()
        self._wake = anyio.Event()
        self._gone = anyio.Event()
        self._gone.set()
        self._restart = anyio.Event()
        self._closing = False
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def pid(self) -> int | None:
        """The running keeper's pid, if one runs."""
        return None if self._popen is None else self._popen.pid

    def send(self, line: str) -> None:
        """Send one line now, or as soon as the pipe has room. Never blocks."""
        if self._fd is None:
            return  # no keeper right now: the next one is sent every claim when it starts
        data = line.encode()
        if not self._pending:
            try:
                os.write(self._fd, data)
                return
            except BlockingIOError:
                pass
            except OSError:
                # The keeper is gone; its watcher logs that and starts another.
                self._pending.clear()
                return
        if len(self._pending) + len(data) > BACKLOG_BYTES:
            self._kill(f"it has not read the last {len(self._pending)} bytes sent to it")
            return
        self._pending += data
        self._wake.set()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Keep a keeper running until :meth:`release`; ready once the first one started."""
        delay = RESTART_MIN_SECONDS
        ready = False
        while not self._closing:
            began = time.monotonic()
            popen = self._spawn()
            if not ready:
                task_status.started()
                ready = True
            if popen is not None:
                status = await self._serve(popen)
                if self._closing:
                    return
                logger.error(
                    "the keeper (pid %d) exited with status %d; a crash of the agent would now "
                    "leave processes behind, so another one starts",
                    popen.pid,
                    status,
                )
            if time.monotonic() - began > RESTART_MAX_SECONDS:
                delay = RESTART_MIN_SECONDS
            with anyio.move_on_after(delay):
                await self._restart.wait()
            delay = min(delay * 2, RESTART_MAX_SECONDS)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        read_end, write_end = os.pipe()
        try:
            popen = subprocess.Popen(
                self._argv,
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                # stderr stays the agent's: the keeper's messages go where the agent logs.
                env=self._env,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(write_end)
            logger.error("starting the keeper failed: %s; a crash would leave processes", exc)
            return None
        finally:
            os.close(read_end)
        os.set_blocking(write_end, False)
        self._popen, self._fd, self._gone = popen, write_end, anyio.Event()
        self._pending = bytearray("".join(self._replay()).encode())
        if self._pending:
            self._wake.set()
        return popen

    async def _serve(self, popen: subprocess.Popen[bytes]) -> int:
        fd = self._fd
        assert fd is not None  # noqa: S101 - set by _spawn together with popen
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._flush, fd)
                status = await wait_child(popen, self._limiter)
                tg.cancel_scope.cancel()
        finally:
            self._fd = None
            self._pending.clear()
            anyio.notify_closing(fd)
            os.close(fd)
            self._popen = None
            self._gone.set()
        return status

    async def _flush(self, fd: int) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._pending:
                try:
                    written = os.write(fd, self._pending)
                except BlockingIOError:
                    await anyio.wait_writable(fd)
                    continue
                except OSError:
                    self._pending.clear()  # the keeper is gone; _serve sees it exit
                    return
                del self._pending[:written]

    def _kill(self, why: str) -> None:
        popen = self._popen
        if popen is None:
            return
        logger.error("killing the keeper (pid %d): %s", popen.pid, why)
        try:
            popen.kill()
        except OSError as exc:
            logger.error("killing the keeper (pid %d) failed: %s", popen.pid, exc)
        self._pending.clear()

    async def release(self) -> None:
        """Tell the keeper the agent shuts down gracefully, and wait until it has exited."""
        self._closing = True
        self._restart.set()
        if self._popen is None:
            return
        self.send(RELEASE + "\n")
        with anyio.move_on_after(EXIT_SECONDS):
            await self._gone.wait()
        if not self._gone.is_set():
            self._kill(f"it did not exit within {EXIT_SECONDS:g} s of its release")
            await self._gone.wait()
