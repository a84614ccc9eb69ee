"""What the SDK's unit tests against a mocked agent share: the mock and a client of each kind;
and, for the tests of the SDK's own HTTP/1.1 transports, a scripted server on real sockets.

A test module that needs other ones (a client without a token, a mock that must see every
route called) declares its own, which pytest then uses instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import httpx
import pytest
import respx

from agentsdk import AgentConn, AsyncAgentConn

from ._data import API, BASE_URL, TOKEN


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A mocked agent under the process API prefix."""
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def conn() -> Iterator[AgentConn]:
    """A sync client with a token and the default retries."""
    with AgentConn(BASE_URL, token=TOKEN) as client:
        yield client


@pytest.fixture
async def aconn() -> AsyncIterator[AsyncAgentConn]:
    """An async client with a token and the default retries."""
    async with AsyncAgentConn(BASE_URL, token=TOKEN) as client:
        yield client


# -- a scripted HTTP/1.1 server, for test_h1_transport.py and test_h1_async.py -----------------

SAFETY_SECONDS = 10.0
"""Safety net only: every wait on the scripted server ends on an event first."""


class Peer:
    """One connection the scripted server accepted, as the test's script drives it."""

    def __init__(self, server: ScriptedServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        """0 for the server's first connection, 1 for the next, and so on."""
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._closed = False

    def read_head(self) -> bytes | None:
        """The next request's line and headers; ``None`` if the client closed first."""
        return self._through(b"\r\n\r\n")

    def read_request(self) -> bytes | None:
        """The next request as it came, head and body, recorded in ``server.requests``;
        ``None`` if the client closed the connection first."""
        head = self.read_head()
        if head is None:
            return None
        headers = request_headers(head)
        if "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while True:
                size_line = self._through(b"\r\n")
                assert size_line is not None, "the client closed mid-body"
                body += size_line + self._take(int(size_line, 16) + 2)
                if int(size_line, 16) == 0:
                    break
        else:
            body = self._take(int(headers.get("content-length", "0")))
        self.server.requests.append(head + body)
        return head + body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, *responses: bytes) -> None:
        """Answer one request with each of ``responses``, then wait until the client closes
        the connection (asserting it sent nothing more)."""
        for data in responses:
            assert self.read_request() is not None, "the client closed before asking"
            self.send(data)
        assert self.read_request() is None, "a request past the script"

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.sock.close()

    def wake(self) -> None:
        """End a wait of the script on this connection (it then reads the connection's end)."""
        with self._lock, contextlib.suppress(OSError):  # OSError: the client is gone already
            if not self._closed:
                self.sock.shutdown(socket.SHUT_RDWR)

    def _through(self, marker: bytes) -> bytes | None:
        while (end := self._buffer.find(marker)) < 0:
            if not self._fill():
                assert not self._buffer, f"the client closed mid-request: {self._buffer!r}"
                return None
        return self._take(end + len(marker))

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            assert self._fill(), "the client closed mid-request"
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self._buffer += data
        return bool(data)


Script = Callable[[Peer], None]
"""What the server does with a connection; it closes the connection when the script returns."""


def _unexpected(peer: Peer) -> None:
    raise AssertionError("the server got a connection its test did not expect")


class ScriptedServer:
    """Listens on 127.0.0.1; each accepted connection runs the script in a thread of its own.

    Records how many connections it accepted and every request a script read. A script's
    failure fails the test when the server stops.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.url = f"http://127.0.0.1:{self.address[1]}"
        self.accepted = 0
        self.requests: list[bytes] = []
        self._script: Script = _unexpected
        self._peers: list[tuple[Peer, threading.Thread]] = []
        self._errors: list[BaseException] = []
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept, name="scripted-server")
        self._acceptor.start()

    def serve(self, script: Script) -> str:
        """Run ``script`` on each connection from now on; the server's URL."""
        self._script = script
        return self.url

    def stop(self) -> None:
        self._stopping = True
        socket.create_connection(self.address, timeout=SAFETY_SECONDS).close()  # wakes accept
        self._acceptor.join(SAFETY_SECONDS)
        self._listener.close()
        for peer, _ in self._peers:
            peer.wake()
        for _, thread in self._peers:
            thread.join(SAFETY_SECONDS)
        assert not any(t.is_alive() for t in [self._acceptor, *(t for _, t in self._peers)])
        if self._errors:
            raise self._errors[0]

    def _accept(self) -> None:
        while True:
            sock, _ = self._listener.accept()
            if self._stopping:
                sock.close()
                return
            peer = Peer(self, sock, self.accepted)
            self.accepted += 1
            thread = threading.Thread(target=self._run, args=(peer, self._script))
            self._peers.append((peer, thread))
            thread.start()

    def _run(self, peer: Peer, script: Script) -> None:
        try:
            script(peer)
        except BaseException as exc:
            self._errors.append(exc)
        finally:
            peer.close()


def request_headers(raw: bytes) -> httpx.Headers:
    """The headers of a request (or just its head) as the server received it."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    fields = [line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:]]
    return httpx.Headers([(name, value.strip()) for name, _, value in fields])


def body_of(raw: bytes) -> bytes:
    """The body of a request as the server received it, framing included."""
    return raw.split(b"\r\n\r\n", 1)[1]


def response(
    body: bytes = b"ok", *, status: str = "200 OK", headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """A response with a ``Content-Length``, as the server sends it."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A scripted HTTP/1.1 server on 127.0.0.1; stopped, its threads joined, after the test."""
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.stop()
