"""The events of an output stream (``GET /{id}/stream``): output chunks, then the exit."""

from __future__ import annotations

from typing import TypeAlias

from agentsdk._model import WireModel as _Wire

__all__ = ["ExitEvent", "OutputEvent", "StreamEvent"]


class OutputEvent(_Wire):
    """The data of an ``output`` event of an output stream; the event's id is its end offset
    (where the stream resumes)."""

    offset: int
    """The byte offset where ``output`` starts."""

    output: str
    """The bytes from ``offset`` on, as UTF-8 (invalid bytes replaced), never split inside a
    character."""

    skipped: int | None = None
    """Bytes before ``offset`` that the reader fell behind on and that are no longer kept.
    Absent when none were lost."""


class ExitEvent(_Wire):
    """The data of the ``exit`` event, the last of an output stream."""

    exit_code: int
    """The exit status (-1 when ended by a signal)."""


StreamEvent: TypeAlias = OutputEvent | ExitEvent
"""What an output stream delivers: output chunks, then one ``ExitEvent``."""
