"""Serve an ASGI app in-process with its lifespan running, as a server would.

``httpx.ASGITransport`` sends requests straight to an app but never runs its lifespan, and
the agent's lifespan owns the process manager. ``lifespan_running`` speaks the ASGI
lifespan protocol to the app (startup, then shutdown on exit) and yields an app that hands
each request a copy of the lifespan state, which is what uvicorn does.

``PortalTransport`` lets a *sync* ``httpx.Client`` reach that app: each request is handed
to an ``ASGITransport`` on a blocking portal's event loop. (Starlette's ``TestClient`` does
the same, but it is moving to another HTTP library, so it cannot be injected into the SDK.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PortalTransport", "lifespan_running"]


@asynccontextmanager
async def lifespan_running(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Start ``app``'s lifespan, yield an app whose requests see its state, then shut it down.

    Raises:
        RuntimeError: The app reported a failed startup or shutdown.
    """
    state: dict[str, Any] = {}
    to_app, app_inbox = anyio.create_memory_object_stream[Message](1)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](1)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = {**scope, "state": state.copy()}
        await app(scope, receive, send)

    async def run_lifespan() -> None:
        await app(scope, app_inbox.receive, app_outbox.send)

    async with to_app, app_inbox, app_outbox, from_app, anyio.create_task_group() as tasks:
        tasks.start_soon(run_lifespan)
        await to_app.send({"type": "lifespan.startup"})
        _expect(await from_app.receive(), "lifespan.startup.complete")
        try:
            yield with_state
        finally:
            await to_app.send({"type": "lifespan.shutdown"})
            _expect(await from_app.receive(), "lifespan.shutdown.complete")


def _expect(message: Message, wanted: str) -> None:
    if message["type"] != wanted:
        raise RuntimeError(f"expected {wanted}, got {message['type']}: {message.get('message')}")


class PortalTransport(httpx.BaseTransport):
    """A sync transport that runs each request through ``httpx.ASGITransport`` on a portal."""

    def __init__(self, portal: BlockingPortal, app: ASGIApp) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the app on the portal's loop and return the read response."""
        request.read()
        return self._portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)
