"""The chat context of a request: Coder's ``Coder-Chat-Id`` header and its parsing.

One parser decides what a chat id is, for two readers with opposite needs:

- The agent scopes processes by the header, so it must tell "absent" (no chat: the control
  plane's own view of everything) from "present but malformed" (refused, since guessing
  would unscope a chat's request): ``chat_id_from_headers`` and ``canonical_chat_id`` raise.
- The control plane only refreshes git status by ``chat_id``, and Coder's agents send
  whatever ``CODER_CHAT_ID`` holds: ``parse_chat_id`` reads absent and malformed alike as
  "no chat" and never raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from agentsdk.wire import CHAT_ID_HEADER

__all__ = ["canonical_chat_id", "chat_id_from_headers", "parse_chat_id"]

_EXAMPLE = "0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90"


def canonical_chat_id(value: str | uuid.UUID) -> str:
    """The canonical (lowercase, hyphenated) form of a chat id that must be a UUID.

    Any spelling ``uuid.UUID`` reads is accepted (upper case, no hyphens, braces), as Go's
    ``uuid.Parse`` accepts it; surrounding whitespace is ignored.

    Raises:
        ValueError: ``value`` is not one UUID (empty and blank included).
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"Expected a chat id that is a UUID but received {type(value).__name__}")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"Expected a chat id that is a UUID but received {value!r}") from None


def parse_chat_id(value: str | uuid.UUID | None) -> str | None:
    """The canonical form of a chat id, or None for anything else; never raises.

    Absent, empty and non-UUID values all mean "no chat". This is the control plane's
    reading of the ``chat_id`` an agent reports (``CODER_CHAT_ID``); the agent itself
    refuses a malformed header instead (``chat_id_from_headers``).
    """
    if value is None:
        return None
    try:
        return canonical_chat_id(value)
    except ValueError:
        return None


def chat_id_from_headers(headers: Mapping[str, str]) -> str | None:
    """The chat a request acts for: its one ``Coder-Chat-Id`` header, strictly.

    Args:
        headers: The request's headers. Names match case-insensitively; a mapping that
            lists one name several times (Starlette's ``Headers``) has each value checked.

    Returns:
        The canonical chat id, or None when no such header is present.

    Raises:
        ValueError: The header is present but not exactly one UUID: empty, malformed,
            a comma-joined list, or sent more than once. The message does not repeat the
            value, so it can be shown to whoever sent it.
    """
    wanted = CHAT_ID_HEADER.lower()
    values = [value for name, value in headers.items() if name.lower() == wanted]
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(
            f"{CHAT_ID_HEADER} must be sent once, but it was sent {len(values)} times."
        )
    try:
        return canonical_chat_id(values[0])
    except ValueError:
        raise ValueError(
            f"{CHAT_ID_HEADER} must be one UUID, such as {_EXAMPLE}; leave the header out "
            "to act for no chat."
        ) from None
