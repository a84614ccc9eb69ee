"""Reading a process's output by cursor: offsets, each chat's ``since=last``, and streams.

:class:`ProcessReads` is the reading side of :class:`~agentproc.process.ManagedProcess`, which
it is mixed into: reads from an offset as text (never cutting a UTF-8 character), where each
chat context's last cursor read ended, waiting for output past an offset, and following the
output as it comes until the exit. Each read takes the exit state first, so ``running: false``
means the output it returns is all there is.

It knows nothing of how the output is pumped, supervision, terminals or HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio

from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.cursor import TextChunk, read_text
from agentproc.prompts import PromptState
from agentsdk.types import ExitEvent, ExitReason, ProcessOutputResponse

__all__ = ["ProcessReads"]


class ProcessReads:
    """Cursor reads and streams of one process's output; mixed into ``ManagedProcess``,
    which sets every attribute declared here."""

    buffer: HeadTailBuffer
    exit_code: int | None
    exit_reason: ExitReason | None
    prompt: PromptState
    _arrival: Arrival
    # Where the last cursor read of each chat context ended, for since=last.
    _read_ends: dict[str | None, int]

    def cursor_start(self, since: int | None, chat_id: str | None) -> int:
        """Where a cursor read from ``since`` starts: that offset, or where ``chat_id``'s
        previous cursor read ended when ``since`` is ``None`` (``since=last``; 0 the first
        time); never past the end of the output."""
        offset = self._read_ends.get(chat_id, 0) if since is None else since
        return min(offset, self.buffer.total_written)

    def cursor_read(self, offset: int, limit: int, chat_id: str | None) -> ProcessOutputResponse:
        """Up to ``limit`` bytes of output from ``offset`` on, and the exit state read first,
        so ``running: false`` means the output up to ``total_bytes`` is all there is. Where
        it ends is remembered for ``chat_id``'s next ``since=last``."""
        exit_code = self.exit_code
        chunk = read_text(self.buffer, offset, limit, final=exit_code is not None)
        self._read_ends[chat_id] = chunk.next_offset
        return ProcessOutputResponse(
            output=chunk.text,
            running=exit_code is None,
            exit_code=exit_code,
            offset=chunk.start,
            next_offset=chunk.next_offset,
            total_bytes=chunk.total,
            skipped=chunk.skipped or None,
            waiting_for_input=True if self.prompt.waiting() else None,
            exit_reason=self.exit_reason,
        )

    async def wait_output(self, offset: int) -> None:
        """Wait until a cursor read from ``offset`` has something to return, or the process
        exited. Bound it with ``anyio.move_on_after``; many tasks may wait on one process."""
        # A byte past offset is not enough: the first character may still be incomplete.
        while self.exit_code is None and not read_text(self.buffer, offset, 1, final=False).text:
            await self._arrival.wait()

    async def follow(
        self, offset: int, limit: int, quiet_seconds: float
    ) -> AsyncGenerator[TextChunk | ExitEvent | None, None]:
        """The output from ``offset`` on as it comes, in chunks of at most ``limit`` bytes,
        then the exit.

        Yields a :class:`TextChunk` for output (its ``skipped`` counts every byte this
        follower fell behind on since the chunk before), ``None`` after ``quiet_seconds``
        without output, and finally an :class:`ExitEvent`. Nothing is held for the follower
        between chunks: a follower that is slow to ask for the next one reads the window
        from where it is, and what the window lost meanwhile is reported as skipped.
        """
        skipped = 0
        while True:
            exit_code = self.exit_code
            chunk = read_text(self.buffer, offset, limit, final=exit_code is not None)
            skipped += chunk.skipped
            offset = chunk.next_offset
            if chunk.text:
                yield TextChunk(chunk.text, chunk.start, offset, skipped, chunk.total)
                skipped = 0
            elif exit_code is not None:
                yield ExitEvent(exit_code=exit_code)
                return
            else:
                with anyio.move_on_after(quiet_seconds) as quiet:
                    await self.wait_output(offset)
                if quiet.cancelled_caught:
                    yield None
