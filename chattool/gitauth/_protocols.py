"""The two seams a control plane implements: who an agent token is, and where chats live.

:class:`TokenLookup` authenticates agents and finds provider tokens; :class:`ChatStore` lists a
workspace's chats, marks them stale and refreshes their git status. :class:`WorkspaceIdentity`
and :class:`GitRef` are what passes between them and the router.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentsdk import ExternalAuthResponse

__all__ = ["ChatStore", "GitRef", "TokenLookup", "WorkspaceIdentity"]


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
