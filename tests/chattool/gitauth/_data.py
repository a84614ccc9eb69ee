"""The workspace, chats and providers the gitauth tests share."""

from __future__ import annotations

import anyio.lowlevel

from chattool.gitauth import (
    ExternalAuthProvider,
    InMemoryChatStore,
    InMemoryTokenLookup,
    WorkspaceIdentity,
)

__all__ = [
    "AGENT_TOKEN",
    "CHAT_A",
    "CHAT_B",
    "GITHUB",
    "GITLAB",
    "OTHER_WORKSPACE_CHAT",
    "SAFETY_TIMEOUT",
    "WORKSPACE",
    "make_lookup",
    "make_store",
    "no_sleep",
]

AGENT_TOKEN = "agent-token"
WORKSPACE = WorkspaceIdentity(workspace_id="ws-1", owner_id="alice")
CHAT_A = "11111111-1111-4111-8111-111111111111"
CHAT_B = "22222222-2222-4222-8222-222222222222"
OTHER_WORKSPACE_CHAT = "33333333-3333-4333-8333-333333333333"
GITHUB = ExternalAuthProvider(id="github", url_pattern=r"^https://github\.com", type="github")
GITLAB = ExternalAuthProvider(id="gitlab", url_pattern=r"^https://gitlab\.com", type="gitlab")
SAFETY_TIMEOUT = 10.0
"""Only a net: every wait ends on an event."""


def make_lookup() -> InMemoryTokenLookup:
    """Alice's workspace with a GitHub and a GitLab token, and a provider she has no token for."""
    return InMemoryTokenLookup(
        agents={AGENT_TOKEN: WORKSPACE},
        providers=[
            GITHUB,
            GITLAB,
            ExternalAuthProvider(id="bitbucket", url_pattern="bitbucket", auth_url="https://a"),
        ],
        tokens={("alice", "github"): "gho_x", ("alice", "gitlab"): "glpat"},
    )


def make_store() -> InMemoryChatStore:
    """Two chats on the workspace and one on another workspace."""
    store = InMemoryChatStore()
    store.add_chat(CHAT_A, "ws-1")
    store.add_chat(CHAT_B, "ws-1")
    store.add_chat(OTHER_WORKSPACE_CHAT, "ws-2")
    return store


async def no_sleep(seconds: float) -> None:
    """Yield to the loop without waiting."""
    await anyio.lowlevel.checkpoint()
