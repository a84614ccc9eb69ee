"""Linux process sessions and groups: signalling a command's group, adopting orphans.

Every command runs as the leader of a new session and process group, so its group id is the
shell's pid and a signal to the group reaches the pipeline and its background children.
Orphaned descendants are adopted by the agent (it registers as a child subreaper), so that
they can be reaped and found (:mod:`agentproc.custody`): the init of many containers never
reaps them, and they would linger as zombies.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal

__all__ = ["become_subreaper", "signal_group"]

logger = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
"""prctl option from <linux/prctl.h>: orphaned descendants are re-parented to us."""


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


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to a process group; False when no process of the group exists.

    ``pgid`` is a command's shell, which leads its own group. A group that cannot be one
    (init's, or 0 and below, which mean the caller's group or every process) or that is the
    agent's own is refused, so that no fault elsewhere can make this hit the agent's host.

    Raises:
        OSError: the signal reached no member (e.g. PermissionError after a setuid), or
            ``pgid`` is refused.
    """
    if pgid <= 1 or pgid in (os.getpid(), os.getpgrp()):
        logger.error("refusing to send %s to process group %d: it is no command's", sig.name, pgid)
        raise PermissionError(errno.EPERM, f"process group {pgid} is no command's")
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True
