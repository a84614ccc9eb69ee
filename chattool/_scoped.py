"""Binding a connection to one chat: every request it sends carries the chat's header.

A tool bound to a chat wraps whatever connection it was given (``chat_scoped``), so that no
call can go out without ``Coder-Chat-Id``; the wrapper offers what the wrapped connection
offers (``ToolConnection``, ``RunConnection`` or ``InputConnection``) and no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from agentsdk import parse_chat_id
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
from agentsdk.wire import CHAT_ID_HEADER
from chattool._connection import (
    ChatScopeConflict,
    InputConnection,
    RunConnection,
    ToolConnection,
)

__all__ = ["chat_scoped"]


def chat_scoped(connection: ToolConnection, chat_id: str) -> ToolConnection:
    """``connection`` with ``chat_id``'s ``Coder-Chat-Id`` on every request it sends.

    Args:
        connection: whatever connection the tool was given.
        chat_id: the tool's chat, canonical (``normalize_chat_id``).

    Raises:
        ChatScopeConflict: the connection already sends another chat id (or a value that
            is not a chat id at all); the message names both.
    """
    carried = _chat_values(connection.headers)
    if any(parse_chat_id(value) != chat_id for value in carried):
        raise ChatScopeConflict(
            f"the connection is scoped to chat {', '.join(carried)} but this tool is bound to "
            f"chat {chat_id}; refusing to act for the wrong chat"
        )
    if isinstance(connection, InputConnection):
        return _ChatScopedInputConnection(connection, chat_id)
    if isinstance(connection, RunConnection):
        return _ChatScopedRunConnection(connection, chat_id)
    return _ChatScopedConnection(connection, chat_id)


def _chat_values(headers: Mapping[str, str]) -> list[str]:
    wanted = CHAT_ID_HEADER.lower()
    return [value for name, value in headers.items() if name.lower() == wanted]


def _without_chat(headers: Mapping[str, str] | None) -> dict[str, str]:
    wanted = CHAT_ID_HEADER.lower()
    return {name: value for name, value in (headers or {}).items() if name.lower() != wanted}


def _wake(wake_on_input: bool) -> dict[str, bool]:
    # Passed on only when asked for: a connection of the plain protocols may not take it.
    return {"wake_on_input": True} if wake_on_input else {}


class _ChatScopedConnection:
    """Adds one chat's header to every call, over the wrapped connection's own headers."""

    def __init__(self, connection: ToolConnection, chat_id: str) -> None:
        self._connection = connection
        self._chat = {CHAT_ID_HEADER: chat_id}

    def _with_chat(self, extra_headers: Mapping[str, str] | None) -> dict[str, str]:
        return {**_without_chat(extra_headers), **self._chat}

    @property
    def headers(self) -> Mapping[str, str]:
        return {**_without_chat(self._connection.headers), **self._chat}

    async def start_process(
        self, request: StartProcessRequest, /, *, extra_headers: Mapping[str, str] | None = None
    ) -> StartProcessResponse:
        return await self._connection.start_process(
            request, extra_headers=self._with_chat(extra_headers)
        )

    async def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> ListProcessesResponse:
        return await self._connection.list_processes(extra_headers=self._with_chat(extra_headers))

    async def process_output(
        self,
        process_id: str,
        /,
        *,
        since: int | Literal["last"] | None = None,
        limit: int | None = None,
        wait: bool = False,
        timeout_ms: int | None = None,
        wake_on_input: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessOutputResponse:
        return await self._connection.process_output(
            process_id,
            since=since,
            limit=limit,
            wait=wait,
            timeout_ms=timeout_ms,
            extra_headers=self._with_chat(extra_headers),
            **_wake(wake_on_input),
        )

    async def signal_process(
        self,
        process_id: str,
        signal: Signal,
        /,
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        await self._connection.signal_process(
            process_id, signal, extra_headers=self._with_chat(extra_headers)
        )


class _ChatScopedRunConnection(_ChatScopedConnection):
    """A chat-scoped connection whose wrapped one can run commands in one call."""

    def __init__(self, connection: RunConnection, chat_id: str) -> None:
        super().__init__(connection, chat_id)
        self._runner = connection

    async def run_process(
        self,
        request: StartProcessRequest,
        /,
        *,
        wait_ms: int | None = None,
        wake_on_input: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RunProcessResponse:
        return await self._runner.run_process(
            request,
            wait_ms=wait_ms,
            extra_headers=self._with_chat(extra_headers),
            **_wake(wake_on_input),
        )


class _ChatScopedInputConnection(_ChatScopedRunConnection):
    """A chat-scoped connection whose wrapped one also sends input and reads screens."""

    def __init__(self, connection: InputConnection, chat_id: str) -> None:
        super().__init__(connection, chat_id)
        self._typist = connection

    async def write_input(
        self,
        process_id: str,
        data: str | bytes,
        /,
        *,
        close: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessInputResponse:
        return await self._typist.write_input(
            process_id, data, close=close, extra_headers=self._with_chat(extra_headers)
        )

    async def close_input(
        self, process_id: str, /, *, extra_headers: Mapping[str, str] | None = None
    ) -> ProcessInputResponse:
        return await self._typist.close_input(
            process_id, extra_headers=self._with_chat(extra_headers)
        )

    async def screen(
        self,
        process_id: str,
        /,
        *,
        scrollback: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessScreenResponse:
        return await self._typist.screen(
            process_id, scrollback=scrollback, extra_headers=self._with_chat(extra_headers)
        )
