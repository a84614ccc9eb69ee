"""In-memory :class:`ChatStore` and :class:`TokenLookup`, for tests, demos and single-process
control planes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentsdk import ExternalAuthResponse
from chattool.gitauth._protocols import WorkspaceIdentity

__all__ = ["ChatDiffStatus", "ExternalAuthProvider", "InMemoryChatStore", "InMemoryTokenLookup"]


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
