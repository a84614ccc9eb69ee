"""HTTP/1.1 on the SDK's own connections: a request's bytes, and its response parsed by
httptools.

httpx sends through httpcore and h11, both pure Python. Against an agent on the loopback,
which answers a short request in a fraction of a millisecond, their bookkeeping was most of
what a call cost the client: about 0.25 ms of CPU per request, against 0.1 ms for the same
exchange parsed by httptools, the C parser the agent itself serves with. The transports of
``agentsdk._h1_sync`` and ``agentsdk._h1_async`` speak HTTP/1.1 over kept-alive sockets with
it; this module holds what the two share and does no I/O.

They take what the SDK sends: plain-http requests (TCP or a Unix socket) of a method with a
response body. Anything else (https, ``HEAD``, an upgrade, ``Expect``) goes to the httpx
transport they wrap, as does every request where httptools is not installed.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from agentsdk._coalesce import Pending

# AVAILABLE: whether httptools is installed. Where it does not build, the SDK sends through
# httpx's own transport (the suite's fallback run sends so too, by setting it False).
try:
    import httptools
except ImportError:  # pragma: no cover - where httptools does not build
    AVAILABLE = False
else:
    AVAILABLE = True

__all__ = [
    "AVAILABLE",
    "MAX_IDLE",
    "READ_BYTES",
    "Exchange",
    "IdleConnections",
    "Origin",
    "Outgoing",
    "genuine",
    "origin_of",
    "speaks",
    "still_open",
    "timeouts",
]

MAX_IDLE = 20
"""Idle connections kept per transport, as httpx keeps by default."""

READ_BYTES = 64 * 1024
"""Bytes asked of the socket per read."""

_END_OF_CHUNKS = b"0\r\n\r\n"
# Ends a chunked request body.

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Methods whose response carries a body when its headers say so. A response to HEAD
# announces a length it does not send, which a parser not told of the request would wait for.

_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# A header name: one token (RFC 9110).
_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
# A header value: no control character but the tab.

Origin = tuple[str, int] | str
"""Where a connection goes: host and port over TCP, or a Unix socket's path."""


def speaks(request: httpx.Request, below: tuple[object, ...]) -> bool:
    """Whether these transports send ``request`` themselves (else the wrapped one does).

    ``below`` are the functions of httpx and httpcore the wrapped transport would send with.
    When one of them is not the library's own, a test has replaced it (respx does, to answer
    from its routes), and requests go where that test expects them.
    """
    if not AVAILABLE or request.url.scheme != "http" or request.method not in _METHODS:
        return False
    headers = request.headers
    if "upgrade" in headers or "expect" in headers:
        return False
    return genuine(*below)


def genuine(*functions: object) -> bool:
    """Whether each of ``functions`` is httpx's or httpcore's own, not a test's stand-in."""
    return all(getattr(f, "__module__", "").startswith(("httpx.", "httpcore.")) for f in functions)


def origin_of(request: httpx.Request, uds: str | None) -> Origin:
    """The connection ``request`` goes over: the Unix socket if one is set, else its host."""
    if uds is not None:
        return uds
    return (request.url.host, request.url.port or 80)


def timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    """The request's connect, read and write timeouts (httpx's ``timeout`` extension)."""
    given: dict[str, Any] = request.extensions.get("timeout", {})
    return given.get("connect"), given.get("read"), given.get("write")


def still_open(sock: socket.socket) -> bool:
    """Whether an idle connection can carry a request: nothing to read, not even its end.

    Leaves the socket non-blocking; each use sets its own timeout.
    """
    try:
        sock.settimeout(0)
        sock.recv(1, socket.MSG_PEEK)  # its end, or bytes no request asked for
    except BlockingIOError:
        return True
    except OSError:
        pass
    return False


class IdleConnections:
    """Kept-alive connections waiting for their next request, the most recently used first.

    A synchronous transport's threads share it: a lock guards the list, and is never held
    across I/O. ``close`` is how the transport closes a socket.
    """

    def __init__(self, close: Callable[[socket.socket], None]) -> None:
        self._close = close
        self._idle: list[tuple[Origin, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False

    def __iter__(self) -> Iterator[tuple[Origin, socket.socket]]:
        with self._lock:
            return iter(list(self._idle))

    def take(self, origin: Origin) -> socket.socket | None:
        """A connection to ``origin`` that is still open, if one waits; the ones found closed
        meanwhile (the server's idle timeout) are closed here."""
        while True:
            with self._lock:
                found = [i for i, (o, _) in enumerate(self._idle) if o == origin]
                if not found:
                    return None
                _, sock = self._idle.pop(found[-1])
            if still_open(sock):
                return sock
            self._close(sock)

    def release(self, origin: Origin, sock: socket.socket, *, reusable: bool) -> None:
        """Keep ``sock`` for the next request to ``origin`` if it is ``reusable`` and there is
        room; else close it."""
        with self._lock:
            if reusable and not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append((origin, sock))
                return
        self._close(sock)

    def close(self) -> None:
        """Close every idle connection, and each one given back from now on."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, sock in idle:
            self._close(sock)


class Outgoing:
    """A request's bytes as they go out: its head, then its body (in chunks when httpx framed
    it so: a body of unknown length), gathered into writes of at least ``FLUSH_BYTES``, the
    last one whatever is left.

    Raises:
        httpx.LocalProtocolError: a header's name or value cannot be sent as it is (a line
            break in a value would end it and begin another header), as h11 refuses it.
    """

    __slots__ = ("_chunked", "_pending")

    def __init__(self, request: httpx.Request) -> None:
        lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        for name, value in request.headers.raw:  # httpx has set Host and the body's framing
            if not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
                raise httpx.LocalProtocolError(
                    f"Illegal header {name!r}: {value!r}", request=request
                )
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"\r\n")
        self._chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
        self._pending = Pending()
        self._pending.add(b"".join(lines))

    def add(self, part: bytes) -> bytes | None:
        """Take the next part of the body; the bytes to write now, when enough wait."""
        if self._chunked:
            part = b"%x\r\n%s\r\n" % (len(part), part) if part else b""
        return self._pending.take() if self._pending.add(part) else None

    def end(self) -> bytes:
        """The body has ended: the last bytes to write."""
        if self._chunked:
            self._pending.add(_END_OF_CHUNKS)
        return self._pending.take()


class Exchange:
    """One response, as httptools parses the bytes it is fed.

    The parser calls the ``on_*`` methods while it is fed; the body parts gather until
    :meth:`take` hands them out.
    """

    __slots__ = (
        "_body",
        "_keep_alive",
        "_parser",
        "_reason",
        "_status",
        "_trailing",
        "_version",
        "_write_failure",
        "complete",
        "headers",
        "headers_done",
        "request",
    )

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        """The request this is the response to."""
        self._parser = httptools.HttpResponseParser(self)
        self._reason = b""
        self._body: list[bytes] = []
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self._keep_alive = False
        self._trailing = False
        self._version = b"HTTP/1.1"
        self._status = 0
        self._write_failure: httpx.WriteError | None = None

    def write_failed(self, error: httpx.WriteError) -> None:
        """Sending the request failed. A server may answer and close before it reads the whole
        body (a 413): the answer is read all the same, and ``error`` is raised only if none
        comes."""
        self._write_failure = error

    # -- httptools' callbacks ----------------------------------------------------------------

    # Bytes after the response are no part of it, and make the connection one to send
    # nothing else over: what they begin is ignored (see also feed).

    def on_message_begin(self) -> None:
        self._trailing = self.complete

    def on_status(self, reason: bytes) -> None:
        if not self._trailing:
            self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._trailing:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._trailing:
            return
        self.headers_done = True
        # Asked here: once the message is complete, the parser has begun the next one.
        self._keep_alive = self._parser.should_keep_alive()
        self._version = b"HTTP/" + self._parser.get_http_version().encode("ascii")
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if not self._trailing:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._trailing:
            return
        if 100 <= self._parser.get_status_code() < 200:
            # An informational answer (e.g. 103 Early Hints): the response comes after it.
            self.headers, self._reason, self.headers_done = [], b"", False
            return
        self.complete = True

    # -- feeding -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse what the socket gave; ``b""`` is its end.

        Raises:
            httpx.RemoteProtocolError: the bytes are not an HTTP/1.1 response, or the server
                closed the connection before the response was complete.
            httpx.WriteError: that, before any answer, after the request failed to go out.
        """
        if not data:
            self._ended()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.complete:
                self._trailing = True  # garbage after the response: the response stands
                return
            raise self._protocol_error(f"Invalid HTTP response: {exc}") from exc

    def _ended(self) -> None:
        if not self.headers_done:
            raise self._protocol_error("Server disconnected without sending a response.")
        if self.complete:
            return
        framing = (b"content-length", b"transfer-encoding")
        if not any(name.lower() in framing for name, _ in self.headers):
            self.complete = True  # a body that the connection's end delimits
            return
        raise self._protocol_error("Peer closed connection without sending complete message body.")

    def _protocol_error(self, message: str) -> httpx.TransportError:
        if self._write_failure is not None and not self.headers_done:
            return self._write_failure
        return httpx.RemoteProtocolError(message, request=self.request)

    def take(self) -> list[bytes]:
        """The body parts parsed since the last call."""
        parts, self._body = self._body, []
        return parts

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request: the response is complete and
        neither side asked to close."""
        return self.complete and self._keep_alive and not self._trailing

    def response(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> httpx.Response:
        """The response, its body read from ``stream``, once the headers are parsed."""
        return httpx.Response(
            self._status,
            headers=self.headers,
            stream=stream,
            request=self.request,
            extensions={"http_version": self._version, "reason_phrase": self._reason},
        )
