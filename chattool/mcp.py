"""The chat tools as an MCP server (the official ``mcp`` SDK): over stdio, or streamable HTTP.

An MCP host (Claude Code or Desktop, Cursor, the Agents SDK's MCP client, a pydantic-ai
toolset) lists the tools and calls them; each call runs through one agent connection, and
its result comes back as a ``CallToolResult``: the tool's text, ``isError`` for a call the
tool refused, and the JSON result as ``structuredContent``.

**Which chat a call acts for.** The agent keeps chats apart (``Coder-Chat-Id``); an MCP
session is one chat:

- over stdio (:func:`run_stdio`, ``agentproc mcp``), the process is the session: the chat
  is the one given, or a new one, so two hosts never see each other's processes;
- over streamable HTTP (:class:`StreamableHTTP`, ``agentproc serve --mcp``), a request's
  ``Coder-Chat-Id`` header names the chat; without it, each MCP session (its
  ``Mcp-Session-Id``) has a chat of its own. A stateless request (protocol 2026-07-28) has
  no session, so it must name its chat; a client that asks the server what it speaks
  without naming one is offered the session-based protocol versions only.

Requires the ``mcp`` extra: ``pip install 'agentproc[mcp]'``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from agentsdk import chat_id_from_headers
from chattool._chat import chat_tools
from chattool._connection import CHAT_ID_HEADER, ConnectionResolver, ToolConnection
from chattool._connection import normalize_chat_id as _normalize_chat_id

try:
    import mcp_types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from mcp.shared.exceptions import MCPError
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError("chattool.mcp needs the MCP SDK: pip install 'agentproc[mcp]'") from exc

__all__ = [
    "SERVER_NAME",
    "SESSION_CHAT_NAMESPACE",
    "StreamableHTTP",
    "mcp_server",
    "run_stdio",
    "session_chat_id",
]

SERVER_NAME = "agentproc"
"""How the server introduces itself to MCP hosts."""

SESSION_CHAT_NAMESPACE = uuid.UUID("6f1d2c1e-4b0a-5c7e-9d3f-2a8b7c6d5e4f")
"""Chat ids of HTTP sessions are UUIDv5 names of their session ids in this namespace: each
session has its own chat, and the server keeps no table of them."""

MCP_SESSION_ID_HEADER = "mcp-session-id"
"""The header of streamable HTTP that names the session a request belongs to."""

ChatFor = Callable[[ServerRequestContext[Any, Any]], str]
"""Decides which chat a request acts for; raises ``MCPError`` when it cannot tell."""


def _version() -> str:
    try:
        return metadata.version("agentproc")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def session_chat_id(session_id: str) -> str:
    """The chat of an HTTP MCP session that names none: a UUID derived from its session id."""
    return str(uuid.uuid5(SESSION_CHAT_NAMESPACE, session_id))


def _definitions() -> list[mcp_types.Tool]:
    # The definitions do not depend on a connection or a chat.
    return [
        mcp_types.Tool(name=tool.name, description=tool.description, input_schema=tool.parameters)
        for tool in chat_tools(None)
    ]


def _build_server(
    connection: ToolConnection | ConnectionResolver | None, chat_for: ChatFor
) -> Server[Any]:
    definitions = _definitions()

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=definitions)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        tools = {tool.name: tool for tool in chat_tools(connection, chat_id=chat_for(ctx))}
        tool = tools.get(params.name)
        if tool is None:
            raise MCPError(
                code=mcp_types.INVALID_PARAMS,
                message=f"Unknown tool {params.name!r}; the tools are {', '.join(tools)}.",
            )
        result = await tool.run(params.arguments or {})
        return mcp_types.CallToolResult.model_validate(result.to_mcp())

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=(
            "Run shell commands in the workspace with execute (interactive: on a terminal); "
            "follow, stop and answer what keeps running with process_output, process_list, "
            "process_signal and process_input."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def mcp_server(
    connection: ToolConnection | ConnectionResolver | None,
    *,
    chat_id: str | uuid.UUID | None = None,
) -> Server[Any]:
    """An MCP server offering the chat tools of one chat, for one session (stdio, in-memory).

    Run it with ``server.run(read_stream, write_stream, server.create_initialization_options())``
    or hand it to ``mcp.Client`` in tests; :func:`run_stdio` does the former on stdin/stdout.

    Args:
        connection: the agent connection, or an async callable returning it (see
            ``chattool.Tool``).
        chat_id: the chat the tools act for; a new one when not given, so that what this
            server starts is seen by no other chat.

    Raises:
        ValueError: ``chat_id`` is not a UUID.
    """
    chat = _normalize_chat_id(chat_id) if chat_id is not None else str(uuid.uuid4())
    return _build_server(connection, lambda ctx: chat)


async def run_stdio(
    connection: ToolConnection | ConnectionResolver | None,
    *,
    chat_id: str | uuid.UUID | None = None,
) -> None:
    """Serve the chat tools over stdin and stdout until the host closes stdin.

    Args:
        connection: as for :func:`mcp_server`; it stays the caller's to close.
        chat_id: as for :func:`mcp_server`: the process is one session, one chat.
    """
    server = mcp_server(connection, chat_id=chat_id)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _header_chat(request: object) -> str | None:
    """The chat a request names in ``Coder-Chat-Id``, if it names one.

    Raises:
        MCPError: the header is there but is not one UUID.
    """
    if not isinstance(request, Request):
        return None
    try:
        return chat_id_from_headers(request.headers)
    except ValueError as exc:
        raise MCPError(
            code=mcp_types.INVALID_REQUEST, message=f"Invalid {CHAT_ID_HEADER} header: {exc}"
        ) from None


def _http_chat(ctx: ServerRequestContext[Any, Any]) -> str:
    chat = _header_chat(ctx.request)
    if chat is not None:
        return chat
    session_id = (
        ctx.request.headers.get(MCP_SESSION_ID_HEADER) if isinstance(ctx.request, Request) else None
    )
    if session_id:
        return session_chat_id(session_id)
    raise MCPError(
        code=mcp_types.INVALID_REQUEST,
        message=(
            f"This request names no chat: send a {CHAT_ID_HEADER} header, or open a session "
            "(initialize) to get a chat of its own."
        ),
    )


class StreamableHTTP:
    """The chat tools over MCP's streamable HTTP transport, as an ASGI app.

    Each request acts for the chat of its ``Coder-Chat-Id`` header, or else for its MCP
    session's own chat (see the module docstring). The app answers at whatever path it is
    routed at; it checks neither a token nor ``Host`` or ``Origin``, which is the job of
    whoever mounts it (``agentproc serve --mcp`` does both with the agent's own rules).

    Run it inside the server's lifespan, which owns the MCP sessions' tasks::

        mcp_app = StreamableHTTP(conn)
        async with mcp_app.run():
            ...  # serve requests with `await mcp_app(scope, receive, send)`

    Args:
        connection: the agent connection, or an async callable returning it.
        json_response: answer each request with one JSON body instead of an SSE stream.
    """

    def __init__(
        self,
        connection: ToolConnection | ConnectionResolver | None,
        *,
        json_response: bool = False,
    ) -> None:
        server = _build_server(connection, _http_chat)
        default_discover = server.get_request_handler("server/discover")
        assert default_discover is not None  # noqa: S101 - the SDK always registers one

        async def discover(
            ctx: ServerRequestContext[Any, Any], params: mcp_types.RequestParams
        ) -> Any:
            if _header_chat(ctx.request) is not None:
                return await default_discover.handler(ctx, params)
            # Stateless requests could not say which chat they are: steer the client to the
            # initialize handshake, whose session then is the chat.
            return mcp_types.DiscoverResult(
                supported_versions=list(HANDSHAKE_PROTOCOL_VERSIONS),
                capabilities=server.get_capabilities(),
                instructions=server.instructions,
            )

        server.add_request_handler("server/discover", mcp_types.RequestParams, discover)
        self._manager = StreamableHTTPSessionManager(
            app=server,
            json_response=json_response,
            # Host and Origin are checked by whoever mounts the app, with their own rules.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the session manager: requests are served only inside this block, and every
        session ends with it. It can be entered once."""
        async with self._manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI request (inside :meth:`run`)."""
        await self._manager.handle_request(scope, receive, send)
