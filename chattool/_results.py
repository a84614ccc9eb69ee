"""The JSON result of ``execute`` and ``process_output``, and the output cap for the model.

The field order and the omitted-when-empty rules are those of Coder's ``ExecuteResult``, so a
model (or a UI) that reads one agent's results reads the other's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agentsdk.types import ProcessTruncation

__all__ = [
    "FILE_DUMP_NOTE",
    "MAX_OUTPUT_BYTES",
    "ExecuteResult",
    "dump_json",
    "file_dump_note",
    "truncate_output",
]

MAX_OUTPUT_BYTES = 32 * 1024
"""Output handed to the model, in UTF-8 bytes: the agent's head+tail rendering fits, and a
single tool result cannot flood the context."""

FILE_DUMP_NOTE = "Consider using read_file instead of dumping file contents with shell commands."
"""Reading a whole file through the shell wastes context that a paged file tool would save."""

# Matched against the raw command, anchored at its start, as Coder does; a command that hides
# the dump behind `cd x &&` or `sudo` is not worth guessing at.
_FILE_DUMP_PATTERNS = (
    re.compile(r"^cat\s+"),
    re.compile(r"^(rg|grep)\s+.*--include-all"),
    re.compile(r"^(rg|grep)\s+-l\s+"),
)


def truncate_output(output: str, limit: int = MAX_OUTPUT_BYTES) -> str:
    """Cut ``output`` to at most ``limit`` UTF-8 bytes, dropping bytes from its middle.

    The end of the output (the error, the summary line) always survives. The agent's
    head+tail rendering is at most its omission marker longer than 32 KiB, so in practice
    the cut takes a few dozen bytes from the end of the agent's head, right beside the
    marker that already says bytes are missing there. (Coder cuts the end instead, which
    loses the last line of every long output.) No character is split.
    """
    # Four bytes per character at most: short strings need no encoding at all.
    if len(output) * 4 <= limit:
        return output
    data = output.encode("utf-8", "replace")
    if len(data) <= limit:
        return output
    half = limit // 2
    excess = len(data) - limit
    if excess <= half:
        # Slightly over: drop the bytes just before the middle, keep everything after it.
        head, tail = data[: half - excess], data[half:]
    else:
        head, tail = data[:half], data[len(data) - (limit - half) :]
    return head.decode("utf-8", "ignore") + tail.decode("utf-8", "ignore")


def file_dump_note(command: str) -> str:
    """The advisory note for a command that dumps files into the context, else ``""``."""
    if any(pattern.search(command) for pattern in _FILE_DUMP_PATTERNS):
        return FILE_DUMP_NOTE
    return ""


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """The JSON document ``execute`` and ``process_output`` return to the model."""

    success: bool
    """The command exited 0 (for ``process_output``: or is still running fine)."""

    output: str = ""
    """Combined stdout and stderr, at most 32 KiB. Omitted when empty."""

    exit_code: int = 0
    """The exit status; -1 when the command has not exited (timeout) or died by a signal."""

    wall_duration_ms: int = 0
    """Time from the start request to the result; 0 when nothing was waited for."""

    error: str = ""
    """What went wrong, naming the step. Omitted when empty."""

    truncated: ProcessTruncation | None = None
    """The agent's record of what its head+tail rendering dropped. Omitted when nothing was."""

    note: str = ""
    """Advice for the model. Omitted when empty."""

    background_process_id: str = ""
    """The process to follow with ``process_output`` when it is still running."""

    running: bool = False
    """``process_output`` only: the process has not exited yet. Omitted when false."""

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, empty optional fields omitted, in Go's order."""
        data: dict[str, Any] = {"success": self.success}
        if self.output:
            data["output"] = self.output
        data["exit_code"] = self.exit_code
        data["wall_duration_ms"] = self.wall_duration_ms
        if self.error:
            data["error"] = self.error
        if self.truncated is not None:
            data["truncated"] = self.truncated.model_dump(mode="json")
        if self.note:
            data["note"] = self.note
        if self.background_process_id:
            data["background_process_id"] = self.background_process_id
        if self.running:
            data["running"] = True
        return data

    def to_json(self) -> str:
        """The result as compact JSON text, non-ASCII kept readable."""
        return dump_json(self.to_dict())


def dump_json(data: Any) -> str:
    """Compact JSON, as the model reads it: no padding, non-ASCII characters kept as they are."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
