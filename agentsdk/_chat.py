"""The chat context of a request: Coder's ``Coder-Chat-Id`` header and its parsing."""

from __future__ import annotations

import uuid

__all__ = ["CHAT_ID_HEADER", "parse_chat_id"]

CHAT_ID_HEADER = "Coder-Chat-Id"
"""Names the chat a request acts for; the agent scopes processes by it."""


def parse_chat_id(value: str | uuid.UUID | None) -> str | None:
    """The canonical (lowercase, hyphenated) form of a chat id, or None for anything else.

    Absent, empty and non-UUID values all mean "no chat": that is how the agent and the
    control plane treat a malformed id, so one function decides it for both.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not value or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None
