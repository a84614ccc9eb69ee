"""``POST /api/v0/processes/run``: a start that waits for the exit and answers with the output.

Coder's API takes two requests per command, a start and then an output read with
``wait=true``; for a short command those two round trips are most of what it costs. A run is
both in one: a start in every way (the same body, limits, idempotency key and chat scoping;
the process belongs to the agent, not to the request), then the wait of an output read (until
the exit, ``timeout_ms`` or the client's departure), then the start's answer and the output
snapshot together. Coder's agent has no such route and answers 404; clients then fall back to
the two calls (``agentsdk``'s ``run_process`` does, and remembers it per connection).
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response

from agentproc import api_examples as examples
from agentproc import error_examples as errors
from agentproc.answers import json_answer
from agentproc.body import read_json_object, start_spec
from agentproc.deps import API_DEPENDENCIES, chat_of, manager_of, settings_of
from agentproc.longpoll import long_poll
from agentproc.query_params import TimeoutMs, WakeOnInput
from agentproc.route_docs import error_responses, json_body, links_from_start, success
from agentsdk.types import RunProcessResponse, StartProcessRequest
from agentsdk.wire import API_PREFIX, RUN_PATH

__all__ = ["run_router"]

run_router = APIRouter(prefix=API_PREFIX, tags=["processes"], dependencies=API_DEPENDENCIES)


@run_router.post(
    RUN_PATH,
    operation_id="run_process",
    summary="Run a process and wait for it",
    response_model=RunProcessResponse,
    responses=error_responses(docs=errors.RUN_ERRORS)
    | success(examples.RAN, links=links_from_start()),
    openapi_extra=json_body(StartProcessRequest, examples.START_REQUESTS),
)
async def run_process(
    request: Request,
    timeout_ms: TimeoutMs = None,
    wake_on_input: WakeOnInput = False,
) -> Response:
    """Start `sh -c <command>` exactly as `/start` does (same body, same rules, same
    idempotency key), wait until it exits or `timeout_ms` passes (at most 5 minutes), and
    answer the start's fields with the output snapshot of `/{id}/output`: one round trip for
    what takes two on Coder's agent. The process keeps running after a timeout or a dropped
    request; follow it with `/{id}/output` (`since=next_offset` for what comes next). Agents
    without this route answer 404: send `/start`, then `/{id}/output?wait=true`. With
    `wake_on_input=true` the answer also comes as soon as the command waits for input."""
    manager = manager_of(request)
    settings = settings_of(request)
    body = await read_json_object(request, settings.max_body_bytes)
    result = await manager.launch(start_spec(body, settings, chat_of(request)))
    process = result.process
    if process.running:
        prompt = (partial(manager.wait_for_prompt, process),) if wake_on_input else ()
        await long_poll(request, timeout_ms, process.wait, *prompt)
        await manager.look_for_prompts([process])
    snapshot = process.snapshot()
    # Read with the snapshot, with no await between: the output up to here is what it shows.
    total = process.buffer.total_written
    return json_answer(
        RunProcessResponse(
            id=process.id,
            started=result.started,
            attached=None if result.started else True,
            **(
                snapshot.model_dump(exclude_none=True)
                | {"total_bytes": total, "next_offset": total}
            ),
        )
    )
