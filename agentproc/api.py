"""The HTTP surface of the process API: ``/api/v0/processes`` and ``/healthz``.

The router parses and validates requests, calls the process manager and shapes responses.
It knows nothing of ``os`` or subprocesses. Bodies are decoded by ``agentproc.body``, not
by FastAPI, because Coder's Go client sends JSON without a ``Content-Type`` header and every
failure must be a 400 in the contract's error shape, never a framework 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar, get_args

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from agentproc import api_examples as examples
from agentproc.body import INVALID_JSON, capped_decimal, read_json_object
from agentproc.childinput import ProcessInput
from agentproc.cursor import parse_cursor, parse_offset
from agentproc.deps import ChatDep, ManagerDep, ProcessId, SettingsDep, bearer_scheme, get_chat_id
from agentproc.errors import CommandRequired, FieldError, InvalidRequest, quote
from agentproc.query_params import (
    LastEventId,
    Limit,
    Since,
    StreamSince,
    TimeoutMs,
    Wait,
    waits,
)
from agentproc.route_docs import error_responses, json_body, json_errors, links_from_start, success
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec
from agentproc.sse import STREAM_RESPONSE, EventStreamResponse, output_frames
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInputRequest,
    ProcessInputResponse,
    ProcessOutputResponse,
    Signal,
    SignalProcessRequest,
    SignalProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import (
    API_PREFIX,
    DEFAULT_CURSOR_LIMIT_BYTES,
    INPUT_PATH,
    LAST_EVENT_ID_HEADER,
    MAX_WAIT_MS,
    STREAM_HEARTBEAT_SECONDS,
    STREAM_PATH,
)

__all__ = ["api_router", "health_router"]

api_router = APIRouter(
    prefix=API_PREFIX,
    tags=["processes"],
    # The chat header is checked on every route, even one that does not use the chat, so a
    # malformed header is refused everywhere (FastAPI runs a shared dependency once).
    dependencies=[Depends(bearer_scheme), Depends(get_chat_id)],
)
health_router = APIRouter(tags=["health"])


@health_router.get(
    "/healthz", operation_id="healthz", summary="Liveness", responses=success(examples.HEALTHY)
)
async def healthz() -> dict[str, str]:
    """Answers at once whatever the processes are doing; needs no token."""
    return {"status": "ok"}


@api_router.post(
    "/start",
    operation_id="start_process",
    summary="Start a process",
    response_model_exclude_none=True,
    responses=error_responses(docs=examples.START_ERRORS)
    | success(examples.STARTED, links=links_from_start()),
    openapi_extra=json_body(StartProcessRequest, examples.START_REQUESTS),
)
async def start_process(
    request: Request, manager: ManagerDep, settings: SettingsDep, chat_id: ChatDep
) -> StartProcessResponse:
    """Start `sh -c <command>` and return its id at once; it runs until it exits or is
    signalled, whatever happens to this request. A repeated `idempotency_key` returns the
    first process (`started: false, attached: true`) and runs nothing."""
    body = await read_json_object(request, settings.max_body_bytes)
    start = _parse_start(body, settings, chat_id)
    result = manager.start(start)
    return StartProcessResponse(
        id=result.process.id,
        started=result.started,
        attached=None if result.started else True,
    )


@api_router.get(
    "/list",
    operation_id="list_processes",
    summary="List processes",
    response_model_exclude_none=True,
    responses=error_responses() | success(examples.LISTED),
)
async def list_processes(manager: ManagerDep, chat_id: ChatDep) -> ListProcessesResponse:
    """Every process the agent knows, running first, then newest first. With a chat id,
    only that chat's processes."""
    return ListProcessesResponse(processes=[p.info() for p in manager.list_processes(chat_id)])


@api_router.get(
    "/{id}/output",
    operation_id="process_output",
    summary="Read a process's output",
    response_model_exclude_none=True,
    responses=error_responses(docs=examples.OUTPUT_ERRORS) | success(examples.OUTPUTS),
)
async def process_output(
    id: ProcessId,
    request: Request,
    manager: ManagerDep,
    chat_id: ChatDep,
    wait: Wait = None,
    timeout_ms: TimeoutMs = None,
    since: Since = None,
    limit: Limit = None,
) -> ProcessOutputResponse:
    """The head and tail of the combined stdout+stderr and the exit state. `running: false`
    guarantees the output is complete. With `wait=true` the answer comes when the process
    exits, when the cap passes (then `running` may still be true), or never if the client
    goes away. With `since`, a cursor read: the kept output from that offset on."""
    process = manager.get(id, chat_id)
    cursor = parse_cursor(since, limit)
    if cursor is None:
        if waits(wait) and process.running:
            await _long_poll(request, timeout_ms, process.wait)
        return process.snapshot()
    start = process.cursor_start(cursor.since, chat_id)
    if waits(wait):
        await _long_poll(request, timeout_ms, partial(process.wait_output, start))
    return process.cursor_read(start, cursor.limit, chat_id)


@api_router.post(
    "/{id}/signal",
    operation_id="signal_process",
    summary="Signal a process's group",
    response_model_exclude_none=True,
    responses=error_responses(docs=examples.SIGNAL_ERRORS) | success(examples.SIGNALLED),
    openapi_extra=json_body(SignalProcessRequest, examples.SIGNAL_REQUESTS),
)
async def signal_process(
    id: ProcessId,
    request: Request,
    manager: ManagerDep,
    settings: SettingsDep,
    chat_id: ChatDep,
) -> SignalProcessResponse:
    """Send `terminate` (SIGTERM) or `kill` (SIGKILL) to the process's whole process group,
    so pipelines and background children stop too. Success means delivered, not exited."""
    body = await read_json_object(request, settings.max_body_bytes)
    sig = _parse_signal(body)
    manager.send_signal(id, sig, chat_id)
    return SignalProcessResponse(message=f"Signal {quote(sig)} sent to process {quote(id)}.")


@api_router.post(
    INPUT_PATH,
    operation_id="process_input",
    summary="Write to a process's stdin",
    response_model_exclude_none=True,
    responses=error_responses(docs=examples.INPUT_ERRORS) | success(examples.QUEUED),
    openapi_extra=json_body(ProcessInputRequest, examples.INPUT_REQUESTS),
)
async def process_input(
    id: ProcessId,
    request: Request,
    manager: ManagerDep,
    settings: SettingsDep,
    chat_id: ChatDep,
) -> ProcessInputResponse:
    """Queue `data` (text) or `data_base64` (bytes) for the stdin of a process started with
    `stdin: true`, then end-of-file if `close` is true. Answers at once: the agent writes the
    queue as the command reads it. A full queue is a 429 and queues nothing; a process whose
    stdin is not open (started without it, closed, exited) is a 409."""
    body = await read_json_object(request, settings.max_body_bytes)
    given = ProcessInput.from_request(_validate(ProcessInputRequest, body))
    return manager.write_input(id, given, chat_id)


@api_router.get(
    STREAM_PATH,
    operation_id="stream_output",
    summary="Follow a process's output",
    status_code=200,
    response_class=EventStreamResponse,
    responses=json_errors(docs=examples.STREAM_ERRORS) | {200: STREAM_RESPONSE},
)
async def stream_output(
    id: ProcessId,
    manager: ManagerDep,
    chat_id: ChatDep,
    since: StreamSince = None,
    last_event_id: LastEventId = None,
) -> EventStreamResponse:
    """The output as it comes, as server-sent events, from `since` on, then the exit code.
    Many streams may follow one process; a reader that falls behind the kept window is told
    how many bytes it missed (`skipped`), and never slows the process or other readers."""
    process = manager.get(id, chat_id)
    if last_event_id is not None:
        offset = parse_offset(last_event_id, LAST_EVENT_ID_HEADER)
    else:
        offset = 0 if since is None else parse_offset(since, "since")
    items = process.follow(
        process.cursor_start(offset, chat_id), DEFAULT_CURSOR_LIMIT_BYTES, STREAM_HEARTBEAT_SECONDS
    )
    return EventStreamResponse(output_frames(items), until=manager.wait_shutdown)


# -- request decoding ---------------------------------------------------------------------


async def _long_poll(
    request: Request, timeout_ms: str | None, until: Callable[[], Awaitable[None]]
) -> None:
    """Wait for ``until``, the wait cap (``timeout_ms`` lowers it) or the client's departure,
    whichever comes first."""
    cap_ms = MAX_WAIT_MS if timeout_ms is None else capped_decimal(timeout_ms, MAX_WAIT_MS)
    async with anyio.create_task_group() as tg:

        async def wait_until() -> None:
            with anyio.move_on_after(cap_ms / 1000):
                await until()
            tg.cancel_scope.cancel()

        tg.start_soon(wait_until)
        await _wait_disconnect(request)
        tg.cancel_scope.cancel()


async def _wait_disconnect(request: Request) -> None:
    # After the (empty) body, the next ASGI message is the disconnect; waiting for it is
    # how a long poll stops working for a client that went away.
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


_Model = TypeVar("_Model", bound=BaseModel)


def _validate(model: type[_Model], body: dict[str, Any]) -> _Model:
    try:
        return model.model_validate(body, strict=True)
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False)
        fields = tuple(
            FieldError(".".join(str(part) for part in error["loc"]) or "body", _reason(error))
            for error in errors
        )
        detail = "; ".join(f"{f.field}: {f.detail}" for f in fields)
        # A rule across fields (no location) is the model's own sentence; it says it best.
        across = [f.detail for f, error in zip(fields, errors, strict=True) if not error["loc"]]
        message = across[0] if across else INVALID_JSON
        raise InvalidRequest(message, detail=detail, validations=fields) from exc


def _reason(error: Any) -> str:
    # A model's own ValueError reads better without pydantic's "Value error, " prefix.
    cause = error.get("ctx", {}).get("error")
    return str(cause) if isinstance(cause, ValueError) else str(error["msg"])


def _parse_start(body: dict[str, Any], settings: Settings, chat_id: str | None) -> ProcessSpec:
    # A missing command is named as the contract words it, not as a schema error.
    if body.get("command", "") == "":
        raise CommandRequired()
    return ProcessSpec.from_request(
        _validate(StartProcessRequest, body), chat_id=chat_id, settings=settings
    )


def _parse_signal(body: dict[str, Any]) -> Signal:
    sig = body.get("signal", "")
    if sig == "":
        raise InvalidRequest("Signal is required.", validations=(FieldError("signal", "required"),))
    if isinstance(sig, str) and sig not in get_args(Signal):
        raise InvalidRequest(
            f'Unsupported signal {quote(sig)}. Use "kill" or "terminate".',
            validations=(FieldError("signal", 'must be "kill" or "terminate"'),),
        )
    # Anything else that is wrong (a number, a list) is a type error, reported as such.
    return _validate(SignalProcessRequest, body).signal
