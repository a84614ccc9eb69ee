"""What the tools need from an agent connection, and how a connection is bound to a chat.

The tools call four methods and nothing else, so they are written against a structural
``AgentConnection`` protocol: ``agentsdk.AsyncAgentConn`` satisfies it, and so does any
wrapper or test double with the same four coroutines.

Chat scoping is a property of the *connection*, not of each call: the agent reads the
``Coder-Chat-Id`` header of every request to tag new processes and to hide other chats'
processes from ``list``, ``output`` and ``signal``. A chat backend therefore gives each
chat's tools a connection that sends that header on every request, e.g.
``AsyncAgentConn(base_url, headers=chat_headers(chat_id))`` (``chat_connection`` builds
exactly that), or a resolver that returns such a connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias, runtime_checkable

from agentsdk import CHAT_ID_HEADER as CHAT_ID_HEADER
from agentsdk import parse_chat_id
from agentsdk.types import (
    ListProcessesResponse,
    ProcessOutputResponse,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)

__all__ = [
    "CHAT_ID_HEADER",
    "AgentConnection",
    "ConnectionResolver",
    "chat_headers",
    "normalize_chat_id",
]


@runtime_checkable
class AgentConnection(Protocol):
    """The four agent calls the tools make; ``agentsdk.AsyncAgentConn`` provides them.

    Any exception a method raises is reported to the model as the failure of that step.
    """

    async def start_process(self, request: StartProcessRequest, /) -> StartProcessResponse:
        """Start ``sh -c <command>`` on the agent and return its id."""
        ...

    async def list_processes(self) -> ListProcessesResponse:
        """List the processes visible to this connection."""
        ...

    async def process_output(
        self, process_id: str, /, *, wait: bool = ..., timeout_ms: int | None = ...
    ) -> ProcessOutputResponse:
        """Read a process's output; with ``wait``, block until exit or ``timeout_ms``."""
        ...

    async def signal_process(self, process_id: str, signal: Signal, /) -> None:
        """Send ``terminate`` or ``kill`` to a running process's process group."""
        ...


ConnectionResolver: TypeAlias = Callable[[], Awaitable[AgentConnection]]
"""An async callable returning the chat's connection; it raises when there is none
(workspace stopped, agent not yet connected), and the tool reports that to the model."""


def normalize_chat_id(chat_id: str | uuid.UUID) -> str:
    """Return the canonical form of a chat id, rejecting anything but a UUID.

    The agent silently ignores a ``Coder-Chat-Id`` that is not a UUID, which would leave the
    chat's processes visible to every other chat; failing early is the only safe answer.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """
    # One parser decides what a chat id is, here, in the agent and in the control plane.
    canonical = parse_chat_id(chat_id)
    if canonical is None:
        raise ValueError(f"chat_id must be a UUID, got {chat_id!r}")
    return canonical


def chat_headers(chat_id: str | uuid.UUID) -> dict[str, str]:
    """Headers that scope every request of a connection to one chat.

    Pass them as ``AsyncAgentConn(..., headers=chat_headers(chat_id))``.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """
    return {CHAT_ID_HEADER: normalize_chat_id(chat_id)}
