"""What the tools need from an agent connection, and how their requests are bound to a chat.

The tools call four methods and read ``headers``, nothing else, so they are written against
a structural ``ToolConnection`` protocol: ``agentsdk.AsyncAgentConn`` satisfies it, and so
does any wrapper or test double with the same members. A connection that also has
``run_process`` (``RunConnection``, as ``AsyncAgentConn``) lets ``execute`` start a command
and wait for its first moments in one request; one that also sends input and reads a
terminal's screen (``InputConnection``, as ``AsyncAgentConn``) serves ``process_input`` and
interactive commands.

Chat scoping is a property of each *request*: the agent reads the ``Coder-Chat-Id`` header
of every request to tag new processes and to hide every other process (another chat's, or
an untagged one) from ``list``, ``output`` and ``signal``. A tool bound to a chat therefore
sends that header itself, on every request, as the call's ``extra_headers`` (``_scoped.chat_scoped``
wraps the connection so that no call can go out without it), whatever connection it was
given: a plain ``AsyncAgentConn(base_url)`` shared by every chat is enough. A connection
that already carries a *different* chat id (``connection.headers``) is a mistake of the
backend's; the tool refuses it rather than guess which chat was meant.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from agentsdk import canonical_chat_id
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessScreenResponse,
    RunProcessResponse,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import CHAT_ID_HEADER as CHAT_ID_HEADER

__all__ = [
    "CHAT_ID_HEADER",
    "ChatScopeConflict",
    "ConnectionResolver",
    "InputConnection",
    "RunConnection",
    "ToolConnection",
    "chat_headers",
    "normalize_chat_id",
]


@runtime_checkable
class ToolConnection(Protocol):
    """The tools' view of an agent connection: the calls they make, no more.

    ``agentsdk.AsyncAgentConn`` provides them (its ``start_process`` also takes keyword
    fields; the tools always pass a whole ``StartProcessRequest``), and so can any wrapper
    or test double.

    Each call takes ``extra_headers``: headers of that request only, over the connection's
    own (names match case-insensitively). Any exception a method raises is reported to the
    model as the failure of that step.
    """

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers the connection sends on every request (its ``Coder-Chat-Id``, if any)."""
        ...

    async def start_process(
        self, request: StartProcessRequest, /, *, extra_headers: Mapping[str, str] | None = ...
    ) -> StartProcessResponse:
        """Start ``sh -c <command>`` on the agent and return its id."""
        ...

    async def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = ...
    ) -> ListProcessesResponse:
        """List the processes visible to the request."""
        ...

    async def process_output(
        self,
        process_id: str,
        /,
        *,
        since: int | Literal["last"] | None = ...,
        limit: int | None = ...,
        wait: bool = ...,
        timeout_ms: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> ProcessOutputResponse:
        """Read a process's output: the head+tail snapshot, or with ``since`` a cursor read
        of at most ``limit`` bytes (``"last"``: from where the previous one of this chat
        ended). With ``wait``, block until exit (or, with ``since``, new output) or
        ``timeout_ms``. (The tools pass ``wake_on_input=True`` too, only to an
        ``InputConnection``.)"""
        ...

    async def signal_process(
        self,
        process_id: str,
        signal: Signal,
        /,
        *,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> None:
        """Send ``terminate`` or ``kill`` to a running process's process group."""
        ...


@runtime_checkable
class RunConnection(ToolConnection, Protocol):
    """A ``ToolConnection`` that can also start a command and wait for it in one call.

    ``agentsdk.AsyncAgentConn`` is one: it sends one request to an agentproc agent and falls
    back to a start and a waiting read on an agent without ``/run`` (Coder's).
    """

    async def run_process(
        self,
        request: StartProcessRequest,
        /,
        *,
        wait_ms: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> RunProcessResponse:
        """Start ``sh -c <command>``, wait at most ``wait_ms`` for its exit, and return
        its id with the output as the wait left it."""
        ...


@runtime_checkable
class InputConnection(RunConnection, Protocol):
    """A ``RunConnection`` that also types into a process and reads its terminal's screen:
    what ``process_input`` and ``execute``'s interactive mode need. ``AsyncAgentConn`` is one.

    Its ``process_output`` and ``run_process`` take ``wake_on_input``: with a wait, also
    answer as soon as the command waits for input.
    """

    async def run_process(
        self,
        request: StartProcessRequest,
        /,
        *,
        wait_ms: int | None = ...,
        wake_on_input: bool = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> RunProcessResponse:
        """As ``RunConnection.run_process``; with ``wake_on_input``, also answer at a
        question."""
        ...

    async def process_output(
        self,
        process_id: str,
        /,
        *,
        since: int | Literal["last"] | None = ...,
        limit: int | None = ...,
        wait: bool = ...,
        timeout_ms: int | None = ...,
        wake_on_input: bool = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> ProcessOutputResponse:
        """As ``ToolConnection.process_output``; with ``wake_on_input`` and ``wait``, also
        answer as soon as the command waits for input."""
        ...

    async def write_input(
        self,
        process_id: str,
        data: str | bytes,
        /,
        *,
        close: bool = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> ProcessInputResponse:
        """Queue ``data`` for the process's stdin (its terminal), then end-of-file if
        ``close``."""
        ...

    async def close_input(
        self, process_id: str, /, *, extra_headers: Mapping[str, str] | None = ...
    ) -> ProcessInputResponse:
        """End-of-file on the process's stdin (Ctrl-D on a terminal)."""
        ...

    async def screen(
        self,
        process_id: str,
        /,
        *,
        scrollback: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
    ) -> ProcessScreenResponse:
        """The terminal's screen as a person would see it; a conflict error without one."""
        ...


ConnectionResolver: TypeAlias = Callable[[], Awaitable[ToolConnection]]
"""An async callable returning the chat's connection; it raises when there is none
(workspace stopped, agent not yet connected), and the tool reports that to the model."""


class ChatScopeConflict(ValueError):
    """Raised when a connection already carries another chat's id than the tool's."""


def normalize_chat_id(chat_id: str | uuid.UUID) -> str:
    """Return the canonical form of a chat id, rejecting anything but a UUID.

    The agent answers 400 to a ``Coder-Chat-Id`` that is not a UUID; refusing it here names
    the mistake when the tools are built rather than at the model's first call.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """
    # One parser decides what a chat id is, here, in the agent and in the control plane.
    try:
        return canonical_chat_id(chat_id)
    except ValueError:
        raise ValueError(f"chat_id must be a UUID, got {chat_id!r}") from None


def chat_headers(chat_id: str | uuid.UUID) -> dict[str, str]:
    """Headers that scope a request, or every request of a connection, to one chat.

    Pass them as ``AsyncAgentConn(..., headers=chat_headers(chat_id))`` or as a call's
    ``extra_headers``; the tools add them to each of their calls on their own.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """
    return {CHAT_ID_HEADER: normalize_chat_id(chat_id)}
