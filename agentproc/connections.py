"""Connections: a deadline for request headers, a cap on open connections, and the open-file
limit behind both; and the Unix socket the agent can listen on instead of TCP.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``), and its
``limit_concurrency`` answers 503 only to a request that arrives: a connection that sends
nothing, or trickles its headers a byte at a time, holds a descriptor for ever. Enough of them
exhaust the open-file limit, and then no client is served at all. :class:`ConnectionGuard`
closes such connections and keeps their number below the limit, without leaving a new
connection hanging.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from agentproc.app import RETRY_AFTER_SECONDS
from agentproc.coalesce import CoalescingTransport
from agentsdk.types import ErrorResponse

__all__ = [
    "CONNECTION_SHARE",
    "MAX_HEADER_BYTES",
    "MIN_BACKLOG",
    "PARSER_HEADER_BYTES",
    "SOCKET_MODE",
    "UVICORN_BACKLOG",
    "ConnectionBudget",
    "ConnectionGuard",
    "connection_budget",
    "guarded_http_protocol",
    "raise_open_file_limit",
    "unix_listener",
]

logger = logging.getLogger(__name__)

CONNECTION_SHARE = 4
"""Open connections may hold at most a quarter of the open-file limit; the rest is for the
pipes of the processes the agent runs, its own files, and connections just accepted."""

UVICORN_BACKLOG = 2048
"""uvicorn's default listen backlog: the most the agent uses."""

MIN_BACKLOG = 16
"""A few clients connecting at once must not find the listen queue full."""

LINGER_SECONDS = 0.5
"""How long a connection answered by the guard (431, 503) is kept half-closed, reading and
dropping what the client still sends, before it is closed: closed at once with the client's
bytes unread, the kernel would answer with a reset, which can destroy the answer before the
client reads it."""

MAX_HEADER_BYTES = 16 * 1024
"""Request headers larger than this answer 431: h11's own bound, which without the guard
ends such a connection with a bare 400. uvicorn's parser is given a larger bound
(:data:`PARSER_HEADER_BYTES`) so the guard, which answers in the error shape, speaks first."""

PARSER_HEADER_BYTES = 4 * MAX_HEADER_BYTES
"""For ``uvicorn.Config(h11_max_incomplete_event_size=...)``: above the guard's bound."""

SOCKET_MODE = 0o600
"""``--uds`` sockets: only the agent's own user may connect."""


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit, log both; returns the soft limit.

    Every connection and every process's output pipe is a descriptor, and the soft limit is
    often 1024 while the hard limit is far higher.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        logger.info("open-file limit %s (the hard limit)", _limit_text(soft))
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        logger.warning(
            "open-file limit %s could not be raised to the hard limit %s: %s",
            _limit_text(soft),
            _limit_text(hard),
            exc,
        )
        return soft
    logger.info(
        "open-file limit raised from %s to the hard limit %s", _limit_text(soft), _limit_text(hard)
    )
    return hard


def _limit_text(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    """How many connections the agent holds open, and how many it accepts at a time."""

    max_connections: int
    """Open connections at most (the guard's cap)."""

    backlog: int
    """The listen backlog, which is also how many connections asyncio accepts at a time."""


def connection_budget(max_connections: int, open_files: int) -> ConnectionBudget:
    """``max_connections`` cut to its share of ``open_files`` (:data:`CONNECTION_SHARE`), and
    a listen backlog of half that.

    asyncio accepts up to a backlog's worth of connections at a time, and the guard sees them
    a few loop iterations later. Kept to half the cap, such bursts can neither run the agent
    out of descriptors (``accept`` would fail, and asyncio stop accepting for a second) nor
    make the guard close a connection from the same burst before its headers were read: the
    older connections at the front of its queue go first.
    """
    cap = max_connections
    if open_files != resource.RLIM_INFINITY:
        cap = max(1, min(max_connections, open_files // CONNECTION_SHARE))
    return ConnectionBudget(cap, max(MIN_BACKLOG, min(UVICORN_BACKLOG, cap // 2)))


# -- the guard --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Watch:
    """What the guard knows of one open connection."""

    transport: asyncio.Transport
    deadline: asyncio.TimerHandle | None
    """Closes the connection unless its request headers are complete by then."""
    request: object | None = None
    """The request it last started (uvicorn's cycle), to tell when the next one starts."""
    pending: int = 0
    """Bytes received since it last started a request, while it serves none: headers."""


class ConnectionGuard:
    """The header deadline and the connection cap, shared by every connection of one server.

    A connection must complete its request headers within ``header_timeout`` seconds of
    opening, or of the first byte of its next request; otherwise it is closed. At most
    ``max_connections`` are open: a new one beyond that closes the open connection whose last
    request started longest ago (or that never started one) and is not serving a request
    now; when every one is serving a request, the new one is answered 503 with
    ``Retry-After`` and closed at once. Request headers over :data:`MAX_HEADER_BYTES` are
    answered 431 and the connection is closed.

    Args:
        header_timeout: seconds allowed for a request's headers.
        max_connections: open connections at most.
    """

    def __init__(self, *, header_timeout: float, max_connections: int) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self._refusal = _refusal(max_connections)
        self._too_large = _headers_too_large()
        self._refusing = False
        # Insertion order is eviction order: a connection moves to the end when it starts a
        # request, so the front holds those that have waited longest without one.
        self._open: dict[asyncio.Protocol, _Watch] = {}
        self._lingering: dict[asyncio.Protocol, asyncio.TimerHandle] = {}

    def opened(self, connection: asyncio.Protocol, transport: asyncio.Transport) -> None:
        """Admit a new connection, making room (or refusing it) at the cap."""
        if len(self._open) >= self.max_connections:
            idle = next((c for c in self._open if not _serving(c)), None)
            if idle is None:
                if not self._refusing:  # once per episode, not once per connection
                    logger.warning(
                        "refusing new connections: all %d open ones are serving requests",
                        self.max_connections,
                    )
                    self._refusing = True
                self._answer_and_close(connection, transport, self._refusal)
                return
            logger.debug("closing the longest-waiting idle connection to admit a new one")
            self._close(idle)
        self._refusing = False
        self._open[connection] = _Watch(transport, self._deadline(connection))

    def discards(self, connection: asyncio.Protocol) -> bool:
        """Whether what ``connection`` receives is to be dropped: the guard answered it."""
        return connection in self._lingering

    def received(self, connection: asyncio.Protocol, size: int) -> None:
        """Note that ``connection`` was handed ``size`` bytes (and parsed them)."""
        watch = self._open.get(connection)
        if watch is None:
            return
        request = _current_request(connection)
        if request is not None and request is not watch.request:
            # Its headers are complete: no deadline while the request is served.
            watch.request = request
            watch.pending = 0
            self._disarm(watch)
            self._open[connection] = self._open.pop(connection)
        elif not _serving(connection):
            watch.pending += size
            if watch.pending > MAX_HEADER_BYTES:
                logger.debug(
                    "closing a connection: request headers over %d bytes", MAX_HEADER_BYTES
                )
                self._forget(connection)
                self._answer_and_close(connection, watch.transport, self._too_large)
            elif watch.deadline is None:
                # The first bytes of its next request: the headers are due from now.
                watch.deadline = self._deadline(connection)

    def closed(self, connection: asyncio.Protocol) -> None:
        """Forget a connection that is gone."""
        self._forget(connection)
        linger = self._lingering.pop(connection, None)
        if linger is not None:
            linger.cancel()

    def _forget(self, connection: asyncio.Protocol) -> None:
        watch = self._open.pop(connection, None)
        if watch is not None:
            self._disarm(watch)

    def _answer_and_close(
        self, connection: asyncio.Protocol, transport: asyncio.Transport, answer: bytes
    ) -> None:
        """Send ``answer``, then end the connection without a reset (see LINGER_SECONDS)."""
        transport.write(answer)
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        loop = asyncio.get_running_loop()
        self._lingering[connection] = loop.call_later(LINGER_SECONDS, transport.close)

    def _deadline(self, connection: asyncio.Protocol) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(self.header_timeout, self._expire, connection)

    def _expire(self, connection: asyncio.Protocol) -> None:
        watch = self._open.get(connection)
        if watch is None:
            return
        watch.deadline = None
        if not _serving(connection):
            logger.debug(
                "closing a connection: no complete request headers in %g s", self.header_timeout
            )
            self._close(connection)

    def _close(self, connection: asyncio.Protocol) -> None:
        watch = self._open.pop(connection)
        self._disarm(watch)
        watch.transport.close()

    @staticmethod
    def _disarm(watch: _Watch) -> None:
        if watch.deadline is not None:
            watch.deadline.cancel()
            watch.deadline = None


def _current_request(connection: asyncio.Protocol) -> object | None:
    # uvicorn's h11 and httptools protocols alike keep the request being served in `cycle`.
    return getattr(connection, "cycle", None)


def _serving(connection: asyncio.Protocol) -> bool:
    request = _current_request(connection)
    return request is not None and not getattr(request, "response_complete", True)


def _refusal(limit: int) -> bytes:
    message = f"Too many open connections ({limit}); retry shortly."
    return _closing_answer(
        "503 Service Unavailable", message, f"retry-after: {RETRY_AFTER_SECONDS}\r\n"
    )


def _headers_too_large() -> bytes:
    message = f"Request headers are larger than {MAX_HEADER_BYTES} bytes."
    return _closing_answer("431 Request Header Fields Too Large", message)


def _closing_answer(status: str, message: str, extra_headers: str = "") -> bytes:
    # Written by the guard itself, outside any request, so in the error shape by hand.
    body = ErrorResponse(message=message).model_dump_json(exclude_none=True).encode()
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{extra_headers}"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class _Guarded(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol: tells the server's guard what happens, and
    hands uvicorn a transport that sends each response's head and body in one write."""

    guard: ClassVar[ConnectionGuard]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        socket = cast("asyncio.Transport", transport)
        super().connection_made(CoalescingTransport(socket, asyncio.get_running_loop()))
        self.guard.opened(self, socket)

    def data_received(self, data: bytes) -> None:
        if self.guard.discards(self):
            return  # answered by the guard: read only so that closing sends no reset
        super().data_received(data)
        self.guard.received(self, len(data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        super().connection_lost(exc)


def guarded_http_protocol(guard: ConnectionGuard, http: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``http`` (``"h11"``, ``"httptools"``, or ``"auto"``: httptools
    when installed, else h11), reporting to ``guard`` and writing each response at once (see
    :mod:`agentproc.coalesce`); for ``uvicorn.Config(http=...)``. One class per server."""
    base: type[asyncio.Protocol] = import_from_string(HTTP_PROTOCOLS[http])
    protocol = type(f"Guarded{base.__name__}", (_Guarded, base), {"guard": guard})
    return cast("type[asyncio.Protocol]", protocol)


# -- the Unix socket --------------------------------------------------------------------------


@contextmanager
def unix_listener(path: Path) -> Iterator[socket.socket]:
    """A Unix stream socket bound at ``path`` with mode :data:`SOCKET_MODE`, for uvicorn to
    listen on; the socket file is removed when the block ends.

    A socket file left by an agent that died is replaced; one that a live server still
    answers on is not.

    Raises:
        OSError: ``path`` is taken, or cannot be bound.
    """
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Linux gives the socket file the socket's own mode, less the umask: set first, the
        # file is never more open than 0600, not even between bind() and a chmod().
        os.fchmod(sock.fileno(), SOCKET_MODE)
        sock.bind(str(path))
        created = path.lstat()
    except OSError:
        sock.close()
        raise
    try:
        yield sock
    finally:
        sock.close()
        _remove_if_same(path, created)


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)  # a full backlog must not stall the start
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # nobody listens: left behind by an agent that died
            return
        except BlockingIOError:
            pass  # a live server whose backlog is full
    raise FileExistsError(f"another server is listening on {path}")


def _remove_if_same(path: Path, created: os.stat_result) -> None:
    try:
        now = path.lstat()
        if (now.st_dev, now.st_ino) == (created.st_dev, created.st_ino):
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.error("could not remove the socket file %s: %s", path, exc)
