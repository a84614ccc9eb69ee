"""What every API's module shares: the request as the provider understood it, and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .script import Call, ProtocolError, ToolSpec

__all__ = ["Exchange", "Turn", "expect", "pieces"]

Turn = list[Call] | str
"""The model's turn: its tool calls, or its final text."""


@dataclass(frozen=True)
class Exchange:
    """A checked request: its tools, the tool calls its history holds and their answers."""

    tools: dict[str, ToolSpec]
    calls: list[tuple[str, str, Any]]
    """Each tool call of the history: call id, tool name, decoded arguments."""
    answers: dict[str, tuple[str, bool | None]]
    """Each answered call id: the answer's text and the API's error flag, if it has one."""
    stream: bool
    model: str
    usage_chunk: bool = False


def expect(condition: object, problem: str) -> None:
    """Refuse the request unless ``condition`` holds.

    Raises:
        ProtocolError: with ``problem``.
    """
    if not condition:
        raise ProtocolError(problem)


def pieces(text: str, count: int = 3) -> list[str]:
    """``text`` cut into up to ``count`` consecutive pieces, as a stream delivers it."""
    if not text:
        return [text]
    size = max(1, -(-len(text) // count))
    return [text[start : start + size] for start in range(0, len(text), size)]
