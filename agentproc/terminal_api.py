"""The HTTP surface of terminals: ``POST /{id}/resize`` and ``GET /{id}/screen``.

Like ``agentproc.api``, the router parses and validates requests, calls the process and
shapes responses; it knows nothing of ``os``, terminals or emulators, which are the process's
business (:mod:`agentproc.terminal`, :mod:`agentproc.screenfeed`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from agentproc import api_examples as examples
from agentproc import error_examples as errors
from agentproc.body import capped_decimal, read_json_object, validate_model
from agentproc.deps import API_DEPENDENCIES, ChatDep, ManagerDep, ProcessId, SettingsDep
from agentproc.query_params import Scrollback
from agentproc.route_docs import error_responses, json_body, success
from agentproc.spec import TerminalSize
from agentsdk.types import ProcessScreenResponse
from agentsdk.types import TerminalSize as WireTerminalSize
from agentsdk.wire import API_PREFIX, RESIZE_PATH, SCREEN_PATH

__all__ = ["terminal_router"]

terminal_router = APIRouter(prefix=API_PREFIX, tags=["processes"], dependencies=API_DEPENDENCIES)


@terminal_router.post(
    RESIZE_PATH,
    operation_id="resize_terminal",
    summary="Resize a process's terminal",
    response_model_exclude_none=True,
    responses=error_responses(docs=errors.RESIZE_ERRORS) | success(examples.RESIZED),
    openapi_extra=json_body(WireTerminalSize, examples.RESIZE_REQUESTS),
)
async def resize_terminal(
    id: ProcessId,
    request: Request,
    manager: ManagerDep,
    settings: SettingsDep,
    chat_id: ChatDep,
) -> WireTerminalSize:
    """Give the terminal of a process started with `tty` a new size (`rows` and `cols`, each
    1 to 1000); the program in the foreground gets `SIGWINCH` and redraws. Answers the new
    size. A process without a terminal, or one that has exited, is a 409."""
    body = await read_json_object(request, settings.max_body_bytes)
    size = TerminalSize.from_wire(validate_model(WireTerminalSize, body))
    manager.get(id, chat_id).resize(size)
    return size.to_wire()


@terminal_router.get(
    SCREEN_PATH,
    operation_id="process_screen",
    summary="Read a process's terminal screen",
    response_model_exclude_none=True,
    responses=error_responses(docs=errors.SCREEN_ERRORS) | success(examples.SCREENS),
)
async def process_screen(
    id: ProcessId,
    manager: ManagerDep,
    settings: SettingsDep,
    chat_id: ChatDep,
    scrollback: Scrollback = None,
) -> ProcessScreenResponse:
    """The screen of a process started with `tty`, as a terminal shows it after all output
    so far: one string per row without trailing spaces, and the cursor (0-based). After the
    process exits, its last screen stays readable while the process is kept. A process
    without a terminal is a 409."""
    process = manager.get(id, chat_id)
    lines = None if scrollback is None else capped_decimal(scrollback, settings.scrollback_lines)
    return await process.screen(lines)
