"""Awaiting the exit of the agent's own child processes without a thread or a SIGCHLD handler."""

from __future__ import annotations

import os
import subprocess

import anyio

__all__ = ["wait_child"]


async def wait_child(
    popen: subprocess.Popen[bytes], limiter: anyio.CapacityLimiter | None = None
) -> int:
    """Await the child's exit and reap it; returns Popen's status (negative: the signal).

    Args:
        popen: a child of this process.
        limiter: bounds the worker threads that wait where the kernel has no pidfd.
    """
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError:
        pidfd = None
    if pidfd is not None:
        try:
            await anyio.wait_readable(pidfd)
        finally:
            anyio.notify_closing(pidfd)
            os.close(pidfd)
        return popen.wait()
    # No pidfd (old kernel): a worker thread blocks in waitpid instead.
    # Its own limiter, so waiting children never starve the worker threads of /proc scans.
    return await anyio.to_thread.run_sync(popen.wait, abandon_on_cancel=True, limiter=limiter)
