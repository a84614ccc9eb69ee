"""A scripted stand-in for an agent connection, for the chattool unit tests.

It satisfies ``chattool.ToolConnection`` structurally, records every call (with the
headers it was given for that call), and answers from what the test set up: a fixed
response, an exception, or an async handler that decides per call (for waits that block,
fail or honour ``timeout_ms``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from agentsdk.types import (
    ListProcessesResponse,
    ProcessInfo,
    ProcessOutputResponse,
    ProcessTruncation,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)

__all__ = [
    "CHAT_ID",
    "FakeAgent",
    "OutputCall",
    "OutputHandler",
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
        wait: bool = False,
        timeout_ms: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessOutputResponse:
        self.call_headers.append(("process_output", extra_headers))
        call = OutputCall(process_id, wait, timeout_ms, extra_headers)
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
