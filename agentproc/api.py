"""The HTTP surface of the process API: ``/api/v0/processes`` and ``/healthz``.

The router parses and validates requests, calls the process manager and shapes responses.
It knows nothing of ``os`` or subprocesses. Bodies are decoded by ``agentproc.body``, not
by FastAPI, because Coder's Go client sends JSON without a ``Content-Type`` header and every
failure must be a 400 in the contract's error shape, never a framework 422.
"""

from __future__ import annotations

from functools import partial
from typing import Any, get_args

from fastapi import APIRouter, Request, Response

from agentproc import api_examples as examples
from agentproc import error_examples as errors
from agentproc.answers import json_answer
from agentproc.body import read_json_object, start_spec, validate_model
from agentproc.childinput import ProcessInput
from agentproc.cursor import parse_cursor, parse_offset
from agentproc.deps import (
    API_DEPENDENCIES,
    ChatDep,
    ManagerDep,
    ProcessId,
    SettingsDep,
    chat_of,
    manager_of,
    settings_of,
)
from agentproc.errors import FieldError, InvalidRequest, quote
from agentproc.longpoll import long_poll
from agentproc.query_params import (
    LastEventId,
    Limit,
    Since,
    StreamSince,
    TimeoutMs,
    Wait,
    WakeOnInput,
    waits,
)
from agentproc.route_docs import error_responses, json_body, json_errors, links_from_start, success
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
    STREAM_HEARTBEAT_SECONDS,
    STREAM_PATH,
)

__all__ = ["api_router", "health_router"]

api_router = APIRouter(
    prefix=API_PREFIX,
    tags=["processes"],
    dependencies=API_DEPENDENCIES,
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
    response_model=StartProcessResponse,
    responses=error_responses(docs=errors.START_ERRORS)
    | success(examples.STARTED, links=links_from_start()),
    openapi_extra=json_body(StartProcessRequest, examples.START_REQUESTS),
)
async def start_process(request: Request) -> Response:
    """Start `sh -c <command>` and return its id at once; it runs until it exits or is
    signalled, whatever happens to this request. A repeated `idempotency_key` returns the
    first process (`started: false, attached: true`) and runs nothing."""
    settings = settings_of(request)
    body = await read_json_object(request, settings.max_body_bytes)
    start = start_spec(body, settings, chat_of(request))
    result = await manager_of(request).launch(start)
    return json_answer(
        StartProcessResponse(
            id=result.process.id,
            started=result.started,
            attached=None if result.started else True,
        )
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
    processes = manager.list_processes(chat_id)
    await manager.look_for_prompts(processes)
    return ListProcessesResponse(processes=[p.info() for p in processes])


@api_router.get(
    "/{id}/output",
    operation_id="process_output",
    summary="Read a process's output",
    response_model=ProcessOutputResponse,
    responses=error_responses(docs=errors.OUTPUT_ERRORS) | success(examples.OUTPUTS),
)
async def process_output(
    id: ProcessId,
    request: Request,
    wait: Wait = None,
    timeout_ms: TimeoutMs = None,
    since: Since = None,
    limit: Limit = None,
    wake_on_input: WakeOnInput = False,
) -> Response:
    """The head and tail of the combined stdout+stderr and the exit state. `running: false`
    guarantees the output is complete. With `wait=true` the answer comes when the process
    exits, when the cap passes (then `running` may still be true), or never if the client
    goes away; with `wake_on_input=true` too, also when it waits for input. With `since`, a
    cursor read: the kept output from that offset on."""
    manager = manager_of(request)
    chat_id = chat_of(request)
    process = manager.get(id, chat_id)
    cursor = parse_cursor(since, limit)
    prompt = (partial(manager.wait_for_prompt, process),) if wake_on_input else ()
    if cursor is None:
        if waits(wait) and process.running:
            await long_poll(request, timeout_ms, process.wait, *prompt)
        await manager.look_for_prompts([process])
        return json_answer(process.snapshot())
    start = process.cursor_start(cursor.since, chat_id)
    if waits(wait):
        await long_poll(request, timeout_ms, partial(process.wait_output, start), *prompt)
    await manager.look_for_prompts([process])
    return json_answer(process.cursor_read(start, cursor.limit, chat_id))


@api_router.post(
    "/{id}/signal",
    operation_id="signal_process",
    summary="Signal a process's group",
    response_model_exclude_none=True,
    responses=error_responses(docs=errors.SIGNAL_ERRORS) | success(examples.SIGNALLED),
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
    responses=error_responses(docs=errors.INPUT_ERRORS) | success(examples.QUEUED),
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
    given = ProcessInput.from_request(validate_model(ProcessInputRequest, body))
    return manager.write_input(id, given, chat_id)


@api_router.get(
    STREAM_PATH,
    operation_id="stream_output",
    summary="Follow a process's output",
    status_code=200,
    response_class=EventStreamResponse,
    responses=json_errors(docs=errors.STREAM_ERRORS) | {200: STREAM_RESPONSE},
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
    return validate_model(SignalProcessRequest, body).signal
