"""What every route of the process API receives: the manager, the settings, the chat.

The app's lifespan owns the process manager and hands it to each request through lifespan
state; these dependencies read it there, check the chat header before any body is read, and
declare the bearer scheme for Swagger UI's Authorize button.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agentproc.errors import InvalidChatId
from agentproc.manager import ProcessManager
from agentproc.settings import Settings
from agentsdk import CHAT_ID_HEADER, chat_id_from_headers
from agentsdk.wire import TOKEN_VARIABLE

__all__ = [
    "API_DEPENDENCIES",
    "ChatDep",
    "ManagerDep",
    "ProcessId",
    "SettingsDep",
    "bearer_scheme",
    "chat_of",
    "get_chat_id",
    "get_manager",
    "get_settings",
    "manager_of",
    "settings_of",
]

_bearer = HTTPBearer(
    auto_error=False,
    description=f"The agent's token, from `agentproc serve --token` or `{TOKEN_VARIABLE}`.",
)


def _state(request: Request, name: str) -> Any:
    try:
        return getattr(request.state, name)
    except AttributeError:
        raise RuntimeError(
            "agentproc's app is served without its lifespan, which owns the process manager: "
            "serve it with uvicorn (lifespan on), or enter the lifespan before sending requests"
        ) from None


async def get_manager(request: Request) -> ProcessManager:
    """The process manager the app's lifespan owns."""
    # Async although it never waits, as every dependency here: FastAPI runs a plain function
    # in a worker thread, a hop per dependency per request.
    manager: ProcessManager = _state(request, "manager")
    return manager


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = _state(request, "settings")
    return settings


def manager_of(request: Request) -> ProcessManager:
    """:func:`get_manager` called directly, by the hottest routes.

    FastAPI solves each dependency of each request with its generic machinery (its own
    parameters, its cache key, four kinds of parameters to read); for a value that is one
    attribute of the lifespan state, that was a tenth of a round trip's server time.
    """
    manager: ProcessManager = _state(request, "manager")
    return manager


def settings_of(request: Request) -> Settings:
    """:func:`get_settings` called directly (see :func:`manager_of`)."""
    settings: Settings = _state(request, "settings")
    return settings


ManagerDep = Annotated[ProcessManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def bearer_scheme(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Declares the bearer scheme in OpenAPI, so Swagger UI's Authorize button works.

    The token itself is checked by ``agentproc.auth.BearerAuthMiddleware`` before routing,
    for every ``/api/`` path, matched or not.
    """


async def get_chat_id(
    request: Request,
    chat_id: Annotated[
        str | None,
        Header(
            alias=CHAT_ID_HEADER,
            description="The chat this request acts for (one UUID). A start is tagged with "
            "it, and list, output and signal reach only that chat's processes (not untagged "
            "ones). Without the header, every process is reachable. Present but not exactly "
            "one UUID (empty, malformed, or sent twice) answers 400.",
        ),
    ] = None,
) -> str | None:
    """The request's chat context: a canonical UUID string, or None when the header is absent.

    Raises:
        InvalidChatId: the header is present but not exactly one UUID.
    """
    if chat_id is None:
        return None
    # Every copy of the header is read, not only the first that FastAPI hands over: a second,
    # different chat id must not be silently dropped.
    try:
        return chat_id_from_headers(request.headers)
    except ValueError as exc:
        raise InvalidChatId(str(exc)) from None


def chat_of(request: Request) -> str | None:
    """:func:`get_chat_id` called directly (see :func:`manager_of`).

    A route that calls it keeps ``API_DEPENDENCIES``, which declare the header in OpenAPI and
    refuse a malformed one before the route runs.

    Raises:
        InvalidChatId: the header is present but not exactly one UUID.
    """
    if CHAT_ID_HEADER not in request.headers:
        return None
    try:
        return chat_id_from_headers(request.headers)
    except ValueError as exc:
        raise InvalidChatId(str(exc)) from None


ChatDep = Annotated[str | None, Depends(get_chat_id)]
ProcessId = Annotated[str, Path(description="The process id that start returned.")]

API_DEPENDENCIES = [Depends(bearer_scheme), Depends(get_chat_id)]
"""What every route of the process API depends on, whether or not it uses the result: the
bearer scheme (for OpenAPI) and the chat header, so a malformed header is refused everywhere
(FastAPI runs a shared dependency once)."""
