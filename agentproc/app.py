"""The application factory: routes, error mapping, offline docs, and the lifespan that owns
the process manager."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentproc.api import api_router, health_router
from agentproc.auth import BearerAuthMiddleware
from agentproc.browser import BrowserGuardMiddleware, parse_origin
from agentproc.errors import (
    AgentError,
    BodyTooLarge,
    Conflict,
    CrossOriginRequest,
    FieldError,
    InputQueueFull,
    InvalidParameter,
    InvalidRequest,
    ProcessNotFound,
    ShuttingDown,
    SignalFailed,
    SpawnFailed,
    TerminalFailed,
    TooManyProcesses,
    Unauthorized,
    UnsupportedMediaType,
)
from agentproc.manager import ProcessManager
from agentproc.mcp_mount import MCP_STATE, mcp_running, mount_mcp
from agentproc.openapi_schema import openapi_builder
from agentproc.run_route import run_router
from agentproc.settings import Settings
from agentproc.sse import EVENT_MODELS
from agentproc.terminal_api import terminal_router
from agentproc.version import version
from agentsdk.types import (
    ErrorResponse,
    ProcessInputRequest,
    SignalProcessRequest,
    StartProcessRequest,
)

__all__ = ["HEADERS_BY_STATUS", "RETRY_AFTER_SECONDS", "begin_shutdown", "create_app"]

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[AgentError], int] = {
    InvalidRequest: 400,
    Unauthorized: 401,
    CrossOriginRequest: 403,
    ProcessNotFound: 404,
    Conflict: 409,
    BodyTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyProcesses: 429,
    InputQueueFull: 429,
    SpawnFailed: 500,
    SignalFailed: 500,
    TerminalFailed: 500,
    ShuttingDown: 503,
}
"""The one place where domain errors become HTTP statuses (``HostNotAllowed`` is an
``InvalidRequest``: 400)."""

INTERNAL_ERROR = ErrorResponse(
    message="Internal error.", detail="The agent logged what failed at error level."
)
"""The answer to an unexpected failure: the log has the traceback, the client no internals."""

RETRY_AFTER_SECONDS = 1
"""What ``Retry-After`` suggests when the agent is at a limit: a hint, since nobody can tell
when a running process will end; a client polling once a second is no burden."""

HEADERS_BY_STATUS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": str(RETRY_AFTER_SECONDS)},
}
"""Headers every error answer with that status carries, whatever raised it."""

DOCS_ASSETS = "/docs/assets"
"""Swagger UI's JS and CSS, served from the installed package: workspaces are often offline."""

REQUEST_MODELS = (StartProcessRequest, SignalProcessRequest, ProcessInputRequest)
"""Bodies decoded by hand, so FastAPI does not see them; their schemas are added here."""


class State(TypedDict, total=False):
    """What the lifespan hands every request (``request.state``)."""

    manager: ProcessManager
    settings: Settings
    mcp: Any
    """The running MCP app (``chattool.mcp.StreamableHTTP``), with ``Settings.mcp`` only."""


def _error_response(
    status: int, error: ErrorResponse, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = {**HEADERS_BY_STATUS.get(status, {}), **(headers or {})}
    return JSONResponse(error.model_dump(exclude_none=True), status_code=status, headers=headers)


def _status_of(error: AgentError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def _agent_error_response(exc: AgentError) -> JSONResponse:
    return _error_response(_status_of(exc), exc.body())


async def _on_agent_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgentError)  # noqa: S101 - registered for AgentError only
    if _status_of(exc) >= 500:
        logger.error(
            "%s %s failed: %s (%s)", request.method, request.url.path, exc.message, exc.detail
        )
    return _agent_error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    fields = tuple(
        FieldError(
            ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0]),
            str(error["msg"]),
        )
        for error in exc.errors()
    )
    return _agent_error_response(InvalidParameter(fields))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    return _error_response(
        exc.status_code, ErrorResponse(message=str(exc.detail)), dict(exc.headers or {})
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return _error_response(500, INTERNAL_ERROR)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the agent's ASGI app. Its lifespan starts and stops the process manager.

    Serve it with ``agentproc serve`` (``agentproc.server.AgentServer``). Another server must
    run the lifespan and call :func:`begin_shutdown` when told to stop, before it waits for
    open requests; otherwise long polls hold its shutdown until they time out or are cut.

    Args:
        settings: configuration; defaults to an open, loopback-only development setup.

    Raises:
        ValueError: an allowed origin in ``settings`` is not ``scheme://host[:port]``.
        ImportError: ``settings.mcp`` without the ``mcp`` extra installed.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with ProcessManager(settings) as manager:
            app.state.manager = manager
            state: State = {"manager": manager, "settings": settings}
            try:
                if not settings.mcp:
                    yield state
                    return
                # The MCP sessions end before the manager stops the processes they started.
                async with mcp_running(app, state, settings.token) as mcp_app:
                    state[MCP_STATE] = mcp_app
                    yield state
            finally:
                del app.state.manager

    app = FastAPI(
        title="agentproc",
        summary="Start, read and stop shell commands in a workspace, for AI coding agents.",
        description=(
            "Processes run as `sh -c <command>` in their own process group; their combined "
            "output is kept as the first and last 16 KiB. Wire-compatible with Coder's "
            "workspace-agent process API."
        ),
        version=version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(run_router)
    app.include_router(terminal_router)
    if settings.mcp:
        mount_mcp(app)
    app.add_middleware(BearerAuthMiddleware, token=settings.token, reject=_agent_error_response)
    # Added last, so it runs first: see agentproc.browser for why it comes before the token.
    app.add_middleware(
        BrowserGuardMiddleware,
        allowed_hosts=settings.allowed_hosts,
        # Parsed here, so a malformed origin fails create_app, not the first request.
        allowed_origins=[parse_origin(origin) for origin in settings.allowed_origins],
        reject=_agent_error_response,
    )
    app.add_exception_handler(AgentError, _on_agent_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)

    assets = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    app.openapi = openapi_builder(  # type: ignore[method-assign]  # FastAPI's documented hook
        app, REQUEST_MODELS, EVENT_MODELS, HEADERS_BY_STATUS
    )
    return app


def begin_shutdown(app: FastAPI) -> None:
    """Start stopping the app's processes now, before the server drains open requests.

    Long polls (``?wait=true``) wait on processes; terminating them first lets those
    requests finish instead of holding the server's shutdown for minutes. Call it on the
    server's event-loop thread (``AgentServer.shutdown`` does).
    """
    manager: ProcessManager | None = getattr(app.state, "manager", None)
    if manager is not None:
        manager.begin_shutdown()
