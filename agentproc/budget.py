"""The output budget: how many bytes the windows of every process's output may hold together.

Each process keeps a window of its newest output for cursor reads and streams
(:class:`~agentproc.buffer.HeadTailBuffer`), longer than the tail its rendering shows. One
window is small; a thousand retained processes' windows are not. The budget bounds their sum:
a window grows past its tail only with bytes the budget grants, and when it has none left, it
takes them back from the windows of the processes that exited longest ago, down to their
tails. Those are the windows least likely to be read again; a running process's window is
never shrunk for another's, so a reader following a live command does not lose its bytes to a
newer command.

The tail itself is outside the budget's say: every process keeps its rendered tail, as it did
before windows existed, so the budget bounds the windows' sum to ``limit`` plus the tails.

Synchronous and lock-free, like the buffers: every call happens on the event loop's thread.
"""

from __future__ import annotations

from agentproc.buffer import HeadTailBuffer

__all__ = ["OutputBudget"]


class OutputBudget:
    """The bytes every output window may hold together, and who gives them back first.

    Args:
        limit_bytes: the sum of every window's ring, tails included, past which windows stop
            growing (a window always gets its tail, even past the limit).
        floor_bytes: how small a window is shrunk: the tail its rendering shows.
    """

    def __init__(self, limit_bytes: int, floor_bytes: int) -> None:
        self._limit = limit_bytes
        self._floor = floor_bytes
        self._held = 0
        # Exited processes' buffers whose window is longer than the floor, oldest exit first:
        # the order their windows are taken back in.
        self._reclaimable: dict[HeadTailBuffer, None] = {}

    @property
    def held(self) -> int:
        """Bytes the windows hold now."""
        return self._held

    @property
    def limit(self) -> int:
        """The most the windows grow to together (tails apart)."""
        return self._limit

    def allot(self, required: int, wanted: int) -> int:
        """Let a window grow by ``wanted`` bytes, of which ``required`` it gets whatever the
        budget says; returns how many it may take (``required`` to ``wanted``).

        Past the limit, the windows of the longest-exited processes are shrunk to their tails
        first, as far as needed.
        """
        optional = wanted - required
        if optional > 0 and self._held + wanted > self._limit:
            self._reclaim(self._held + wanted - self._limit)
        granted = required + max(0, min(optional, self._limit - self._held - required))
        self._held += granted
        return granted

    def exited(self, buffer: HeadTailBuffer) -> None:
        """``buffer``'s process has exited: its window may be taken back, after those of the
        processes that exited before it."""
        if buffer.window_bytes > self._floor:
            self._reclaimable[buffer] = None

    def release(self, buffer: HeadTailBuffer) -> None:
        """``buffer``'s process is forgotten: its window's bytes are free again."""
        self._reclaimable.pop(buffer, None)
        self._held -= buffer.window_bytes

    def _reclaim(self, needed: int) -> None:
        while needed > 0 and self._reclaimable:
            buffer = next(iter(self._reclaimable))
            del self._reclaimable[buffer]
            freed = buffer.shrink_window(self._floor)
            self._held -= freed
            needed -= freed
