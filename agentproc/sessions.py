"""Linux process sessions: find, signal and reap everything a command left behind.

Every command runs as the leader of a new session, so its session id is the shell's pid and
every descendant that did not call ``setsid`` itself carries it, even after the shell is
gone. That makes the session the unit the agent cleans up. Orphaned descendants are adopted
by the agent (it registers as a child subreaper) and reaped here, because the init of many
containers never reaps them and they would linger as zombies.

Everything here is synchronous and short; callers run the ``/proc`` scans in a worker thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Member",
    "become_subreaper",
    "members",
    "reap_orphans",
    "signal_group",
    "signal_sessions",
]

logger = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
"""prctl option from <linux/prctl.h>: orphaned descendants are re-parented to us."""

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Member:
    """One process of a session, as ``/proc/<pid>/stat`` describes it."""

    pid: int
    ppid: int
    session: int
    state: str

    @property
    def zombie(self) -> bool:
        """True when the process has exited and waits to be reaped."""
        return self.state == "Z"


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); False, logged at error level, where it fails."""
    try:
        # The running program's own symbols include libc's prctl, on glibc and musl alike.
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.error("could not become a child subreaper, orphans may stay zombies: %s", exc)
        return False
    if result != 0:
        error = os.strerror(ctypes.get_errno())
        logger.error("could not become a child subreaper, orphans may stay zombies: %s", error)
        return False
    return True


def _parse_stat(pid: int, text: str) -> Member | None:
    # The command name may contain spaces and parentheses; the fields after the last ')'
    # are fixed: state, ppid, pgrp, session, ...
    _, _, rest = text.rpartition(")")
    fields = rest.split()
    if len(fields) < 4:
        return None
    return Member(pid=pid, ppid=int(fields[1]), session=int(fields[3]), state=fields[0])


def members(sessions: set[int] | frozenset[int]) -> list[Member]:
    """Every live or zombie process whose session id is in ``sessions``."""
    if not sessions:
        return []
    found = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited while we looked
        member = _parse_stat(int(entry.name), text)
        if member is not None and member.session in sessions:
            found.append(member)
    return found


def reap_orphans(sessions: set[int] | frozenset[int]) -> set[int]:
    """Reap our zombie children in ``sessions``; returns the sessions that still have members.

    Only zombies whose parent is this process and that belong to one of ``sessions`` are
    reaped, so children that other code in this process started are never touched.
    """
    me = os.getpid()
    alive: set[int] = set()
    for member in members(sessions):
        if member.zombie and member.ppid == me and member.pid != member.session:
            # ChildProcessError: someone else reaped it first; gone either way.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(member.pid, os.WNOHANG)
            continue
        alive.add(member.session)
    return alive


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to a process group; False when no process of the group exists.

    Raises:
        OSError: the signal reached no member (e.g. PermissionError after a setuid).
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def signal_sessions(sessions: set[int] | frozenset[int], sig: signal.Signals) -> int:
    """Send ``sig`` to every live member of ``sessions``, even ones that left the group."""
    sent = 0
    for member in members(sessions):
        if member.zombie:
            continue
        try:
            os.kill(member.pid, sig)
            sent += 1
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                logger.error("signal %s to pid %d failed: %s", sig.name, member.pid, exc)
    return sent
