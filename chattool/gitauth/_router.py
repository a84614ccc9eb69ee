"""The external-auth route: authenticate the agent, answer with the provider token, refresh.

The handler and the steps it calls refuse a request by raising :class:`ExternalAuthError`;
:class:`ExternalAuthRoute` is the one place that turns it into an answer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from agentsdk import (
    EXTERNAL_AUTH_PATH,
    LISTEN_HOLD_SECONDS,
    SESSION_TOKEN_HEADER,
    ErrorResponse,
    ExternalAuthResponse,
    parse_chat_id,
)
from chattool.gitauth._errors import ExternalAuthError
from chattool.gitauth._memory import InMemoryChatStore
from chattool.gitauth._protocols import ChatStore, GitRef, TokenLookup, WorkspaceIdentity
from chattool.gitauth._refresher import GitRefresher

__all__ = [
    "LISTEN_POLL_SECONDS",
    "LISTEN_WAIT_SECONDS",
    "ExternalAuthRoute",
    "create_external_auth_router",
]

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
        router = APIRouter(route_class=ExternalAuthRoute)
    else:
        refresher = GitRefresher(chat_store if chat_store is not None else InMemoryChatStore())
        router = APIRouter(route_class=ExternalAuthRoute, lifespan=_refresher_lifespan(refresher))
    endpoint = _ExternalAuthEndpoint(
        token_lookup,
        refresher,
        listen_wait_seconds=listen_wait_seconds,
        listen_poll_seconds=listen_poll_seconds,
    )
    router.add_api_route(
        EXTERNAL_AUTH_PATH,
        endpoint.external_auth,
        methods=["GET"],
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
    return router


class ExternalAuthRoute(APIRoute):
    """A route that answers an :class:`ExternalAuthError` in the API's error shape.

    The mapping cannot be an app-level exception handler: a router has none of its own, and
    the app including it may map errors its own way. FastAPI's documented hook for behaviour
    around one route's handler is an ``APIRoute`` subclass whose ``get_route_handler`` wraps
    the original handler (the how-to "Custom Request and APIRoute class"). The router is
    created with ``route_class=ExternalAuthRoute``, so the mapping travels with it into any
    app, reaches only its own route, and any other exception still reaches the host app.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The original handler, with an :class:`ExternalAuthError` answered, not raised."""
        handle = super().get_route_handler()

        async def answer_errors(request: Request) -> Response:
            try:
                return await handle(request)
            except ExternalAuthError as error:
                return _error_response(error)

        return answer_errors


def _error_response(error: ExternalAuthError) -> JSONResponse:
    body = ErrorResponse(message=error.message, detail=error.detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=error.status)


class _ExternalAuthEndpoint:
    """The route's handler and the steps it calls, over one token lookup and one refresher."""

    def __init__(
        self,
        token_lookup: TokenLookup,
        refresher: GitRefresher,
        *,
        listen_wait_seconds: float,
        listen_poll_seconds: float,
    ) -> None:
        self._token_lookup = token_lookup
        self._refresher = refresher
        self._listen_wait_seconds = listen_wait_seconds
        self._listen_poll_seconds = listen_poll_seconds

    async def external_auth(
        self,
        session_token: Annotated[str | None, Header(alias=SESSION_TOKEN_HEADER)] = None,
        match: Annotated[str, Query(description="The URL git talks to.")] = "",
        url: Annotated[str, Query(description="Older agents' name for match.")] = "",
        id: Annotated[str, Query(description="The provider id, instead of match.")] = "",
        listen: Annotated[
            str | None,
            Query(description="Present (any value): wait for the user to authenticate."),
        ] = None,
        git_branch: Annotated[str, Query(description="The repository's branch.")] = "",
        git_remote_origin: Annotated[str, Query(description="Its remote.origin.url.")] = "",
        chat_id: Annotated[str, Query(description="The chat whose command ran git.")] = "",
    ) -> ExternalAuthResponse:
        """Answer with the workspace owner's token, or where to get one; refresh on a token.

        Raises:
            ExternalAuthError: The request is refused (400, 401, 404) or a lookup failed (500).
        """
        workspace = await self._authenticate(session_token)
        match = match or url
        if not match and not id:
            raise ExternalAuthError(400, "Either 'match' or 'id' must be given.")
        if match and id:
            raise ExternalAuthError(400, "'match' and 'id' cannot be given together.")
        answer = await self._lookup(workspace, match=match, provider_id=id)
        if listen is not None and answer.url:
            answer = await self._wait_for_token(workspace, answer, match=match, provider_id=id)
        if not answer.url:
            self._schedule_refresh(workspace, git_branch, git_remote_origin, chat_id)
        return answer

    async def _authenticate(self, session_token: str | None) -> WorkspaceIdentity:
        if not session_token:
            raise ExternalAuthError(
                401, f"Missing agent token: send it in the {SESSION_TOKEN_HEADER} header."
            )
        try:
            workspace = await self._token_lookup.workspace_for_agent_token(session_token)
        except Exception as exc:
            logger.exception("Agent token lookup failed")
            raise ExternalAuthError(500, "Failed to look up the agent token.", str(exc)) from exc
        if workspace is None:
            raise ExternalAuthError(401, "Invalid agent token.")
        return workspace

    async def _lookup(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse:
        try:
            answer = await self._token_lookup.external_auth(
                workspace, match=match, provider_id=provider_id
            )
        except Exception as exc:
            logger.exception("External auth lookup failed for %r", match or provider_id)
            raise ExternalAuthError(
                500, "Failed to look up the external auth token.", str(exc)
            ) from exc
        if answer is None:
            raise ExternalAuthError(
                404,
                f"No external auth provider matches {match or provider_id!r}.",
                "Configure a provider for this host, or use git's own credentials.",
            )
        return answer

    async def _wait_for_token(
        self,
        workspace: WorkspaceIdentity,
        answer: ExternalAuthResponse,
        *,
        match: str,
        provider_id: str,
    ) -> ExternalAuthResponse:
        # Past the bound the caller gets the URL again and simply asks again.
        with anyio.move_on_after(self._listen_wait_seconds):
            while answer.url:
                await anyio.sleep(self._listen_poll_seconds)
                answer = await self._lookup(workspace, match=match, provider_id=provider_id)
        return answer

    def _schedule_refresh(
        self, workspace: WorkspaceIdentity, branch: str, origin: str, raw_chat_id: str
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
            self._refresher.submit(ref)
        except RuntimeError as exc:
            # The token still goes to git; only the status refresh is lost, and loudly.
            logger.error("Cannot refresh the git status for %s: %s", ref, exc)


def _refresher_lifespan(
    refresher: GitRefresher,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with refresher:
            yield

    return lifespan
