"""``H1Transport`` (``agentsdk._h1_sync``), the SDK's own HTTP/1.1 transport, on real sockets.

What the transport is for happens on the socket: when a connection is reused and when it is
dropped, how a body is read whose end only the connection's end marks, what becomes of a
server that answers early, closes, or never answers. A mocked transport would skip all of
it, so each test scripts what a server on 127.0.0.1 does with each connection (``scripted``,
in conftest.py) and checks what the client got and what the server received. The client's
fallback refuses every request, so each answer proves that the lean transport sent it.
``AsyncH1Transport``'s tests are in test_h1_async.py.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx

from agentsdk import AgentConn
from agentsdk import _h1 as h1
from agentsdk._h1_sync import H1Transport

from ._data import LIST_BODY, START_BODY
from .conftest import SAFETY_SECONDS, Peer, ScriptedServer, body_of, request_headers, response

LARGE_BODY = b"x" * (32 * 1024 * 1024)
"""More than the sockets of both sides buffer, so a server that stops reading stops the send."""

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the fallback got {request.method} {request.url}")


@pytest.fixture
def transport() -> H1Transport:
    if not h1.AVAILABLE:
        pytest.skip("the SDK sends through httpx's own transport in this run")
    return H1Transport(httpx.MockTransport(refuse))


@pytest.fixture
def client(transport: H1Transport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=transport, timeout=SAFETY_SECONDS) as client:
        yield client


def wait_until_idle_connection_ended(transport: H1Transport) -> None:
    """Wait until the server's close of the pooled connection has reached the client, so the
    test does not race it."""
    (idle,) = [sock for _, sock in transport._idle]
    readable, _, _ = select.select([idle], [], [], SAFETY_SECONDS)
    assert readable == [idle]


def answer_and_close(peer: Peer) -> None:
    """Answer one request, keep-alive, then close the connection."""
    peer.read_request()
    peer.send(response(b"connection %d" % peer.index))


def never_answer(peer: Peer) -> None:
    """Read one request, then wait for the client to give up on it."""
    peer.read_request()
    assert peer.read_request() is None


def test_requests_in_a_row_share_one_connection_and_arrive_intact(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    first = response(b"first", status="201 Made It", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    url = scripted.serve(lambda peer: peer.answer(first, response(b"second")))

    made = client.post(f"{url}/a?x=1", content=b"payload", headers=[("X-Rep", "1"), ("X-Rep", "2")])
    got = client.get(f"{url}/b")

    assert (made.status_code, made.reason_phrase, made.http_version) == (201, "Made It", "HTTP/1.1")
    assert (made.headers.get_list("x-multi"), made.content) == (["a", "b"], b"first")
    assert (got.status_code, got.reason_phrase, got.content) == (200, "OK", b"second")
    assert scripted.accepted == 1
    posted, fetched = scripted.requests
    assert posted.startswith(b"POST /a?x=1 HTTP/1.1\r\n")
    assert request_headers(posted).get_list("x-rep") == ["1", "2"]
    assert request_headers(posted)["host"] == f"127.0.0.1:{scripted.address[1]}"
    assert body_of(posted) == b"payload"
    assert fetched.startswith(b"GET /b HTTP/1.1\r\n")


def test_an_idle_connection_the_server_closed_is_replaced(
    scripted: ScriptedServer, transport: H1Transport, client: httpx.Client
) -> None:
    url = scripted.serve(answer_and_close)
    assert client.get(url).text == "connection 0"
    wait_until_idle_connection_ended(transport)

    assert client.get(url).text == "connection 1"
    assert scripted.accepted == 2


def test_a_chunked_body_is_read_as_its_chunks_arrive(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    more = threading.Event()

    def in_two_parts(peer: Peer) -> None:
        peer.read_request()
        peer.send(CHUNKED_HEAD + b"5\r\nhello\r\n")
        assert more.wait(SAFETY_SECONDS)
        peer.send(b"6\r\n world\r\n0\r\n\r\n")
        peer.answer(response(b"again"))

    url = scripted.serve(in_two_parts)
    with client.stream("GET", url) as streamed:
        parts = streamed.iter_bytes()
        assert next(parts) == b"hello"
        more.set()
        assert list(parts) == [b" world"]

    assert client.get(url).text == "again"
    assert scripted.accepted == 1


def test_a_body_the_connection_end_delimits_is_read_whole_and_the_connection_dropped(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    body = bytes(range(256)) * 1024  # several reads

    def close_delimited(peer: Peer) -> None:
        peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)

    url = scripted.serve(close_delimited)
    assert [client.get(url).content for _ in range(2)] == [body, body]
    assert scripted.accepted == 2


@pytest.mark.parametrize(
    ("answer", "then_wait", "error"),
    [
        pytest.param(response(b"x" * 100)[:-90], False, "complete message body", id="mid-body"),
        pytest.param(b"", False, "Server disconnected without sending a response", id="no-answer"),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", True, "Invalid HTTP response", id="garbage"),
    ],
)
def test_a_broken_answer_is_a_remote_protocol_error(
    scripted: ScriptedServer, client: httpx.Client, answer: bytes, then_wait: bool, error: str
) -> None:
    """``then_wait``: the server keeps the connection open, until the client drops it."""

    def broken(peer: Peer) -> None:
        peer.read_request()
        peer.send(answer)
        if then_wait:
            assert peer.read_request() is None

    url = scripted.serve(broken)
    with pytest.raises(httpx.RemoteProtocolError, match=error):
        client.get(url).read()


def test_a_server_that_never_answers_is_a_read_timeout(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    url = scripted.serve(never_answer)
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=httpx.Timeout(SAFETY_SECONDS, read=0.2))


def test_a_port_nobody_listens_on_is_a_connect_error(client: httpx.Client) -> None:
    with socket.socket() as bound:  # bound and never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{bound.getsockname()[1]}/")


class DroppedThenFresh:
    """A script: the first connection gets ``first`` as its answer and must then be closed by
    the client, not asked again (``asked`` and ``dropped`` are set as that happens); later
    connections are answered ``fresh``."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.asked = threading.Event()
        self.dropped = threading.Event()

    def __call__(self, peer: Peer) -> None:
        if peer.index > 0:
            peer.answer(response(b"fresh"))
            return
        peer.read_request()
        peer.send(self.first)
        self.asked.set()
        assert peer.read_request() is None  # the client's end, not another request
        self.dropped.set()


PARTIAL = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10
"""The start of a response, whose end does not come."""


def test_a_response_closed_before_its_end_closes_its_connection(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    script = DroppedThenFresh(PARTIAL)
    url = scripted.serve(script)
    with client.stream("GET", url) as streamed:
        assert next(streamed.iter_bytes()) == b"x" * 10
    assert script.dropped.wait(SAFETY_SECONDS)

    assert client.get(url).text == "fresh"
    assert scripted.accepted == 2


def test_a_connection_the_server_asks_to_close_is_not_reused(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    """Even while the server, having said ``Connection: close``, keeps it open."""
    script = DroppedThenFresh(response(b"last", headers=[("Connection", "close")]))
    url = scripted.serve(script)
    assert client.get(url).text == "last"
    assert script.dropped.wait(SAFETY_SECONDS)

    assert client.get(url).text == "fresh"
    assert scripted.accepted == 2


def test_an_answer_before_the_whole_body_was_sent_is_returned(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    def refuse_large(peer: Peer) -> None:
        peer.read_head()  # and not the body: the server closes with it unread
        peer.send(response(b"too large", status="413 Too Large", headers=[("Connection", "close")]))

    url = scripted.serve(refuse_large)
    answer = client.post(url, content=LARGE_BODY)
    assert (answer.status_code, answer.text) == (413, "too large")


def test_a_body_of_unknown_length_goes_out_in_chunks(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    url = scripted.serve(lambda peer: peer.answer(response()))
    parts = [b"hello", b"", b"y" * 70_000, b" world"]  # an empty part, one past a flush

    assert client.post(url, content=iter(parts)).text == "ok"
    (posted,) = scripted.requests
    assert request_headers(posted)["transfer-encoding"] == "chunked"
    assert "content-length" not in request_headers(posted)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    assert body_of(posted) == chunks + b"0\r\n\r\n"


def test_an_informational_answer_is_skipped_for_the_response_after_it(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    url = scripted.serve(lambda peer: peer.answer(EARLY_HINTS + response(b"final"), response()))
    final = client.get(url)
    assert (final.status_code, final.reason_phrase, final.text) == (200, "OK", "final")
    assert "link" not in final.headers
    assert client.get(url).text == "ok"  # and the connection is still in step
    assert scripted.accepted == 1


@pytest.mark.parametrize(
    "trailing",
    [
        pytest.param(response(b"extra", status="404 Not Found"), id="another-response"),
        pytest.param(b"XYZ", id="past-its-length"),
    ],
)
def test_bytes_after_a_complete_response_are_not_part_of_it(
    scripted: ScriptedServer, client: httpx.Client, trailing: bytes
) -> None:
    """A server that sends more than the response, in the same write: the response is what
    its own framing says (as httpx's own transport reads it), and the connection is dropped."""
    script = DroppedThenFresh(response(b"ok") + trailing)
    url = scripted.serve(script)
    got = client.get(url)
    assert (got.status_code, got.reason_phrase, got.content) == (200, "OK", b"ok")
    assert got.headers.multi_items() == [("content-length", "2")]
    assert script.dropped.wait(SAFETY_SECONDS)
    assert client.get(url).text == "fresh"


@pytest.mark.parametrize(
    ("method", "where", "headers"),
    [
        pytest.param("GET", "https://127.0.0.1:{port}/", {}, id="https"),
        pytest.param("HEAD", "http://127.0.0.1:{port}/", {}, id="head"),
        pytest.param("POST", "http://127.0.0.1:{port}/", {"Expect": "100-continue"}, id="expect"),
        pytest.param("GET", "http://127.0.0.1:{port}/", {"Upgrade": "websocket"}, id="upgrade"),
    ],
)
def test_what_it_does_not_speak_goes_to_the_fallback(
    scripted: ScriptedServer, method: str, where: str, headers: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    url = where.format(port=scripted.address[1])
    with httpx.Client(transport=H1Transport(httpx.MockTransport(fallback))) as client:
        assert client.request(method, url, headers=headers).status_code == 204
    assert [(r.method, str(r.url)) for r in seen] == [(method, url)]
    assert scripted.accepted == 0


RESPX_USING = [
    "httpcore",
    "httpx",
]


@pytest.mark.parametrize("using", RESPX_USING)
def test_with_respx_active_an_agent_conn_gets_respx_answer(
    scripted: ScriptedServer, using: str
) -> None:
    url = scripted.serve(lambda peer: None)  # closes what it gets: no answer but respx's
    with (
        respx.mock(base_url=url, using=using) as router,
        AgentConn(url, token="tok", max_retries=0) as conn,
    ):
        router.get("/api/v0/processes/list").respond(json=LIST_BODY)
        assert len(conn.list_processes().processes) == 2
    assert scripted.accepted == 0


def test_agent_conn_sends_its_headers_and_keeps_cookies(scripted: ScriptedServer) -> None:
    json_type = ("Content-Type", "application/json")
    listed = response(json.dumps(LIST_BODY).encode(), headers=[json_type, ("Set-Cookie", "s=1")])
    started = response(json.dumps(START_BODY).encode(), headers=[json_type])
    url = scripted.serve(lambda peer: peer.answer(listed, started))

    with AgentConn(url, token="tok") as conn:
        assert len(conn.list_processes().processes) == 2
        assert conn.start_process(command="true").started

    assert scripted.accepted == 1
    get, post = (request_headers(raw) for raw in scripted.requests)
    for headers in (get, post):
        assert headers["authorization"] == "Bearer tok"
        assert headers["accept"] == "application/json"
        assert headers["user-agent"] == f"python-httpx/{httpx.__version__}"
    assert ("cookie" in get, "content-type" in get) == (False, False)
    assert (post["cookie"], post["content-type"]) == ("s=1", "application/json")
    assert json.loads(body_of(scripted.requests[1]))["command"] == "true"


def test_closing_the_transport_closes_its_idle_connections(
    scripted: ScriptedServer, transport: H1Transport
) -> None:
    ended = threading.Event()

    def answer_then_note_the_end(peer: Peer) -> None:
        peer.answer(response())  # returns at the client's end of the connection
        ended.set()

    url = scripted.serve(answer_then_note_the_end)
    timeout = httpx.Timeout(SAFETY_SECONDS).as_dict()
    answer = transport.handle_request(httpx.Request("GET", url, extensions={"timeout": timeout}))
    assert answer.read() == b"ok"
    answer.close()
    assert not ended.is_set()

    transport.close()
    assert ended.wait(SAFETY_SECONDS)


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    scripted: ScriptedServer, client: httpx.Client
) -> None:
    url = scripted.serve(lambda peer: None)
    with pytest.raises(httpx.LocalProtocolError, match="Illegal header"):
        client.get(url, headers={"X-Note": "fine\r\nX-Injected: 1"})
    assert scripted.accepted == 0


def test_an_http_1_0_answer_says_so(scripted: ScriptedServer, client: httpx.Client) -> None:
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    url = scripted.serve(lambda peer: peer.answer(old))
    got = client.get(url)
    assert (got.http_version, got.text) == ("HTTP/1.0", "ok")


def test_a_host_given_by_name_is_resolved(scripted: ScriptedServer, client: httpx.Client) -> None:
    url = scripted.serve(lambda peer: peer.answer(response(b"by name")))
    named = url.replace("127.0.0.1", "localhost")
    assert client.get(named).text == "by name"
