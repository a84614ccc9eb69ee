"""Telling the readers who wait for a process's output that more has arrived.

A long poll (``output?since=N&wait=true``) and every stream of a process wait for output past
their place. The output pump rings an :class:`Arrival` after each write, and every reader
waiting at that moment wakes and reads the buffer by its own cursor; nothing is queued per
reader, so a reader that is slow to wake costs the pump nothing.

The bell also remembers when it last rang: the last output, for the deadline that ends a
silent command and for the quiet that tells a question from work.
"""

from __future__ import annotations

import time

import anyio

__all__ = ["Arrival"]


class Arrival:
    """A bell: :meth:`ring` wakes every task in :meth:`wait` at that moment.

    Ringing while nobody waits is one attribute check, so the pump can ring after every
    write. Each ring ends the current wait for everyone; the next wait gets a fresh event.
    Use from the event loop's thread only.
    """

    __slots__ = ("_event", "rung_at")

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        self.rung_at = time.monotonic()
        """``time.monotonic()`` of the last :meth:`ring`; of the bell's making before one."""

    def ring(self) -> None:
        """Wake every waiting task (none: nothing to do)."""
        self.rung_at = time.monotonic()
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self) -> None:
        """Return at the next :meth:`ring`. Check what you wait for before calling, with no
        ``await`` in between, so a ring cannot fall between the check and the wait."""
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()
