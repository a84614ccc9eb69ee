"""``H1Transport``: the synchronous SDK's own HTTP/1.1 transport (see ``agentsdk._h1``).

Each request takes a kept-alive connection of its origin, or opens one; its head and body go
out in one write, and the connection goes back to the pool once the response has been read
to its end (a response closed early closes its connection). An idle connection the server
has closed meanwhile is noticed before it is used, and left. Threads may share the
transport: a connection serves one request at a time.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

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

__all__ = ["H1Transport"]


class H1Transport(httpx.BaseTransport):
    """Sends plain-http requests over kept-alive sockets, parsed by httptools; hands every
    other request to ``fallback``.

    Args:
        fallback: the transport for what this one does not send; closed with it.
        uds: a Unix socket to connect to instead of each request's host.
        socket_options: options of each TCP socket (e.g. ``TCP_NODELAY``).
    """

    def __init__(
        self,
        fallback: httpx.BaseTransport,
        *,
        uds: str | None = None,
        socket_options: list[tuple[int, int, int]] | None = None,
    ) -> None:
        self._fallback = fallback
        self._uds = uds
        self._options = list(socket_options or ())
        self._idle = IdleConnections(socket.socket.close)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not speaks(request, _below()):
            return self._fallback.handle_request(request)
        outgoing = Outgoing(request)  # refuses a header that cannot go out, before connecting
        connect, read, write = timeouts(request)
        origin = origin_of(request, self._uds)
        sock = self._idle.take(origin) or self._connect(request, origin, connect)
        exchange = Exchange(request)
        try:
            _send(sock, request, outgoing, exchange, write)
            while not exchange.headers_done:
                exchange.feed(_receive(sock, request, read))
        except BaseException:
            sock.close()
            raise
        return exchange.response(_Body(self._idle, origin, sock, exchange, read))

    def close(self) -> None:
        self._idle.close()
        self._fallback.close()

    def _connect(
        self, request: httpx.Request, origin: Origin, timeout: float | None
    ) -> socket.socket:
        try:
            if isinstance(origin, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(timeout)
                    sock.connect(origin)
                except BaseException:
                    sock.close()
                    raise
                return sock
            sock = socket.create_connection(origin, timeout=timeout)
            for option in self._options:
                sock.setsockopt(*option)
            return sock
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc


class _Body(httpx.SyncByteStream):
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

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        yield from exchange.take()
        while not exchange.complete:
            sock = self._sock
            if sock is None:
                raise httpx.StreamClosed()
            try:
                exchange.feed(_receive(sock, exchange.request, self._read_timeout))
            except BaseException:
                self.close()
                raise
            yield from exchange.take()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._idle.release(self._origin, sock, reusable=self._exchange.reusable)


def _send(
    sock: socket.socket,
    request: httpx.Request,
    outgoing: Outgoing,
    exchange: Exchange,
    timeout: float | None,
) -> None:
    """Write the request; a failed write is the ``exchange``'s to report (a timeout raises)."""
    try:
        sock.settimeout(timeout)
        for part in request.stream:  # type: ignore[union-attr]
            if (data := outgoing.add(part)) is not None:
                sock.sendall(data)
        sock.sendall(outgoing.end())
    except TimeoutError as exc:
        raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
    except OSError as exc:
        exchange.write_failed(httpx.WriteError(str(exc), request=request))


def _receive(sock: socket.socket, request: httpx.Request, timeout: float | None) -> bytes:
    try:
        sock.settimeout(timeout)
        return sock.recv(READ_BYTES)
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
    except OSError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc


def _below() -> tuple[object, ...]:
    # Looked up at each request: a test may replace them at any time.
    return (httpx.HTTPTransport.handle_request, httpcore.ConnectionPool.handle_request)
