"""The agent's end of a child's stdin: an ordered, bounded queue written as the command reads.

Input comes from requests that must answer at once, and goes to a command that may read it
slowly, in pieces, or never. So a request only appends to the queue (all of its bytes or,
when the queue has no room for them, none), and one writer task per process, in the
process's supervision, writes the queue to the pipe with non-blocking writes, waiting for
room with ``anyio.wait_writable``. A command that never reads costs the agent its queue's
bytes and nothing else: no thread, no blocked call, no request held.

End-of-file is queued like data: it is sent once everything before it has been written. A
command that exits or closes its stdin while input waits makes the next write fail (EPIPE);
what was left is dropped and logged, never raised, as is whatever is still queued when the
process exits. Logged at info level: a command that stops reading early (``head -1``) is
normal.

The writer sees a file descriptor and nothing behind it. A terminal's master end takes input
the same way; only its end-of-file differs (the EOF character instead of closing the end,
which the terminal's output shares), which is :meth:`ChildInput.send_end_of_file`'s to say.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass
from typing import IO

import anyio

from agentproc.errors import (
    FieldError,
    InputQueueFull,
    InputTooLarge,
    InvalidField,
    InvalidRequest,
)
from agentproc.spec import LONE_SURROGATE, NOT_TEXT
from agentsdk.types import ProcessInputRequest

__all__ = ["BOTH_FORMS", "NOTHING_TO_SEND", "ChildInput", "ProcessInput"]

logger = logging.getLogger(__name__)

NOTHING_TO_SEND = 'Input is required: send "data", "data_base64" or "close": true.'
"""The answer to an input request that carries nothing to do (``{}``)."""

BOTH_FORMS = "Send data or data_base64, not both."
"""The answer to an input request with both forms of data, worded as the wire model's own
check words it, so a request reads the same refusal from every front door."""


@dataclass(frozen=True, slots=True)
class ProcessInput:
    """A validated input request: the bytes to write, then end-of-file or not.

    Front doors build it with :meth:`from_request`, which holds every rule of the input body,
    so each door refuses the same requests.
    """

    data: bytes = b""
    """Written in order after everything queued before."""

    close: bool = False
    """End-of-file once ``data`` is written."""

    @classmethod
    def from_request(cls, request: ProcessInputRequest) -> ProcessInput:
        """The input a decoded request asks for.

        Raises:
            InvalidRequest: both ``data`` and ``data_base64``; none of them and no ``close``;
                ``data_base64`` that is not base64; ``data`` that is not text.
        """
        if request.data is not None and request.data_base64 is not None:
            raise InvalidRequest(
                BOTH_FORMS,
                validations=(FieldError("data_base64", "excludes data"),),
            )
        if request.data is None and request.data_base64 is None and not request.close:
            raise InvalidRequest(NOTHING_TO_SEND, validations=(FieldError("data", "required"),))
        if request.data_base64 is not None:
            data = _decode_base64(request.data_base64)
        elif request.data is not None:
            if LONE_SURROGATE.search(request.data):
                raise InvalidField((FieldError("data", NOT_TEXT),))
            data = request.data.encode("utf-8")
        else:
            data = b""
        return cls(data, close=bool(request.close))


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        # ValueError: text outside ASCII, which no base64 alphabet holds.
        raise InvalidField(
            (FieldError("data_base64", "not base64"),),
            detail=f"{exc} (standard alphabet, with padding)",
        ) from None


class ChildInput:
    """The agent's end of one child's stdin, with its queue and its writer.

    Args:
        stdin: the write end of the child's stdin; made non-blocking here, closed by
            :meth:`close`.
        pid: the child's pid, for the log.
        limit: the most bytes queued and not yet written at once.
    """

    def __init__(self, stdin: IO[bytes], pid: int, limit: int) -> None:
        self._stdin = stdin
        self._fd = stdin.fileno()
        os.set_blocking(self._fd, False)
        self._pid = pid
        self._limit = limit
        self._pending = bytearray()
        self._end_requested = False
        self._closed = False
        # Made by the writer while it waits: only it waits, and it may not have started yet.
        self._wake: anyio.Event | None = None

    @property
    def open(self) -> bool:
        """Whether input can be sent: end-of-file not asked for, the end not closed."""
        return not (self._end_requested or self._closed)

    @property
    def pending(self) -> int:
        """Bytes queued and not yet written."""
        return len(self._pending)

    def send(self, data: bytes, *, close: bool = False) -> int:
        """Queue ``data``, then end-of-file if ``close``: all of it, or nothing. Never blocks.

        Returns:
            The number of bytes queued.

        Raises:
            anyio.ClosedResourceError: the input is not :attr:`open`.
            InputTooLarge: ``data`` alone is larger than the queue may ever hold.
            InputQueueFull: ``data`` does not fit beside what is queued now.
        """
        if not self.open:
            raise anyio.ClosedResourceError
        if len(data) > self._limit:
            raise InputTooLarge(len(data), self._limit)
        if len(self._pending) + len(data) > self._limit:
            raise InputQueueFull(len(self._pending), len(data), self._limit)
        self._pending += data
        self._end_requested = close
        if self._wake is not None:
            self._wake.set()
        return len(data)

    async def run(self) -> None:
        """Write the queue as the command reads it, until end-of-file was sent or the end
        closed; cancel it to stop. A failed write is logged, never raised."""
        while not self._closed:
            if self._pending:
                await self._write_some()
            elif self._end_requested:
                self.send_end_of_file()
            else:
                self._wake = anyio.Event()
                try:
                    await self._wake.wait()
                finally:
                    self._wake = None

    async def _write_some(self) -> None:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            await anyio.wait_writable(self._fd)
            return
        except BrokenPipeError:
            self.close("the command no longer reads its stdin")
            return
        except OSError as exc:
            logger.error("writing input to pid %d failed: %s", self._pid, exc)
            self.close("its stdin failed")
            return
        del self._pending[:written]

    def send_end_of_file(self) -> None:
        """End the command's input once the queue is written: for a pipe, close the end."""
        self.close("end-of-file was sent")

    def close(self, why: str = "the process exited") -> None:
        """Take no more input, drop what is queued (logged with ``why``), close the end.

        Idempotent. Call it from :meth:`run` itself or once :meth:`run` has ended (the
        process's supervision does, when the process exits): a descriptor closed while
        another task waits on it could be reused under that wait.
        """
        if self._closed:
            return
        self._closed = True
        if self._pending:
            logger.info(
                "dropped %d bytes of input to pid %d: %s", len(self._pending), self._pid, why
            )
            self._pending.clear()
        try:
            self._stdin.close()
        except OSError as exc:
            logger.error("closing the stdin of pid %d failed: %s", self._pid, exc)
        if self._wake is not None:
            self._wake.set()
