"""A typed tour of the SDK as a caller writes it; strict mypy must accept it unchanged.

``test_typing.py`` runs ``mypy --strict`` on this file and also executes it against a mock
agent, so every line here is both type-checked and real. The ``type: ignore`` lines are
deliberate misuses: strict mypy reports an unused ignore, so each one proves the mistake
is caught.
"""

from __future__ import annotations

from typing import Literal, assert_type

import httpx

from agentsdk import (
    AgentConn,
    AgentSDKError,
    APIConnectionError,
    APIStatusError,
    AsyncAgentConn,
    ConflictError,
    ExitEvent,
    FieldValidation,
    ListProcessesResponse,
    NotFoundError,
    OutputEvent,
    OutputStream,
    ProcessInfo,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessTruncation,
    StartProcessParams,
    StartProcessRequest,
    StartProcessResponse,
)
from chattool import ToolConnection

__all__ = ["run_async", "run_sync", "tool_connection"]


def run_sync(transport: httpx.BaseTransport) -> ProcessOutputResponse:
    """Start, wait, read, signal and handle errors with the sync client."""
    with AgentConn(
        "http://agent.test:4",
        token="s3cret",
        timeout=httpx.Timeout(30.0, connect=2.0),
        max_retries=3,
        headers={"Coder-Chat-Id": "0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90"},
        transport=transport,
    ) as agent:
        started = agent.start_process(command="make test", env={"CI": "1"}, background=False)
        assert_type(started, StartProcessResponse)
        assert_type(started.attached, bool | None)
        again = agent.start_process(StartProcessRequest(command="make test", idempotency_key="k"))
        assert_type(again.id, str)
        params: StartProcessParams = {"command": "make lint", "workdir": "/work"}
        assert_type(agent.start_process(**params), StartProcessResponse)

        patient = agent.with_options(timeout=120.0, max_retries=0)
        assert_type(patient, AgentConn)
        assert_type(patient.list_processes(), ListProcessesResponse)

        listing = agent.list_processes()
        assert_type(listing, ListProcessesResponse)
        assert_type(listing.processes, list[ProcessInfo])

        output = agent.process_output(started.id, wait=True, timeout_ms=10_000)
        assert_type(output.exit_code, int | None)
        assert_type(output.truncated, ProcessTruncation | None)

        fresh = agent.process_output(started.id, since="last", limit=4096, wait=True)
        assert_type(fresh.next_offset, int | None)
        assert_type(agent.process_output(started.id, since=0).skipped, int | None)
        queued = agent.write_input(started.id, b"\x04", close=True)
        assert_type(queued, ProcessInputResponse)
        assert_type(agent.close_input(started.id).stdin_open, bool)
        with agent.stream_output(started.id, since=0) as stream:
            assert_type(stream, OutputStream)
            for event in stream:
                assert_type(event, OutputEvent | ExitEvent)
        assert_type(stream.exit_code, int | None)
        assert_type(stream.next_offset, int)

        try:
            agent.signal_process(started.id, "terminate")
        except ConflictError as exc:
            assert_type(exc.status_code, Literal[409])
        except APIStatusError as exc:
            assert_type(exc.validations, list[FieldValidation])
            assert_type(exc.detail, str | None)
            assert_type(exc.response, httpx.Response)
        except APIConnectionError as exc:
            assert_type(exc.url, str)
        return output


async def run_async(transport: httpx.AsyncBaseTransport) -> ProcessOutputResponse:
    """The same calls with the async client: identical names, awaited."""
    async with AsyncAgentConn("http://agent.test:4", transport=transport) as agent:
        started = await agent.start_process(command="make test")
        assert_type(started, StartProcessResponse)
        listing = await agent.list_processes()
        assert_type(listing.processes, list[ProcessInfo])
        output = await agent.process_output(started.id, wait=True)
        assert_type(output, ProcessOutputResponse)
        await agent.write_input(started.id, "y\n")
        async with agent.stream_output(started.id) as stream:
            async for event in stream:
                if isinstance(event, OutputEvent):
                    assert_type(event.offset, int)
                else:
                    assert_type(event.exit_code, int)
        assert_type(agent.with_options(max_retries=0), AsyncAgentConn)
        try:
            await agent.signal_process(started.id, "kill")
        except NotFoundError as exc:
            assert_type(exc.status_code, Literal[404])
        except AgentSDKError as exc:
            assert_type(exc, AgentSDKError)
        return output


def tool_connection(agent: AsyncAgentConn) -> ToolConnection:
    """An AsyncAgentConn is what the chat tools take as their connection."""
    return agent


def misuses(agent: AgentConn) -> None:
    """Mistakes strict mypy must report (each ignore would be flagged if it were unused)."""
    agent.signal_process("id", "SIGINT")  # type: ignore[arg-type]
    agent.process_output("id", True)  # type: ignore[call-arg]
    agent.process_output("id", since="first")  # type: ignore[arg-type]
    agent.write_input("id", 42)  # type: ignore[arg-type]
    agent.stream_output("id", since="last")  # type: ignore[arg-type]
    agent.start_process(command=["make", "test"])  # type: ignore[arg-type]
    agent.start_process({"command": "ls"})  # type: ignore[arg-type]
    agent.start_process(comand="ls")  # type: ignore[call-arg]
    agent.with_options(max_retries="3")  # type: ignore[arg-type]
    AgentConn("http://agent.test:4", http_client=httpx.AsyncClient())  # type: ignore[arg-type]
