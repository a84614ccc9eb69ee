"""The external-auth route: authenticate the agent, answer with the provider token, refresh."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse

from agentsdk import (
    EXTERNAL_AUTH_PATH,
    LISTEN_HOLD_SECONDS,
    SESSION_TOKEN_HEADER,
    ErrorResponse,
    ExternalAuthResponse,
    parse_chat_id,
)
from chattool.gitauth._memory import InMemoryChatStore
from chattool.gitauth._protocols import ChatStore, GitRef, TokenLookup, WorkspaceIdentity
from chattool.gitauth._refresher import GitRefresher

__all__ = ["LISTEN_POLL_SECONDS", "LISTEN_WAIT_SECONDS", "create_external_auth_router"]

LISTEN_WAIT_SECONDS = LISTEN_HOLD_SECONDS
"""How long a ``listen`` request is held open for the user to authenticate; the askpass then
simply asks again, so this only bounds one request, not the user. The SDK's value, which
``agentproc-askpass`` sizes its read timeout by."""

LISTEN_POLL_SECONDS = 1.0
"""How often a held ``listen`` request checks for the token (Coder's cadence)."""

# The package's one logger: a host configures "chattool.gitauth", not each module.
logger = logging.getLogger(__package__)


def create_external_auth_router(
    token_lookup: TokenLookup,
    chat_store: ChatStore | None = None,
    *,
    refresher: GitRefresher | None = None,
    listen_wait_seconds: float = LISTEN_WAIT_SECONDS,
    listen_poll_seconds: float = LISTEN_POLL_SECONDS,
) -> APIRouter:
    """The ``GET /api/v2/workspaceagents/me/external-auth`` route, ready to include in an app.

    Args:
        token_lookup: Authenticates the agent token and finds the provider token.
        chat_store: The chats to refresh; an :class:`InMemoryChatStore` when omitted.
        refresher: A refresher the caller runs (enters) itself. When omitted, the router
            makes one over ``chat_store`` and runs it in its own lifespan.
        listen_wait_seconds: How long a ``listen`` request is held for the user to finish
            authenticating; it then answers with the URL again.
        listen_poll_seconds: How often a held ``listen`` request looks for the token.

    Raises:
        ValueError: ``refresher`` works on a store other than ``chat_store``, or a listen
            duration is negative.
    """
    if listen_wait_seconds < 0 or listen_poll_seconds < 0:
        raise ValueError("listen durations must be >= 0")
    if refresher is not None:
        if chat_store is not None and chat_store is not refresher.chat_store:
            raise ValueError("chat_store must be the refresher's own store (or omitted)")
        router = APIRouter()
    else:
        refresher = GitRefresher(chat_store if chat_store is not None else InMemoryChatStore())
        router = APIRouter(lifespan=_refresher_lifespan(refresher))
    active = refresher

    @router.get(
        EXTERNAL_AUTH_PATH,
        response_model=ExternalAuthResponse,
        # Unset optional fields (token_extra, expires_at) are left out, not sent as null,
        # like every other answer of the API.
        response_model_exclude_none=True,
        responses={
            400: {"model": ErrorResponse},
            401: {"model": ErrorResponse},
            404: {"model": ErrorResponse},
            500: {"model": ErrorResponse},
        },
        summary="Give the calling agent's git a provider token",
    )
    async def external_auth(
        request: Request,
        session_token: Annotated[str | None, Header(alias=SESSION_TOKEN_HEADER)] = None,
        match: Annotated[str, Query(description="The URL git talks to.")] = "",
        url: Annotated[str, Query(description="Older agents' name for match.")] = "",
        id: Annotated[str, Query(description="The provider id, instead of match.")] = "",
        git_branch: Annotated[str, Query(description="The repository's branch.")] = "",
        git_remote_origin: Annotated[str, Query(description="Its remote.origin.url.")] = "",
        chat_id: Annotated[str, Query(description="The chat whose command ran git.")] = "",
    ) -> Any:
        if not session_token:
            return _error(
                401, f"Missing agent token: send it in the {SESSION_TOKEN_HEADER} header."
            )
        try:
            workspace = await token_lookup.workspace_for_agent_token(session_token)
        except Exception as exc:
            logger.exception("Agent token lookup failed")
            return _error(500, "Failed to look up the agent token.", str(exc))
        if workspace is None:
            return _error(401, "Invalid agent token.")
        match = match or url
        if not match and not id:
            return _error(400, "Either 'match' or 'id' must be given.")
        if match and id:
            return _error(400, "'match' and 'id' cannot be given together.")
        listen = "listen" in request.query_params
        answer = await _lookup(workspace, match=match, provider_id=id)
        if isinstance(answer, JSONResponse):
            return answer
        if listen and answer.url:
            with anyio.move_on_after(listen_wait_seconds):
                while answer.url:
                    await anyio.sleep(listen_poll_seconds)
                    latest = await _lookup(workspace, match=match, provider_id=id)
                    if isinstance(latest, JSONResponse):
                        return latest
                    answer = latest
        if not answer.url:
            _schedule_refresh(workspace, git_branch, git_remote_origin, chat_id)
        return answer

    async def _lookup(
        workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | JSONResponse:
        try:
            answer = await token_lookup.external_auth(
                workspace, match=match, provider_id=provider_id
            )
        except Exception as exc:
            logger.exception("External auth lookup failed for %r", match or provider_id)
            return _error(500, "Failed to look up the external auth token.", str(exc))
        if answer is None:
            return _error(
                404,
                f"No external auth provider matches {match or provider_id!r}.",
                "Configure a provider for this host, or use git's own credentials.",
            )
        return answer

    def _schedule_refresh(
        workspace: WorkspaceIdentity, branch: str, origin: str, raw_chat_id: str
    ) -> None:
        chat = parse_chat_id(raw_chat_id)
        if raw_chat_id and chat is None:
            logger.warning(
                "Ignoring malformed chat_id %r from workspace %s: refreshing all its chats",
                raw_chat_id,
                workspace.workspace_id,
            )
        ref = GitRef(
            workspace_id=workspace.workspace_id, branch=branch, origin=origin, chat_id=chat
        )
        try:
            active.submit(ref)
        except RuntimeError as exc:
            # The token still goes to git; only the status refresh is lost, and loudly.
            logger.error("Cannot refresh the git status for %s: %s", ref, exc)

    return router


def _refresher_lifespan(
    refresher: GitRefresher,
) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with refresher:
            yield

    return lifespan


def _error(status: int, message: str, detail: str | None = None) -> JSONResponse:
    body = ErrorResponse(message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status)
