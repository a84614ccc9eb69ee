"""``SyncSender`` and ``AsyncSender``: the transport half every public client shares.

A public client is one of these senders, which owns the ``httpx`` client, sends, sleeps
between retries and closes, plus its API's public methods. Each method describes its call
with its API's call functions (``agentsdk._agent``, ``agentsdk._controlplane``) and hands
it to ``_request``; a stream hands its plan (``agentsdk._stream``) to ``_stream_events``,
which reads the events and reconnects where the plan says. Keeping the I/O here, once per
flavour, lets ``AgentConn`` and ``ControlPlaneClient`` (and their async twins) hold nothing
but their public methods.

A sender connects over TCP by default, through a Unix socket with ``uds=``, or through
the ``transport`` or ``http_client`` it is given; only one of the last three may be set.
A transport it builds for a plain-http agent loads no certificate authorities (see
``tls_verify``), and one over TCP sends each request as soon as it is written
(``TCP_NODELAY``, see ``socket_options``) and in one write where it can (see
``agentsdk._coalesce``).

Each public class has exactly one base, its sender; what an API changes (its calls, the
header its token goes in) is data the class passes or declares, never an override whose
effect would depend on the order of base classes.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Generator, Mapping
from types import TracebackType
from typing import Self, TypeVar

import anyio
import httpx

from agentsdk import _h1 as h1
from agentsdk._base import DEFAULT_TIMEOUT, BaseClient
from agentsdk._call import Call
from agentsdk._coalesce import coalesce_writes
from agentsdk._h1_async import AsyncH1Transport
from agentsdk._h1_sync import H1Transport
from agentsdk._retry import DEFAULT_MAX_RETRIES, Retry
from agentsdk._stream import OutputStreamPlan
from agentsdk.types import StreamEvent

__all__ = [
    "NO_DELAY",
    "AsyncSender",
    "SyncSender",
    "socket_options",
    "tls_verify",
    "unix_socket_path",
]

NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
"""Sends each write at once. httpx writes a request's head and body separately, and with
Nagle's algorithm the body waited for the agent to acknowledge the head: half a millisecond
of every POST."""

T = TypeVar("T")


def unix_socket_path(
    uds: str | os.PathLike[str] | None,
    *,
    transport: object,
    http_client: object,
    client_type: type[httpx.Client] | type[httpx.AsyncClient],
) -> str | None:
    """Check how a sender is told to connect, before any I/O; the Unix socket to use, if any.

    Raises:
        ValueError: both ``http_client`` and ``transport``; ``uds`` not a non-empty path, or
            given with a transport or client (those decide the connection themselves); an
            ``http_client`` that is not a ``client_type``.
    """
    if http_client is not None and transport is not None:
        raise ValueError("Pass http_client or transport, not both")
    path: str | None = None
    if uds is not None:
        if transport is not None or http_client is not None:
            raise ValueError("Pass uds, transport or http_client, not more than one")
        path = os.fspath(uds) if isinstance(uds, str | os.PathLike) else None
        if not isinstance(path, str) or not path:
            raise ValueError(f"Expected uds to be a non-empty socket path but received {uds!r}")
    if http_client is not None and not isinstance(http_client, client_type):
        raise ValueError(
            f"Expected an {client_type.__module__}.{client_type.__name__} "
            f"but received {type(http_client).__name__}"
        )
    return path


def tls_verify(base_url: httpx.URL) -> ssl.SSLContext | bool:
    """How a transport built for ``base_url`` verifies TLS: with the CA bundle for https; for
    plain http, with a context that trusts no certificate authority.

    Loading the bundle costs tens of milliseconds of CPU per client, which a plain-http client
    never uses; should such a client meet TLS after all, the empty context trusts nothing,
    so it fails closed.
    """
    if base_url.scheme == "https":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def socket_options(socket_path: str | None) -> list[tuple[int, int, int]]:
    """The options of the sockets a transport built here opens: ``NO_DELAY`` over TCP,
    nothing on a Unix socket (which has no Nagle's algorithm, nor the option)."""
    return [] if socket_path is not None else [NO_DELAY]


class SyncSender(BaseClient):
    """Sends an API's calls over one pooled ``httpx.Client``.

    The constructor's arguments are documented on each public class (e.g. ``AgentConn``).
    An injected ``http_client`` stays the caller's; one built from ``uds``, ``transport``
    (or the default) is owned and closed here.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        uds: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            base_url, token=token, timeout=timeout, max_retries=max_retries, headers=headers
        )
        socket_path = unix_socket_path(
            uds, transport=transport, http_client=http_client, client_type=httpx.Client
        )
        # The transport built here, which calls go to directly (see _send).
        self._own: H1Transport | None = None
        if http_client is None and transport is None:
            options = socket_options(socket_path)
            transport = coalesce_writes(
                httpx.HTTPTransport(
                    uds=socket_path, verify=tls_verify(self._base_url), socket_options=options
                )
            )
            if h1.AVAILABLE:
                transport = self._own = H1Transport(
                    transport, uds=socket_path, socket_options=options
                )
        self._releases_pool = http_client is None
        self._client = (
            httpx.Client(transport=transport, timeout=self.timeout)
            if http_client is None
            else http_client
        )
        if self._own is not None:
            self._client_defaults = self._client.headers

    def close(self) -> None:
        """Release the connection pool; safe to call twice.

        An injected client stays open, and so does the pool a ``with_options`` copy borrows.
        """
        if self._mark_closed():
            self._client.close()

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, call: Call[T]) -> T:
        self._check_open()
        retries_taken = 0
        while True:
            request = self._build_request(self._client, call)
            outcome: httpx.Response | httpx.RequestError
            try:
                outcome = self._send(request)
            except httpx.RequestError as exc:
                outcome = exc
            step = self._settle(call, request, outcome, retries_taken)
            if not isinstance(step, Retry):
                return step
            time.sleep(step.delay)
            retries_taken += 1

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its response.

        Through the transport built here, when there is one: what ``httpx.Client.send`` adds
        around it (auth, redirects, event hooks) is nothing such a client is given, and cost
        a tenth of a millisecond per call. Its cookies are kept as the client keeps them.
        """
        own = self._own
        if own is None or _client_replaced(httpx.Client):
            return self._client.send(request)
        response = own.handle_request(request)
        response.request = request  # as the client sets it (a fallback's answer has none)
        try:
            response.read()
        except BaseException:
            response.close()
            raise
        if "set-cookie" in response.headers:
            self._client.cookies.extract_cookies(response)
        return response

    def _stream_events(self, plan: OutputStreamPlan) -> Generator[StreamEvent, None, None]:
        # The retry budget counts failures in a row: any event received restores it.
        retries_taken = 0
        while not plan.finished:
            self._check_open()
            call = plan.connect()
            request = self._build_request(self._client, call)
            outcome: httpx.Response | httpx.RequestError
            try:
                response = self._client.send(request, stream=True)
            except httpx.RequestError as exc:
                outcome = exc
            else:
                try:
                    if response.is_success:
                        call.parse(response)
                        plan.opened(request)
                        for chunk in response.iter_bytes():
                            for event in plan.feed(chunk):
                                retries_taken = 0
                                yield event
                            if plan.finished:
                                return  # the exit event ends the stream, whatever follows
                        outcome = plan.ended_early(request)
                    else:
                        response.read()
                        outcome = response
                except httpx.RequestError as exc:
                    outcome = exc
                finally:
                    response.close()
            step = self._settle(call, request, outcome, retries_taken)
            # A success never reaches _settle, so what comes back is always a retry.
            if isinstance(step, Retry):
                time.sleep(step.delay)
                retries_taken += 1


class AsyncSender(BaseClient):
    """Sends an API's calls over one pooled ``httpx.AsyncClient``.

    The constructor's arguments are documented on each public class (e.g. ``AsyncAgentConn``).
    An injected ``http_client`` stays the caller's; one built from ``uds``, ``transport``
    (or the default) is owned and closed here.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        uds: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            base_url, token=token, timeout=timeout, max_retries=max_retries, headers=headers
        )
        socket_path = unix_socket_path(
            uds, transport=transport, http_client=http_client, client_type=httpx.AsyncClient
        )
        # The transport built here, which calls go to directly (see _send).
        self._own: AsyncH1Transport | None = None
        if http_client is None and transport is None:
            transport = coalesce_writes(
                httpx.AsyncHTTPTransport(uds=socket_path, verify=tls_verify(self._base_url))
            )
            if h1.AVAILABLE:
                transport = self._own = AsyncH1Transport(
                    transport, uds=socket_path, socket_options=socket_options(socket_path)
                )
        self._releases_pool = http_client is None
        self._client = (
            httpx.AsyncClient(transport=transport, timeout=self.timeout)
            if http_client is None
            else http_client
        )
        if self._own is not None:
            self._client_defaults = self._client.headers

    async def aclose(self) -> None:
        """Release the connection pool; safe to call twice.

        An injected client stays open, and so does the pool a ``with_options`` copy borrows.
        """
        if self._mark_closed():
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _request(self, call: Call[T]) -> T:
        self._check_open()
        retries_taken = 0
        while True:
            request = self._build_request(self._client, call)
            outcome: httpx.Response | httpx.RequestError
            try:
                outcome = await self._send(request)
            except httpx.RequestError as exc:
                outcome = exc
            step = self._settle(call, request, outcome, retries_taken)
            if not isinstance(step, Retry):
                return step
            await anyio.sleep(step.delay)
            retries_taken += 1

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its response; as ``SyncSender._send`` does."""
        own = self._own
        if own is None or _client_replaced(httpx.AsyncClient):
            return await self._client.send(request)
        response = await own.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        if "set-cookie" in response.headers:
            self._client.cookies.extract_cookies(response)
        return response

    async def _stream_events(self, plan: OutputStreamPlan) -> AsyncGenerator[StreamEvent, None]:
        # The retry budget counts failures in a row: any event received restores it.
        retries_taken = 0
        while not plan.finished:
            self._check_open()
            call = plan.connect()
            request = self._build_request(self._client, call)
            outcome: httpx.Response | httpx.RequestError
            try:
                response = await self._client.send(request, stream=True)
            except httpx.RequestError as exc:
                outcome = exc
            else:
                try:
                    if response.is_success:
                        call.parse(response)
                        plan.opened(request)
                        async for chunk in response.aiter_bytes():
                            for event in plan.feed(chunk):
                                retries_taken = 0
                                yield event
                            if plan.finished:
                                return  # the exit event ends the stream, whatever follows
                        outcome = plan.ended_early(request)
                    else:
                        await response.aread()
                        outcome = response
                except httpx.RequestError as exc:
                    outcome = exc
                finally:
                    await response.aclose()
            step = self._settle(call, request, outcome, retries_taken)
            # A success never reaches _settle, so what comes back is always a retry.
            if isinstance(step, Retry):
                await anyio.sleep(step.delay)
                retries_taken += 1


def _client_replaced(client_type: type[httpx.Client | httpx.AsyncClient]) -> bool:
    """Whether a test replaced how ``client_type`` picks a request's transport, as respx does
    to answer from its routes (``respx.mock(using="httpx")``): calls then go through the
    client, to that test. (A later httpx without the method leaves nothing to check.)"""
    picker = getattr(client_type, "_transport_for_url", None)
    return picker is not None and not h1.genuine(picker)
