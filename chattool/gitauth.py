"""The control plane's side of the askpass flow: hand git its token, refresh the chat that ran git.

A command started for a chat runs ``git push``; git runs ``agentproc-askpass``, which calls
``GET /api/v2/workspaceagents/me/external-auth`` here with the agent token, the provider URL,
the repository's branch and origin, and the chat id. The router answers with the user's
provider token and, since a push or a pull request usually follows, marks the git status of
*that chat* stale and refreshes it after pauses of 1, 3, 5, 10 and 20 s (about 39 s in all,
stopping early once the status is final). Without a chat id
(an older agent, or git run outside any chat) every chat of the workspace is refreshed.

Mount it in any FastAPI app::

    store = MyChatStore(db)                     # implements ChatStore
    app.include_router(create_external_auth_router(MyTokenLookup(db), store))

The router owns a :class:`GitRefresher` through its lifespan, which FastAPI runs for every
app that includes it. To run the refresher yourself (to share it, or to watch its reports),
create it, enter it in your app's lifespan, and pass it as ``refresher=``.

The two seams are protocols: :class:`TokenLookup` (agent token to workspace, provider token
by URL or id) and :class:`ChatStore` (a workspace's chats, mark stale, refresh).
:class:`InMemoryChatStore` and :class:`InMemoryTokenLookup` implement them for tests, demos
and single-process control planes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Annotated, Any, Protocol, runtime_checkable

import anyio
import anyio.abc
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse

from agentsdk import parse_chat_id

# Re-exported: Coder's path and token header, shared with the SDK's client so the two ends
# cannot drift apart; an agent and askpass written for Coder work against this router too.
from agentsdk._controlplane import EXTERNAL_AUTH_PATH as EXTERNAL_AUTH_PATH
from agentsdk._controlplane import LISTEN_HOLD_SECONDS
from agentsdk._controlplane import SESSION_TOKEN_HEADER as SESSION_TOKEN_HEADER
from agentsdk.types import ErrorResponse, ExternalAuthResponse

__all__ = [
    "EXTERNAL_AUTH_PATH",
    "LISTEN_POLL_SECONDS",
    "LISTEN_WAIT_SECONDS",
    "REFRESH_SCHEDULE",
    "SESSION_TOKEN_HEADER",
    "ChatDiffStatus",
    "ChatStore",
    "ExternalAuthProvider",
    "GitRef",
    "GitRefresher",
    "InMemoryChatStore",
    "InMemoryTokenLookup",
    "RefreshReport",
    "TokenLookup",
    "WorkspaceIdentity",
    "create_external_auth_router",
]

REFRESH_SCHEDULE: tuple[float, ...] = (1.0, 3.0, 5.0, 10.0, 20.0)
"""Pauses before each refresh, each counted from the end of the previous round (Coder's
delays between refreshes): the rounds run about 1, 4, 9, 19 and 39 s after the token answer,
so a push lands by the first or second, and a pull request opened right after it is found
within about 40 s."""

LISTEN_WAIT_SECONDS = LISTEN_HOLD_SECONDS
"""How long a ``listen`` request is held open for the user to authenticate; the askpass then
simply asks again, so this only bounds one request, not the user. The SDK's value, which
``agentproc-askpass`` sizes its read timeout by."""

LISTEN_POLL_SECONDS = 1.0
"""How often a held ``listen`` request checks for the token (Coder's cadence)."""

logger = logging.getLogger("chattool.gitauth")


@dataclass(frozen=True, slots=True)
class WorkspaceIdentity:
    """Who an agent token belongs to."""

    workspace_id: str
    """The workspace the agent runs in; its chats are the ones refreshed."""

    owner_id: str = ""
    """The workspace's owner, whose provider tokens the agent receives."""


@dataclass(frozen=True, slots=True)
class GitRef:
    """What one askpass call told the control plane about the repository git ran in."""

    workspace_id: str
    """The workspace of the agent that called."""

    branch: str = ""
    """The current branch; empty when unknown."""

    origin: str = ""
    """``remote.origin.url``; empty when unknown."""

    chat_id: str | None = None
    """The chat whose command ran git, or ``None`` for every chat of the workspace."""


@runtime_checkable
class TokenLookup(Protocol):
    """Authenticates agents and finds the user's git provider tokens."""

    async def workspace_for_agent_token(self, token: str) -> WorkspaceIdentity | None:
        """The workspace an agent token belongs to, or ``None`` when it is not valid."""
        ...

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        """The owner's credentials for the provider that ``match`` (a URL) or ``provider_id``
        names; one of the two is empty.

        Returns:
            The token and git credentials; an answer whose ``url`` is set when the user must
            authenticate there first; ``None`` when no provider matches (the caller answers
            404 and git falls back to its own behaviour).
        """
        ...


@runtime_checkable
class ChatStore(Protocol):
    """The chats of each workspace and their git ("diff") status."""

    async def workspace_chats(self, workspace_id: str) -> Sequence[str]:
        """The ids of the workspace's chats."""
        ...

    async def mark_stale(self, chat_id: str, *, branch: str, origin: str) -> None:
        """Record the chat's branch and origin (an empty value keeps the stored one), mark
        its git status stale, and tell whoever shows it."""
        ...

    async def refresh_diff_status(self, chat_id: str) -> bool:
        """Recompute the chat's git status (e.g. look up its pull request).

        Returns:
            True when the status is final (a pull request was found), so refreshing it again
            is pointless.
        """
        ...


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """How one refresh job went, for ``GitRefresher(on_done=...)``."""

    ref: GitRef
    """What the askpass call reported."""

    chats: tuple[str, ...]
    """The chats the job marked stale and refreshed."""

    rounds: int
    """How many rounds of the schedule ran before every chat was final or it ran out."""

    settled: tuple[str, ...]
    """The chats whose status became final."""

    errors: tuple[str, ...]
    """Every failure, in order; each was also logged at error level."""


class GitRefresher:
    """Runs refresh jobs in a task group of its own, for as long as it is entered.

    Enter it in the host app's lifespan (``async with refresher:``); jobs still running when
    it exits are cancelled. A job marks its chats stale, then refreshes them after each pause
    of ``schedule``, stopping early once all are final. Every failure is logged at error
    level with what failed, and the job goes on with the other chats.

    Args:
        chat_store: Where chats and their git status live.
        schedule: Pauses, in seconds, before each refresh round.
        sleep: Waits between rounds; tests pass one that does not really sleep.
        on_done: Called with the report of every finished job (errors in it are logged).
    """

    def __init__(
        self,
        chat_store: ChatStore,
        *,
        schedule: Sequence[float] = REFRESH_SCHEDULE,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        on_done: Callable[[RefreshReport], object] | None = None,
    ) -> None:
        pauses = tuple(schedule)
        if any(not math.isfinite(pause) or pause < 0 for pause in pauses):
            raise ValueError(f"Expected finite pauses >= 0 but received {pauses!r}")
        self.chat_store = chat_store
        self.schedule = pauses
        self._sleep = sleep
        self._on_done = on_done
        self._task_group: anyio.abc.TaskGroup | None = None

    @property
    def running(self) -> bool:
        """True while entered: jobs can be submitted."""
        return self._task_group is not None

    async def __aenter__(self) -> GitRefresher:
        if self._task_group is not None:
            raise RuntimeError("This GitRefresher is already running")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        # A refresh only keeps a status fresh; nothing is lost by abandoning it at shutdown.
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, traceback)

    def submit(self, ref: GitRef) -> None:
        """Start a refresh job for ``ref`` in the background.

        Raises:
            RuntimeError: The refresher is not entered.
        """
        if self._task_group is None:
            raise RuntimeError(
                "GitRefresher is not running: enter it (async with) in the app's lifespan"
            )
        self._task_group.start_soon(self._guarded_run, ref, name=f"git refresh {ref}")

    async def run(self, ref: GitRef) -> RefreshReport:
        """Run one refresh job to its end, in the caller's task.

        Never raises for a failing store: every failure is logged and listed in the report.
        """
        errors: list[str] = []
        chats = await self._target_chats(ref, errors)
        for chat_id in chats:
            try:
                await self.chat_store.mark_stale(chat_id, branch=ref.branch, origin=ref.origin)
            except Exception as exc:
                _log_failure(errors, f"mark chat {chat_id} stale", exc)
        pending = list(chats)
        settled: list[str] = []
        rounds = 0
        for pause in self.schedule if pending else ():
            await self._sleep(pause)
            rounds += 1
            for chat_id in tuple(pending):
                try:
                    final = await self.chat_store.refresh_diff_status(chat_id)
                except Exception as exc:
                    _log_failure(errors, f"refresh the git status of chat {chat_id}", exc)
                    continue
                if final:
                    pending.remove(chat_id)
                    settled.append(chat_id)
            if not pending:
                break
        return RefreshReport(
            ref=ref,
            chats=tuple(chats),
            rounds=rounds,
            settled=tuple(settled),
            errors=tuple(errors),
        )

    async def _target_chats(self, ref: GitRef, errors: list[str]) -> list[str]:
        try:
            chats = list(await self.chat_store.workspace_chats(ref.workspace_id))
        except Exception as exc:
            _log_failure(errors, f"list the chats of workspace {ref.workspace_id}", exc)
            return []
        if ref.chat_id is None:
            return chats
        if ref.chat_id not in chats:
            # An agent token must not reach into another workspace's chats.
            logger.warning(
                "Chat %s is not a chat of workspace %s; no git status refreshed",
                ref.chat_id,
                ref.workspace_id,
            )
            return []
        return [ref.chat_id]

    async def _guarded_run(self, ref: GitRef) -> None:
        # An escaping exception would cancel every other job and end the host's lifespan.
        try:
            report = await self.run(ref)
        except Exception:
            logger.exception("Git status refresh for %s failed", ref)
            return
        if self._on_done is None:
            return
        try:
            self._on_done(report)
        except Exception:
            logger.exception("The on_done callback failed for the refresh of %s", ref)


def _log_failure(errors: list[str], what: str, exc: Exception) -> None:
    logger.error("Failed to %s: %s", what, exc, exc_info=exc)
    errors.append(f"{what}: {exc}")


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


@dataclass(slots=True)
class ChatDiffStatus:
    """One chat's git status as :class:`InMemoryChatStore` keeps it."""

    workspace_id: str
    """The workspace the chat runs its commands in."""

    git_branch: str = ""
    """The branch git last reported for the chat."""

    git_remote_origin: str = ""
    """The origin git last reported for the chat."""

    stale: bool = False
    """True from ``mark_stale`` until the next refresh."""

    stale_marks: int = 0
    """How many times the chat was marked stale."""

    refreshes: int = 0
    """How many times its status was refreshed."""

    pull_request_url: str = ""
    """Once set, a refresh reports the status as final."""


class InMemoryChatStore:
    """A :class:`ChatStore` in a dict, for tests, demos and single-process control planes.

    A refresh here only clears the stale mark and counts; a chat is final once
    :meth:`set_pull_request_url` gave it a pull request.
    """

    def __init__(self) -> None:
        self._chats: dict[str, ChatDiffStatus] = {}

    def add_chat(self, chat_id: str, workspace_id: str) -> None:
        """Register a chat of a workspace."""
        self._chats[chat_id] = ChatDiffStatus(workspace_id=workspace_id)

    def status(self, chat_id: str) -> ChatDiffStatus:
        """A copy of a chat's status.

        Raises:
            KeyError: No such chat.
        """
        return dataclasses.replace(self._chats[chat_id])

    def set_pull_request_url(self, chat_id: str, url: str) -> None:
        """Give a chat a pull request, which makes its status final.

        Raises:
            KeyError: No such chat.
        """
        self._chats[chat_id].pull_request_url = url

    async def workspace_chats(self, workspace_id: str) -> Sequence[str]:
        """The ids of the workspace's chats, in the order they were added."""
        return [chat for chat, status in self._chats.items() if status.workspace_id == workspace_id]

    async def mark_stale(self, chat_id: str, *, branch: str, origin: str) -> None:
        """Record branch and origin (empty keeps the stored value) and mark the chat stale.

        Raises:
            KeyError: No such chat.
        """
        status = self._chats[chat_id]
        status.git_branch = branch or status.git_branch
        status.git_remote_origin = origin or status.git_remote_origin
        status.stale = True
        status.stale_marks += 1

    async def refresh_diff_status(self, chat_id: str) -> bool:
        """Clear the stale mark; final once the chat has a pull request.

        Raises:
            KeyError: No such chat.
        """
        status = self._chats[chat_id]
        status.stale = False
        status.refreshes += 1
        return bool(status.pull_request_url)


@dataclass(frozen=True, slots=True)
class ExternalAuthProvider:
    """A git provider :class:`InMemoryTokenLookup` hands tokens for."""

    id: str
    """The provider id an agent may ask by, e.g. ``github``."""

    url_pattern: str
    """A regular expression searched in the URL git talks to, e.g. ``^https://github\\.com``."""

    type: str = ""
    """The provider type: ``gitlab`` and ``bitbucket-*`` take the token as the password."""

    auth_url: str = ""
    """Where a user without a token is sent to authenticate; ``/external-auth/<id>`` when
    empty."""


_PASSWORD_USERNAMES: Mapping[str, str] = {
    "gitlab": "oauth2",
    "bitbucket-cloud": "x-token-auth",
    "bitbucket-server": "x-token-auth",
}
"""Providers that want a fixed username and the token as the password (as Coder answers);
every other provider takes the token as the username."""


@dataclass(slots=True)
class InMemoryTokenLookup:
    """A :class:`TokenLookup` over dicts, for tests, demos and single-process control planes.

    Attributes:
        agents: Agent token to the workspace it belongs to.
        providers: The configured providers, first match wins.
        tokens: ``(owner_id, provider_id)`` to the owner's access token.
    """

    agents: dict[str, WorkspaceIdentity] = field(default_factory=dict)
    providers: list[ExternalAuthProvider] = field(default_factory=list)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    async def workspace_for_agent_token(self, token: str) -> WorkspaceIdentity | None:
        """The workspace of a known agent token."""
        return self.agents.get(token)

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        """The owner's token for the first matching provider, or where to get one."""
        provider = next(
            (
                candidate
                for candidate in self.providers
                if (provider_id and candidate.id == provider_id)
                or (match and re.search(candidate.url_pattern, match))
            ),
            None,
        )
        if provider is None:
            return None
        token = self.tokens.get((workspace.owner_id, provider.id))
        if token is None:
            auth_url = provider.auth_url or f"/external-auth/{provider.id}"
            return ExternalAuthResponse(url=auth_url, type=provider.type)
        username = _PASSWORD_USERNAMES.get(provider.type)
        return ExternalAuthResponse(
            access_token=token,
            type=provider.type,
            username=token if username is None else username,
            password="" if username is None else token,
        )
