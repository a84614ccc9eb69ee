"""Bearer-token authentication of the ``/api/`` paths and of ``/mcp``."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from agentproc.errors import AgentError, Unauthorized

__all__ = ["MCP_PATH", "PROTECTED_PREFIX", "BearerAuthMiddleware", "check_bearer", "is_protected"]

PROTECTED_PREFIX = "/api/"
"""Everything under it needs the token, matched route or not, so an unauthenticated caller
learns nothing, not even which paths exist. Liveness and the docs stay open."""

MCP_PATH = "/mcp"
"""Where ``agentproc serve --mcp`` serves MCP; it and everything under it need the token too,
served or not, so the token is checked before any redirect (``/mcp/`` to ``/mcp``)."""


def is_protected(path: str) -> bool:
    """Whether a request to ``path`` needs the token."""
    return path.startswith(PROTECTED_PREFIX) or path == MCP_PATH or path.startswith(MCP_PATH + "/")


Rejecter = Callable[[AgentError], ASGIApp]
"""Turns an error into the response that answers the request."""


def check_bearer(expected: str | None, authorization: str | None) -> None:
    """Accept ``authorization`` if it is ``Bearer <expected>``; no token configured accepts all.

    The comparison takes the same time wherever the token differs.

    Raises:
        Unauthorized: the header is missing, is not a bearer token, or carries another token.
    """
    if expected is None:
        return
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    if not secrets.compare_digest(credentials.strip().encode(), expected.encode()):
        raise Unauthorized("Invalid bearer token.")


class BearerAuthMiddleware:
    """Answer 401 for any request under ``/api/`` or ``/mcp`` without the token, before routing.

    Args:
        app: the application to protect.
        token: the expected token; ``None`` leaves the API open.
        reject: renders the ``Unauthorized`` error as a response (the app's error shape).
    """

    def __init__(self, app: ASGIApp, *, token: str | None, reject: Rejecter) -> None:
        self._app = app
        self._token = token
        self._reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_protected(scope["path"]):
            try:
                check_bearer(self._token, Headers(scope=scope).get("authorization"))
            except Unauthorized as exc:
                await self._reject(exc)(scope, receive, send)
                return
        await self._app(scope, receive, send)
