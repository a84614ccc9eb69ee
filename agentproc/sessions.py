"""Linux process sessions and groups: signalling a command's group, adopting orphans.

Every command runs as the leader of a new session and process group, so its group id is the
shell's pid and a signal to the group reaches the pipeline and its background children.
Orphaned descendants are adopted by the agent (it registers as a child subreaper), so that
they can be reaped and found (:mod:`agentproc.custody`): the init of many containers never
reaps them, and they would linger as zombies.
"""

from __future__ import annotations

import ctypes
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

    Raises:
        OSError: the signal reached no member (e.g. PermissionError after a setuid).
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True
