"""``AsyncH1Transport``: the asynchronous SDK's own HTTP/1.1 transport (see ``agentsdk._h1``).

It mirrors ``agentsdk._h1_sync`` over non-blocking sockets that anyio waits on, so it runs
on asyncio and trio alike. A request cancelled half-way closes its connection: what the
server would still send on it is nobody's answer.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio
import httpcore
import httpx

from agentsdk._h1 import (
    READ_BYTES,
    Exchange,
    IdleConnections,
    Origin,
    Outgoing,
    origin_of,
    speaks,
    timeouts,
)

__all__ = ["AsyncH1Transport"]


class AsyncH1Transport(httpx.AsyncBaseTransport):
    """Sends plain-http requests over kept-alive sockets, parsed by httptools; hands every
    other request to ``fallback``.

    Args:
        fallback: the transport for what this one does not send; closed with it.
        uds: a Unix socket to connect to instead of each request's host.
        socket_options: options of each TCP socket (e.g. ``TCP_NODELAY``).
    """

    def __init__(
        self,
        fallback: httpx.AsyncBaseTransport,
        *,
        uds: str | None = None,
        socket_options: list[tuple[int, int, int]] | None = None,
    ) -> None:
        self._fallback = fallback
        self._uds = uds
        self._options = list(socket_options or ())
        self._idle = IdleConnections(_close)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not speaks(request, _below()):
            return await self._fallback.handle_async_request(request)
        outgoing = Outgoing(request)  # refuses a header that cannot go out, before connecting
        connect, read, write = timeouts(request)
        origin = origin_of(request, self._uds)
        sock = self._idle.take(origin)
        if sock is None:
            with _deadline(connect, httpx.ConnectTimeout, request):
                sock = await self._connect(request, origin)
        exchange = Exchange(request)
        try:
            with _deadline(write, httpx.WriteTimeout, request):
                await _send(sock, request, outgoing, exchange)
            while not exchange.headers_done:
                with _deadline(read, httpx.ReadTimeout, request):
                    exchange.feed(await _receive(sock, request))
        except BaseException:
            _close(sock)
            raise
        return exchange.response(_Body(self._idle, origin, sock, exchange, read))

    async def aclose(self) -> None:
        self._idle.close()
        await self._fallback.aclose()

    async def _connect(self, request: httpx.Request, origin: Origin) -> socket.socket:
        try:
            if isinstance(origin, str):
                return await _connect_to(socket.AF_UNIX, origin, [])
            host, port = origin
            failure = OSError(f"no address for {host}")
            for family, address in await _addresses(host, port):
                try:
                    return await _connect_to(family, address, self._options)
                except OSError as exc:
                    failure = exc
            raise failure
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    """A response's body, read from its connection as it is iterated."""

    def __init__(
        self,
        idle: IdleConnections,
        origin: Origin,
        sock: socket.socket,
        exchange: Exchange,
        read_timeout: float | None,
    ) -> None:
        self._idle = idle
        self._origin = origin
        self._sock: socket.socket | None = sock
        self._exchange = exchange
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        for part in exchange.take():
            yield part
        while not exchange.complete:
            sock = self._sock
            if sock is None:
                raise httpx.StreamClosed()
            try:
                with _deadline(self._read_timeout, httpx.ReadTimeout, exchange.request):
                    exchange.feed(await _receive(sock, exchange.request))
            except BaseException:
                await self.aclose()
                raise
            for part in exchange.take():
                yield part

    async def aclose(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._idle.release(self._origin, sock, reusable=self._exchange.reusable)


async def _addresses(host: str, port: int) -> list[tuple[int, tuple[object, ...]]]:
    """Where ``host`` is: an IP address as it is, a name as the resolver says."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, address) for family, _, _, _, address in found]
    # Resolving a literal costs a trip to a worker thread per connection, which a burst of
    # a hundred calls, each on a connection of its own, paid a hundred times.
    if ip.version == 6:
        return [(socket.AF_INET6, (host, port, 0, 0))]
    return [(socket.AF_INET, (host, port))]


async def _connect_to(
    family: int, address: str | tuple[object, ...], options: list[tuple[int, int, int]]
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        for option in options:
            sock.setsockopt(*option)
        try:
            sock.connect(address)
        except BlockingIOError:
            await anyio.wait_writable(sock)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error)) from None
    except BaseException:
        _close(sock)
        raise
    return sock


@contextmanager
def _deadline(
    seconds: float | None, error: type[httpx.TimeoutException], request: httpx.Request
) -> Iterator[None]:
    """Raise ``error`` if the block takes more than ``seconds`` (``None``: no limit)."""
    try:
        with anyio.fail_after(seconds):
            yield
    except TimeoutError as exc:
        raise error(str(exc) or "timed out", request=request) from exc


async def _send(
    sock: socket.socket, request: httpx.Request, outgoing: Outgoing, exchange: Exchange
) -> None:
    """Write the request; a failed write is the ``exchange``'s to report."""
    try:
        async for part in request.stream:  # type: ignore[union-attr]
            if (data := outgoing.add(part)) is not None:
                await _send_all(sock, data)
        await _send_all(sock, outgoing.end())
    except OSError as exc:
        exchange.write_failed(httpx.WriteError(str(exc), request=request))


async def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            await anyio.wait_writable(sock)


async def _receive(sock: socket.socket, request: httpx.Request) -> bytes:
    try:
        while True:
            try:
                return sock.recv(READ_BYTES)
            except BlockingIOError:
                await anyio.wait_readable(sock)
    except OSError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc


def _close(sock: socket.socket) -> None:
    # Wakes any task still waiting on the socket before it goes (anyio asks for this).
    anyio.notify_closing(sock)
    sock.close()


def _below() -> tuple[object, ...]:
    # Looked up at each request: a test may replace them at any time.
    return (
        httpx.AsyncHTTPTransport.handle_async_request,
        httpcore.AsyncConnectionPool.handle_async_request,
    )
