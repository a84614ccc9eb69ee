"""The JSON results of ``execute`` and ``process_output``, and the output cap for the model.

Both report what a command did (``CommandResult``); ``execute`` adds the id of a process
left running (``ExecuteResult``), ``process_output`` whether the process still runs and
what output it could not show (``ProcessOutputResult``). The field order and the
omitted-when-empty rules are those of Coder's ``ExecuteResult``, so a model (or a UI) that
reads one agent's results reads the other's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Self

from agentsdk.types import ProcessOutputResponse, ProcessTruncation
from agentsdk.wire import find_omission_markers

__all__ = [
    "CUT_MARKER",
    "FILE_DUMP_NOTE",
    "MAX_OUTPUT_BYTES",
    "CommandResult",
    "ExecuteResult",
    "ProcessOutputResult",
    "dump_json",
    "file_dump_note",
    "truncate_output",
]

MAX_OUTPUT_BYTES = 32 * 1024
"""Output handed to the model, in UTF-8 bytes: the agent's head+tail rendering fits, and a
single tool result cannot flood the context."""

CUT_MARKER = "\n\n... [cut {count} bytes here to fit the {limit}-byte output limit] ...\n\n"
"""Replaces the middle of an output too long for the model, saying how many UTF-8 bytes went;
worded unlike the agent's ``[omitted N bytes]`` note, whose count is of the raw output."""

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
    """Cut ``output`` to at most ``limit`` UTF-8 bytes, replacing its middle with a marker.

    The start and the end of the output (the error, the summary line) both survive; the
    bytes between them are replaced by ``CUT_MARKER``, which says how many were cut, so the
    model always knows that something is missing and how much. Short output is returned
    unchanged.

    The agent already keeps only the head and the tail of a long output, joined by its own
    ``... [omitted N bytes] ...`` note, and that rendering can be far larger than 32 KiB:
    the agent decodes every invalid byte to U+FFFD, three bytes in UTF-8, so binary output
    renders up to three times its size. When the cut reaches the agent's note, the note is
    kept beside the cut marker, so both omissions stay visible. (Coder cuts the end
    instead, silently, which loses the last line of every long output.) No character is
    split, and the result is valid UTF-8.

    Raises:
        ValueError: ``limit`` is too small to hold the marker and some output.
    """
    # Four bytes per character at most: short strings need no encoding at all.
    if len(output) * 4 <= limit:
        return output
    data = output.encode("utf-8", "replace")
    if len(data) <= limit:
        return output
    # The count printed in the marker can never exceed the input's size.
    marker_room = len(_cut_marker(len(data), limit))
    if limit < marker_room + 2:
        raise ValueError(f"limit must be at least {marker_room + 2} bytes, got {limit}")
    note = b""
    while True:
        room = limit - marker_room - len(note)
        head_end = _char_start_at_or_before(data, room // 2)
        tail_start = _char_start_at_or_after(data, len(data) - (room - room // 2))
        found = _agent_note_within(data, head_end, tail_start)
        if len(found) <= len(note) or room - len(found) + len(note) < 2:
            # Nothing new to keep, or no room for it: a note that does not fit is cut
            # (and counted) like any other text.
            break
        # Room for the agent's note shrinks what is kept, so look again over the wider cut.
        note = found
    cut = tail_start - head_end - len(note)
    kept = data[:head_end] + _cut_marker(cut, limit) + note + data[tail_start:]
    return kept.decode("utf-8")


def _cut_marker(count: int, limit: int) -> bytes:
    return CUT_MARKER.format(count=count, limit=limit).encode("ascii")


def _char_start_at_or_before(data: bytes, index: int) -> int:
    # UTF-8 continuation bytes look like 0b10xxxxxx; a character starts at any other byte.
    while 0 < index < len(data) and data[index] & 0xC0 == 0x80:
        index -= 1
    return index


def _char_start_at_or_after(data: bytes, index: int) -> int:
    while index < len(data) and data[index] & 0xC0 == 0x80:
        index += 1
    return index


def _agent_note_within(data: bytes, start: int, end: int) -> bytes:
    """The agent's omission note if it overlaps ``data[start:end]``, else ``b""``."""
    # The agent writes one note; output that merely contains similar text may match too,
    # so at most one is kept and the rest are cut like any other text.
    for marker in find_omission_markers(data):
        if marker.start < end and marker.end > start:
            return data[marker.start : marker.end]
        if marker.start >= end:
            break
    return b""


def file_dump_note(command: str) -> str:
    """The advisory note for a command that dumps files into the context, else ``""``."""
    if any(pattern.search(command) for pattern in _FILE_DUMP_PATTERNS):
        return FILE_DUMP_NOTE
    return ""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did, as the model reads it: the fields ``execute`` and
    ``process_output`` share, in Coder's order."""

    success: bool
    """The command exited 0 (for ``process_output``: or is still running fine)."""

    output: str = ""
    """Combined stdout and stderr, at most 32 KiB. Omitted when empty."""

    exit_code: int = 0
    """The exit status; -1 when the command has not exited (timeout) or died by a signal.
    ``process_output`` leaves it out until the process has exited."""

    wall_duration_ms: int = 0
    """Time from the start request to the result; 0 when nothing was waited for (always, for
    ``process_output``: the field is kept so both tools answer in one shape)."""

    error: str = ""
    """What went wrong, naming the step. Omitted when empty."""

    truncated: ProcessTruncation | None = None
    """The agent's record of what its head+tail rendering dropped. Omitted when nothing was."""

    note: str = ""
    """Advice for the model. Omitted when empty."""

    waiting_for_input: bool = False
    """The command is running and waits for input (a question, a prompt): answer it with
    ``process_input``. Omitted when false."""

    exit_reason: str = ""
    """Why the command ended, when not by itself: ``signal``, ``timeout`` or ``idle_timeout``
    (a deadline of the start), ``shutdown``. Omitted otherwise."""

    @classmethod
    def exited(
        cls,
        response: ProcessOutputResponse,
        *,
        wall_duration_ms: int = 0,
        note: str = "",
        output: str | None = None,
    ) -> Self:
        """The result of a process that has exited: success means exit code 0.

        Args:
            response: the read that saw the exit.
            wall_duration_ms: how long the tool waited.
            note: advice for the model.
            output: what to show instead of the response's output (a terminal's screen).
        """
        exit_code = response.exit_code if response.exit_code is not None else 0
        return cls(
            success=exit_code == 0,
            output=truncate_output(response.output if output is None else output),
            exit_code=exit_code,
            wall_duration_ms=wall_duration_ms,
            truncated=response.truncated if output is None else None,
            note=note,
            exit_reason=_reported_reason(response.exit_reason),
        )

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
        if self.waiting_for_input:
            data["waiting_for_input"] = True
        if self.exit_reason:
            data["exit_reason"] = self.exit_reason
        return data

    def to_json(self) -> str:
        """The result as compact JSON text, non-ASCII kept readable."""
        return dump_json(self.to_dict())


@dataclass(frozen=True, slots=True)
class ExecuteResult(CommandResult):
    """The JSON document ``execute`` returns to the model."""

    background_process_id: str = ""
    """The process to follow with ``process_output`` when it is still running (run in the
    background, or past its timeout). Omitted when empty."""

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, empty optional fields omitted, in Go's order."""
        # Named, not super(): a slotted dataclass is rebuilt, which breaks the bare form.
        data = CommandResult.to_dict(self)
        if self.background_process_id:
            data["background_process_id"] = self.background_process_id
        return data


@dataclass(frozen=True, slots=True)
class ProcessOutputResult(CommandResult):
    """The JSON document ``process_output`` returns to the model.

    Unlike ``execute``'s, it states ``running`` every time and gives ``exit_code`` only once
    the process has exited (a -1 for "still running" would read as "killed"). A result that
    reports a failed read knows neither, and has neither.
    """

    running: bool = False
    """The process has not exited yet."""

    skipped_bytes: int = 0
    """Output written since the chat's previous read that the agent no longer kept, so the
    model never saw it. Omitted when 0."""

    @classmethod
    def read(
        cls,
        response: ProcessOutputResponse,
        *,
        output: str,
        skipped_bytes: int = 0,
        note: str = "",
        screen: bool = False,
    ) -> Self:
        """The result of a read: success while running, or once exited with code 0.

        Args:
            response: The read whose exit state is reported (and whose ``truncated``, for a
                snapshot).
            output: What the model is shown, before the 32 KiB cut.
            skipped_bytes: New output the agent no longer kept.
            note: Advice for the model.
            screen: ``output`` is a terminal's screen, not the response's output.
        """
        exit_code = 0 if response.running or response.exit_code is None else response.exit_code
        return cls(
            success=exit_code == 0,
            output=truncate_output(output),
            exit_code=exit_code,
            truncated=None if screen else response.truncated,
            note=note,
            waiting_for_input=bool(response.running and response.waiting_for_input),
            exit_reason="" if response.running else _reported_reason(response.exit_reason),
            running=response.running,
            skipped_bytes=skipped_bytes,
        )

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, empty optional fields omitted, in Go's order."""
        # Named, not super(): a slotted dataclass is rebuilt, which breaks the bare form.
        data = CommandResult.to_dict(self)
        if self.error or self.running:
            del data["exit_code"]
        if not self.error:
            data["running"] = self.running
        if self.skipped_bytes:
            data["skipped_bytes"] = self.skipped_bytes
        return data


def _reported_reason(reason: str | None) -> str:
    # An exit of the command's own is what an exit code already says.
    return "" if reason in (None, "exit") else str(reason)


def dump_json(data: Any) -> str:
    """Compact JSON, as the model reads it: no padding, non-ASCII characters kept as they are."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
