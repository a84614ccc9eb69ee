"""Commands start with every signal at its default action and none blocked, however the
agent itself was started.

A process keeps across ``fork`` and ``exec`` the signals its parent ignores and the ones the
forking thread blocks; only a caught signal goes back to its default. So an agent started as
a shell's background job (``agentproc serve &`` in a startup script) ignores SIGINT and
SIGQUIT, one started by ``nohup`` ignores SIGHUP, and an application serving the agent's app
may block signals in its threads, and every command would inherit that. A shell on a
terminal would then run jobs that ignore Ctrl-C, and ``kill -INT`` would do nothing.

The spawner reads once which signals the agent ignores (:func:`ignored_signals`), and each
spawn adds whether the forking thread blocks any (:func:`inherited`). Usually there is
nothing to undo, and the child starts the fast way, with no code between ``fork`` and
``exec``. Otherwise :meth:`Inherited.restore` runs in the child before ``exec``.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

__all__ = ["CHECKED", "Inherited", "ignored_signals", "inherited"]

RESTORED_BY_SUBPROCESS = frozenset({signal.SIGPIPE, signal.SIGXFSZ})
"""What Python ignores for itself, and ``subprocess.Popen`` (``restore_signals``) puts back."""

UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
"""Signals whose action cannot be changed, so never ignored."""

CHECKED = tuple(
    int(number)
    for number in sorted(signal.valid_signals())
    if number not in RESTORED_BY_SUBPROCESS | UNCATCHABLE
)
"""The signals a child could inherit ignored, as numbers (``valid_signals`` builds an enum
member for each: a quarter of a millisecond)."""


@dataclass(frozen=True, slots=True)
class Inherited:
    """What a child would inherit that a command must not start with."""

    ignored: tuple[int, ...]
    """Signals the agent ignores."""

    blocked: bool
    """Whether the forking thread blocks any signal."""

    def restore(self) -> None:
        """In the child, before ``exec``: every ignored signal back to its default action,
        and no signal blocked."""
        for number in self.ignored:
            signal.signal(number, signal.SIG_DFL)
        if self.blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, ())


def ignored_signals() -> tuple[int, ...]:
    """The signals this process ignores that a child would go on ignoring.

    Read once, by the spawner, when the agent starts: a look costs about 30 µs, as much as a
    few percent of a spawn, and nothing in the agent changes what it ignores.
    """
    return tuple(number for number in CHECKED if signal.getsignal(number) is signal.SIG_IGN)


def inherited(ignored: tuple[int, ...]) -> Inherited | None:
    """What a child forked by the calling thread now would inherit: the ``ignored`` signals
    (:func:`ignored_signals`), and any the thread blocks. ``None`` if nothing."""
    blocked = bool(signal.pthread_sigmask(signal.SIG_BLOCK, ()))
    if not ignored and not blocked:
        return None
    return Inherited(ignored, blocked)
