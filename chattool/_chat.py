"""Build the five tools of one chat at once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import httpx

from agentsdk import AsyncAgentConn
from chattool._connection import ConnectionResolver, RunConnection, ToolConnection, chat_headers
from chattool._execute import ExecuteTool
from chattool._input import ProcessInputTool
from chattool._process import ProcessListTool, ProcessOutputTool, ProcessSignalTool

__all__ = [
    "ChatTools",
    "chat_connection",
    "chat_tools",
]

if TYPE_CHECKING:
    # Fails type checking if the SDK's connection stops satisfying the tools' protocol.
    def _sdk_connection_fits(connection: AsyncAgentConn) -> ToolConnection:
        return connection

    def _sdk_connection_runs(connection: AsyncAgentConn) -> RunConnection:
        return connection


class ChatTools(NamedTuple):
    """The tools of one chat; iterate it to hand every definition to a model."""

    execute: ExecuteTool
    process_output: ProcessOutputTool
    process_list: ProcessListTool
    process_signal: ProcessSignalTool
    process_input: ProcessInputTool


def chat_tools(
    connection: ToolConnection | ConnectionResolver | None,
    *,
    chat_id: str | uuid.UUID | None = None,
) -> ChatTools:
    """Build ``execute``, ``process_output``, ``process_list``, ``process_signal`` and
    ``process_input``.

    Args:
        connection: an agent connection, or an async callable returning it. It needs no
            chat header, so one ``AsyncAgentConn`` can serve every chat of a workspace: the
            tools send ``Coder-Chat-Id`` on each request themselves, which is what hides one
            chat's processes from another. One already scoped to another chat (by its
            ``headers``) makes every call an error result.
        chat_id: the chat's UUID, sent on every request and seen by commands as
            ``CODER_CHAT_ID``. Without it the tools act for no chat and see every process.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.

    Example:
        ```python
        conn = AsyncAgentConn(url, token=token)
        tools = chat_tools(conn, chat_id=chat_id)
        definitions = [tool.to_anthropic() for tool in tools]
        by_name = {tool.name: tool for tool in tools}
        result = await by_name[call.name].run(call.arguments)
        ```
    """
    return ChatTools(
        execute=ExecuteTool(connection, chat_id=chat_id),
        process_output=ProcessOutputTool(connection, chat_id=chat_id),
        process_list=ProcessListTool(connection, chat_id=chat_id),
        process_signal=ProcessSignalTool(connection, chat_id=chat_id),
        process_input=ProcessInputTool(connection, chat_id=chat_id),
    )


def chat_connection(
    base_url: str,
    chat_id: str | uuid.UUID,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> AsyncAgentConn:
    """An ``AsyncAgentConn`` whose every request carries the chat's ``Coder-Chat-Id``.

    The tools need no such connection (they send the header themselves); this one is for a
    backend's own calls on a chat's behalf, e.g. listing the chat's processes for its UI.
    Many chats can share one agent and one connection pool: pass the same ``http_client``
    to each chat's connection. For other connection options, build
    ``AsyncAgentConn(..., headers=chat_headers(chat_id))`` directly.

    Args:
        base_url: the agent's address.
        chat_id: the chat's UUID.
        token: the agent's bearer token.
        headers: further headers for every request; the chat header wins over a clash.
        http_client: a shared ``httpx.AsyncClient``; it stays the caller's to close.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """
    return AsyncAgentConn(
        base_url,
        token=token,
        headers={**(headers or {}), **chat_headers(chat_id)},
        http_client=http_client,
    )
