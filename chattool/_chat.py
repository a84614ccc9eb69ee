"""Build the four tools of one chat at once."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from chattool._connection import AgentConnection, ConnectionResolver
from chattool._execute import ExecuteTool
from chattool._process import ProcessListTool, ProcessOutputTool, ProcessSignalTool

__all__ = [
    "ChatTools",
    "chat_tools",
]


class ChatTools(NamedTuple):
    """The tools of one chat; iterate it to hand every definition to a model."""

    execute: ExecuteTool
    process_output: ProcessOutputTool
    process_list: ProcessListTool
    process_signal: ProcessSignalTool


def chat_tools(
    connection: AgentConnection | ConnectionResolver | None,
    *,
    chat_id: str | uuid.UUID | None = None,
) -> ChatTools:
    """Build ``execute``, ``process_output``, ``process_list`` and ``process_signal``.

    Args:
        connection: the chat's agent connection, or an async callable returning it. It must
            send the chat's ``Coder-Chat-Id`` header on every request (build it with
            ``headers=chat_headers(chat_id)``), since that header is what hides one chat's
            processes from another.
        chat_id: the chat's UUID; commands see it as ``CODER_CHAT_ID``.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.

    Example:
        ```python
        conn = AsyncAgentConn(url, token=token, headers=chat_headers(chat_id))
        tools = chat_tools(conn, chat_id=chat_id)
        definitions = [tool.to_anthropic() for tool in tools]
        by_name = {tool.name: tool for tool in tools}
        result = await by_name[call.name].run(call.arguments)
        ```
    """
    chat = None if chat_id is None else str(chat_id)
    return ChatTools(
        execute=ExecuteTool(connection, chat_id=chat),
        process_output=ProcessOutputTool(connection, chat_id=chat),
        process_list=ProcessListTool(connection, chat_id=chat),
        process_signal=ProcessSignalTool(connection, chat_id=chat),
    )
