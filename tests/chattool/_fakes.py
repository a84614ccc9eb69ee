"""A scripted stand-in for an agent connection, for the chattool unit tests.

It satisfies ``chattool.ToolConnection`` structurally, records every call (with the
headers it was given for that call), and answers from what the test set up: a fixed
response, an exception, or an async handler that decides per call (for waits that block,
fail or honour ``timeout_ms``). ``ProcessLog`` is such a handler for cursor reads: a
process's output as the agent keeps it, with the chat's ``since=last`` mark.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from agentsdk.types import (
    ListProcessesResponse,
    ProcessInfo,
    ProcessOutputResponse,
    ProcessTruncation,
    RunProcessResponse,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)

__all__ = [
    "CHAT_ID",
    "FakeAgent",
    "FakeRunAgent",
    "OutputCall",
    "OutputHandler",
    "ProcessLog",
    "exited",
    "process_info",
    "running",
]

CHAT_ID = "0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90"


@dataclass(frozen=True)
class OutputCall:
    """One ``process_output`` call as the tool made it."""

    process_id: str
    wait: bool
    timeout_ms: int | None
    extra_headers: Mapping[str, str] | None = None
    since: int | Literal["last"] | None = None
    limit: int | None = None


OutputHandler = Callable[[OutputCall], Awaitable[ProcessOutputResponse]]


def exited(
    output: str = "", exit_code: int = 0, truncated: ProcessTruncation | None = None
) -> ProcessOutputResponse:
    """An output response for a process that has exited."""
    return ProcessOutputResponse(
        output=output, running=False, exit_code=exit_code, truncated=truncated
    )


def running(output: str = "") -> ProcessOutputResponse:
    """An output response for a process that is still running."""
    return ProcessOutputResponse(output=output, running=True)


def process_info(process_id: str, *, is_running: bool = False, started: int = 0) -> ProcessInfo:
    """A list entry."""
    return ProcessInfo(
        id=process_id,
        command=f"echo {process_id}",
        background=False,
        running=is_running,
        exit_code=None if is_running else 0,
        started_at_unix=started,
    )


@dataclass
class ProcessLog:
    """A process's output as the agent keeps it, answering snapshots and cursor reads.

    Every byte written has an offset; the agent keeps those from ``kept_from`` on (the
    window moved past the rest). A cursor read returns the kept bytes from its start, at
    most ``limit``, and ``since="last"`` starts where the previous cursor read ended. A
    snapshot (no ``since``) is the whole output, as a short one renders.
    """

    written: bytes = b""
    kept_from: int = 0
    running: bool = True
    exit_code: int | None = None
    mark: int = 0
    """Where the previous cursor read ended: what ``since="last"`` starts from."""

    def write(self, text: str) -> None:
        """The process writes ``text``."""
        self.written += text.encode()

    def exit(self, code: int) -> None:
        """The process exits with ``code``."""
        self.running, self.exit_code = False, code

    async def __call__(self, call: OutputCall) -> ProcessOutputResponse:
        state = {"running": self.running, "exit_code": self.exit_code}
        if call.since is None:
            return ProcessOutputResponse(output=self.written.decode(), **state)
        wanted = self.mark if call.since == "last" else call.since
        start = min(max(wanted, self.kept_from), len(self.written))
        end = min(len(self.written), start + (call.limit or 64 * 1024))
        self.mark = end
        return ProcessOutputResponse(
            output=self.written[start:end].decode(),
            offset=start,
            next_offset=end,
            total_bytes=len(self.written),
            skipped=(start - wanted) if start > wanted else None,
            **state,
        )


@dataclass
class FakeAgent:
    """A ``ToolConnection`` whose answers the test scripts."""

    start_response: StartProcessResponse | Exception = field(
        default_factory=lambda: StartProcessResponse(id="proc-1", started=True)
    )
    output: ProcessOutputResponse | Exception | OutputHandler = field(
        default_factory=lambda: exited()
    )
    listing: ListProcessesResponse | Exception = field(
        default_factory=lambda: ListProcessesResponse(processes=[])
    )
    signal_error: Exception | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """What the connection itself sends on every request (e.g. a chat it is scoped to)."""

    starts: list[StartProcessRequest] = field(default_factory=list)
    output_calls: list[OutputCall] = field(default_factory=list)
    list_calls: int = 0
    signals: list[tuple[str, Signal]] = field(default_factory=list)
    call_headers: list[tuple[str, Mapping[str, str] | None]] = field(default_factory=list)
    """Every call's method name and ``extra_headers``, in order."""

    @property
    def calls(self) -> int:
        """How many calls reached the connection, whatever the method."""
        return len(self.call_headers)

    @property
    def polls(self) -> list[OutputCall]:
        """The waiting reads, i.e. the foreground polls."""
        return [call for call in self.output_calls if call.wait]

    async def start_process(
        self, request: StartProcessRequest, /, *, extra_headers: Mapping[str, str] | None = None
    ) -> StartProcessResponse:
        self.call_headers.append(("start_process", extra_headers))
        self.starts.append(request)
        if isinstance(self.start_response, Exception):
            raise self.start_response
        return self.start_response

    async def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> ListProcessesResponse:
        self.call_headers.append(("list_processes", extra_headers))
        self.list_calls += 1
        if isinstance(self.listing, Exception):
            raise self.listing
        return self.listing

    async def process_output(
        self,
        process_id: str,
        /,
        *,
        since: int | Literal["last"] | None = None,
        limit: int | None = None,
        wait: bool = False,
        timeout_ms: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessOutputResponse:
        self.call_headers.append(("process_output", extra_headers))
        call = OutputCall(process_id, wait, timeout_ms, extra_headers, since, limit)
        self.output_calls.append(call)
        if isinstance(self.output, Exception):
            raise self.output
        if isinstance(self.output, ProcessOutputResponse):
            return self.output
        return await self.output(call)

    async def signal_process(
        self,
        process_id: str,
        signal: Signal,
        /,
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.call_headers.append(("signal_process", extra_headers))
        self.signals.append((process_id, signal))
        if self.signal_error is not None:
            raise self.signal_error


@dataclass
class FakeRunAgent(FakeAgent):
    """A ``RunConnection``: ``run_process`` answers ``run_output`` for the started process
    (the start as ``FakeAgent`` scripts it), so ``execute`` can start and wait in one call."""

    run_output: ProcessOutputResponse | Exception = field(default_factory=lambda: exited())
    runs: list[tuple[StartProcessRequest, int | None]] = field(default_factory=list)
    """Each ``run_process`` call's request and ``wait_ms``."""

    async def run_process(
        self,
        request: StartProcessRequest,
        /,
        *,
        wait_ms: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RunProcessResponse:
        self.call_headers.append(("run_process", extra_headers))
        self.runs.append((request, wait_ms))
        if isinstance(self.start_response, Exception):
            raise self.start_response
        if isinstance(self.run_output, Exception):
            raise self.run_output
        return RunProcessResponse(
            **self.start_response.model_dump(), **self.run_output.model_dump()
        )
