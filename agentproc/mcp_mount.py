"""``agentproc serve --mcp``: the chat tools over MCP's streamable HTTP, at ``/mcp`` on the agent.

The mount is behind the agent's own guards: the browser rules (``Host``, ``Origin``) and the
bearer token are checked by the app's middleware before a request reaches it, as for
``/api/``, and a ``Coder-Chat-Id`` that is not one UUID answers 400 as everywhere else.

The tools reach the agent through the SDK, in process: an ``AsyncAgentConn`` whose transport
is the agent's own ASGI app (``httpx.ASGITransport``), carrying the agent's token. Every call
of a tool thus takes the same path as a request from outside (middleware, validation, chat
scoping) without a socket, and works whatever the agent listens on (a port chosen by the OS,
a Unix socket) and however many workers the process has; a loopback connection would need
to know the listening address and would hold sockets open against the agent's own cap.

``chattool.mcp`` needs the ``mcp`` extra; it is imported only when the mount is asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agentproc.auth import MCP_PATH
from agentproc.errors import InvalidChatId
from agentsdk import chat_id_from_headers

if TYPE_CHECKING:
    from chattool.mcp import StreamableHTTP

__all__ = ["IN_PROCESS_URL", "MCP_STATE", "MCPEndpoint", "mcp_running", "mount_mcp"]

MCP_STATE: Final = "mcp"
"""The lifespan state entry holding the running MCP app."""

IN_PROCESS_URL = "http://localhost"
"""The address the in-process connection names; ``localhost`` passes the ``Host`` rule."""


def mount_mcp(app: FastAPI) -> None:
    """Route ``/mcp`` (exactly) to the MCP app that :func:`mcp_running` runs.

    Raises:
        ImportError: the ``mcp`` extra is not installed; the message says how to install it.
    """
    import chattool.mcp  # noqa: F401 - optional: fail when the app is built, not at a request

    # A Route given an ASGI app (not a function) hands it every method: POST, GET, DELETE.
    app.router.routes.append(Route(MCP_PATH, MCPEndpoint(), include_in_schema=False))


@asynccontextmanager
async def mcp_running(
    app: ASGIApp, state: Mapping[str, Any], token: str | None
) -> AsyncIterator[StreamableHTTP]:
    """Run the MCP app for the agent ``app`` while the block lasts (inside its lifespan).

    Args:
        app: the agent's ASGI app, which the tools call in process.
        state: the lifespan state its requests see (as a server hands it to each request).
        token: the agent's bearer token, sent by the tools like any client's.
    """
    # Only with --mcp: an agent without it never loads an HTTP client.
    import httpx

    from agentsdk import AsyncAgentConn
    from chattool.mcp import StreamableHTTP

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        # httpx's ASGI transport does not pass the lifespan state on, as a server would.
        await app({**scope, "state": dict(state)}, receive, send)

    # The tools read every answer, errors included, as a client over HTTP would.
    transport = httpx.ASGITransport(app=with_state, raise_app_exceptions=False)
    async with AsyncAgentConn(IN_PROCESS_URL, token=token, transport=transport) as conn:
        mcp_app = StreamableHTTP(conn)
        async with mcp_app.run():
            yield mcp_app


class MCPEndpoint:
    """The ASGI endpoint at ``/mcp``: hands each request to the running MCP app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request; raises the app's own errors for its error handlers."""
        try:
            chat_id_from_headers(Headers(scope=scope))
        except ValueError as exc:
            raise InvalidChatId(str(exc)) from None
        mcp_app: StreamableHTTP | None = scope.get("state", {}).get(MCP_STATE)
        if mcp_app is None:
            # A server that runs the app without its lifespan: the agent's fault, logged as such.
            raise RuntimeError(f"{MCP_PATH} is mounted but its lifespan is not running")
        await mcp_app(scope, receive, send)
