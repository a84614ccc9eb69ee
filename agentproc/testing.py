"""Drive the agent's app in this process, with no socket: for your tests, and ours.

``create_app(settings)`` keeps its process manager in the app's lifespan, which
``httpx.ASGITransport`` never runs. These helpers run it as a server would (startup before
the first request, shutdown at the end, which stops every process the app started) and hand
you an ``httpx`` client, or a transport for ``agentsdk.AgentConn`` / ``AsyncAgentConn``::

    from agentproc.app import create_app
    from agentproc.settings import Settings
    from agentproc.testing import BASE_URL, app_client
    from agentsdk import AgentConn

    with (
        app_client(create_app(Settings())) as http,
        AgentConn(BASE_URL, http_client=http) as agent,
    ):
        started = agent.start_process(command="echo hi")
        print(agent.process_output(started.id, wait=True).output)

Async code uses :func:`async_app_client` (or :func:`lifespan_running` with an
``httpx.ASGITransport`` of its own); sync code that needs several clients of one app uses
:class:`BlockingApp`. Requests still start real processes.

Each request is answered in full before the client sees it: there is no streaming and no
client disconnect, and httpx's timeouts do not apply. Serve the app with uvicorn to test
those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BASE_URL",
    "BlockingApp",
    "PortalTransport",
    "app_client",
    "async_app_client",
    "lifespan_running",
]

BASE_URL = "http://localhost"
"""The address in-process clients use. The agent accepts ``localhost`` in ``Host``, and a
:class:`agentsdk.AgentConn` given one of these clients or transports needs this base URL."""


@asynccontextmanager
async def lifespan_running(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Run ``app``'s lifespan around the block; yield the app to send requests to.

    Startup completes before the block runs and shutdown when it ends, whether it ends
    normally or with an error. The yielded app hands each request a copy of the lifespan's
    state, as uvicorn does; pass it to ``httpx.ASGITransport(app=...)``::

        async with lifespan_running(create_app(settings)) as running:
            transport = httpx.ASGITransport(app=running)
            async with AsyncAgentConn(BASE_URL, transport=transport) as agent:
                ...

    Args:
        app: any ASGI app that speaks the lifespan protocol (every Starlette or FastAPI app).

    Raises:
        RuntimeError: the app's startup or shutdown failed; its own exception is the cause.
        ExceptionGroup: the block raised and the shutdown failed after it: both, in order.
    """
    state: dict[str, Any] = {}
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
    to_app, app_inbox = anyio.create_memory_object_stream[Message](1)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](1)
    crashed: list[Exception] = []

    async def run_lifespan() -> None:
        # Closing the outbox tells a handshake waiting for a reply that none will come.
        async with app_inbox, app_outbox:
            try:
                await app(scope, app_inbox.receive, app_outbox.send)
            except Exception as exc:
                crashed.append(exc)  # reported by the handshake, as the cause of its error

    async def handshake(phase: str) -> RuntimeError | None:
        try:
            await to_app.send({"type": f"lifespan.{phase}"})
            reply = await from_app.receive()
        except (anyio.BrokenResourceError, anyio.EndOfStream):
            reply = {"type": "none"}
        if reply["type"] == f"lifespan.{phase}.complete":
            return None
        # Nothing more will be sent, so even an app that waits for another message ends its
        # lifespan now; once it has, its exception (if any) is known.
        to_app.close()
        async for _ in from_app:
            pass
        cause = crashed[0] if crashed else None
        # Starlette's message is a whole traceback, which the cause carries already; its
        # last line names the exception.
        lines = str(reply.get("message") or "").strip().splitlines()
        reason = lines[-1] if lines else repr(cause) if cause is not None else "no reason given"
        error = RuntimeError(f"the app's lifespan {phase} failed: {reason}")
        error.__cause__ = cause
        return error

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = {**scope, "state": state.copy()}
        await app(scope, receive, send)

    # Errors are raised only once the task group has ended, so that the block's own
    # exception reaches the caller as it was raised, not wrapped in an exception group.
    failure: Exception | None = None
    shutdown_error: RuntimeError | None = None
    async with to_app, from_app, anyio.create_task_group() as tasks:
        tasks.start_soon(run_lifespan)
        startup_error = await handshake("startup")
        if startup_error is None:
            try:
                yield with_state
            except Exception as exc:
                failure = exc
            shutdown_error = await handshake("shutdown")
    if startup_error is not None:
        raise startup_error
    if failure is not None and shutdown_error is not None:
        raise ExceptionGroup("the block failed, then the app's shutdown", [failure, shutdown_error])
    if failure is not None:
        raise failure
    if shutdown_error is not None:
        raise shutdown_error


def _headers(token: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    auth = {} if token is None else {"Authorization": f"Bearer {token}"}
    return {**auth, **(headers or {})}


@asynccontextmanager
async def async_app_client(
    app: ASGIApp,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    raise_app_exceptions: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` of ``app`` at :data:`BASE_URL`, its lifespan running.

    The client is closed and the app shut down when the block ends.

    Args:
        app: the ASGI app, e.g. ``agentproc.app.create_app(settings)``.
        token: sent as ``Authorization: Bearer <token>`` on every request.
        headers: more headers for every request, e.g. ``{"Coder-Chat-Id": chat_id}``.
        raise_app_exceptions: raise an exception the app let escape in the caller (it
            has already answered 500); with ``False`` the caller gets only the 500.

    Raises:
        RuntimeError: the app's startup or shutdown failed (see :func:`lifespan_running`).
    """
    async with (
        lifespan_running(app) as running,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=running, raise_app_exceptions=raise_app_exceptions),
            base_url=BASE_URL,
            headers=_headers(token, headers),
        ) as client,
    ):
        yield client


class PortalTransport(httpx.BaseTransport):
    """A sync ``httpx`` transport to an ASGI app whose event loop is a blocking portal's.

    Each request is read in full, then handed to ``httpx.ASGITransport`` on the portal's
    loop, where the app and its processes live. :meth:`BlockingApp.transport` builds one;
    build your own to share a portal with async code that drives the same app. (Starlette's
    ``TestClient`` works the same way, but is not meant to be handed to other code as a
    transport.)

    Args:
        portal: the portal whose loop runs ``app``'s lifespan.
        app: the app, as :func:`lifespan_running` yields it on that loop.
        raise_app_exceptions: as for :func:`async_app_client`.
    """

    def __init__(
        self, portal: BlockingPortal, app: ASGIApp, *, raise_app_exceptions: bool = True
    ) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the app on the portal's loop; return the whole response."""
        request.read()  # a sync body cannot be iterated on the loop's thread
        return self._portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=content,
            extensions=response.extensions,
        )


class BlockingApp:
    """An ASGI app with its lifespan running on an event loop in a thread of its own.

    For sync code: every client and transport it hands out sends to the same running app,
    from any thread. Use it as a context manager; the app is shut down when the block ends
    and cannot be started again::

        with BlockingApp(create_app(settings)) as running:
            with running.client(token=token) as http:
                http.get("/api/v0/processes/list")
            with AgentConn(BASE_URL, token=token, transport=running.transport()) as agent:
                agent.list_processes()

    Args:
        app: any ASGI app that speaks the lifespan protocol.

    Raises:
        RuntimeError: on entering or leaving, the app's startup or shutdown failed (see
            :func:`lifespan_running`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._running: ASGIApp | None = None
        self._used = False

    def __enter__(self) -> Self:
        if self._used:
            raise RuntimeError("a BlockingApp runs its app once; make another")
        self._used = True
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal())
            self._running = stack.enter_context(
                portal.wrap_async_context_manager(lifespan_running(self._app))
            )
            self._portal = portal
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        self._portal = self._running = None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)

    def transport(self, *, raise_app_exceptions: bool = True) -> httpx.BaseTransport:
        """A sync ``httpx`` transport to the running app, e.g. for ``AgentConn(transport=)``.

        Args:
            raise_app_exceptions: as for :func:`async_app_client`.

        Raises:
            RuntimeError: the app is not running (outside the ``with`` block).
        """
        if self._portal is None or self._running is None:
            raise RuntimeError("the app is not running: use BlockingApp in a with block")
        return PortalTransport(
            self._portal, self._running, raise_app_exceptions=raise_app_exceptions
        )

    def client(
        self,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        raise_app_exceptions: bool = True,
    ) -> httpx.Client:
        """An ``httpx.Client`` of the running app at :data:`BASE_URL`; the caller closes it.

        Args:
            token: sent as ``Authorization: Bearer <token>`` on every request.
            headers: more headers for every request.
            raise_app_exceptions: as for :func:`async_app_client`.

        Raises:
            RuntimeError: the app is not running (outside the ``with`` block).
        """
        return httpx.Client(
            transport=self.transport(raise_app_exceptions=raise_app_exceptions),
            base_url=BASE_URL,
            headers=_headers(token, headers),
        )


@contextmanager
def app_client(
    app: ASGIApp,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    raise_app_exceptions: bool = True,
) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` of ``app`` at :data:`BASE_URL`, its lifespan running.

    The sync twin of :func:`async_app_client`: the app runs on an event loop in another
    thread (see :class:`BlockingApp`) until the block ends.

    Args:
        app: the ASGI app, e.g. ``agentproc.app.create_app(settings)``.
        token: sent as ``Authorization: Bearer <token>`` on every request.
        headers: more headers for every request.
        raise_app_exceptions: as for :func:`async_app_client`.

    Raises:
        RuntimeError: the app's startup or shutdown failed (see :func:`lifespan_running`).
    """
    with (
        BlockingApp(app) as running,
        running.client(
            token=token, headers=headers, raise_app_exceptions=raise_app_exceptions
        ) as client,
    ):
        yield client
