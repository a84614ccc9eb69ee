"""One write per request: network streams that send a request's head and body together.

httpcore writes a request's head and its body in two ``send`` calls. On the loopback each
send runs the receiver's side of TCP and wakes the agent, which parses the head, starts the
route, and sleeps again until the body comes. These streams keep what httpcore writes until
it reads (the request is complete by then) or until :data:`FLUSH_BYTES` are waiting, and send
it in one call: one wake-up of the agent per request instead of two.

A failed send is what httpcore already tolerates while writing (the agent may have answered
and closed early, e.g. a 413): a ``WriteError`` from the send made at the read is dropped, as
httpcore drops one from its own writes, and the read then finds the answer, or the error.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = ["FLUSH_BYTES", "Pending", "coalesce_writes"]

T = TypeVar("T", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

FLUSH_BYTES = 64 * 1024
"""Writes kept back until this many bytes wait; a larger body goes out as it comes."""


class Pending:
    """The bytes written and not yet sent."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> bool:
        """Keep ``data``; whether enough waits to send now."""
        self.parts.append(data)
        self.size += len(data)
        return self.size >= FLUSH_BYTES

    def take(self) -> bytes:
        data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        self.parts = []
        self.size = 0
        return data


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._pending = Pending()

    def _flush(self, timeout: float | None) -> None:
        if self._pending.size:
            self._inner.write(self._pending.take(), timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # As httpcore does on a failed write: the answer may be there to read all the same.
        with contextlib.suppress(httpcore.WriteError):
            self._flush(timeout)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer and self._pending.add(buffer):
            self._flush(timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._flush(timeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._pending = Pending()

    async def _flush(self, timeout: float | None) -> None:
        if self._pending.size:
            await self._inner.write(self._pending.take(), timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # As httpcore does on a failed write: the answer may be there to read all the same.
        with contextlib.suppress(httpcore.WriteError):
            await self._flush(timeout)
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer and self._pending.add(buffer):
            await self._flush(timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush(timeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def coalesce_writes(transport: T) -> T:
    """``transport``, its connections sending each request in one write where they can.

    A transport whose pool is not httpcore's plain connection pool (a proxy's), or an httpx
    whose insides differ, is left as is.
    """
    # httpx builds its pool without a backend hook, so its private attributes are the way
    # in; a version without them keeps two writes per request, and works the same.
    pool: Any = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        return transport
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = _Backend(backend)
    elif isinstance(pool, httpcore.AsyncConnectionPool):
        pool._network_backend = _AsyncBackend(backend)
    return transport
