"""``AsyncH1Transport`` (``agentsdk._h1_async``), the async SDK's own HTTP/1.1 transport, on
real sockets.

The twin of test_h1_transport.py (which says why real sockets): the same scripted server on
127.0.0.1, driven by an ``httpx.AsyncClient`` over the transport, whose non-blocking sockets
anyio waits on. The suite's ``anyio_backend`` runs them on asyncio. Waits on the server's
events go to a worker thread, so the event loop keeps serving the client meanwhile.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio
import anyio.to_thread
import httpx
import pytest
import respx

from agentsdk import AsyncAgentConn
from agentsdk import _h1 as h1
from agentsdk._h1_async import AsyncH1Transport

from ._data import LIST_BODY, START_BODY
from .conftest import SAFETY_SECONDS, Peer, ScriptedServer, body_of, request_headers, response
from .test_h1_transport import (
    CHUNKED_HEAD,
    EARLY_HINTS,
    LARGE_BODY,
    PARTIAL,
    RESPX_USING,
    DroppedThenFresh,
    answer_and_close,
    never_answer,
    refuse,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def transport() -> AsyncH1Transport:
    if not h1.AVAILABLE:
        pytest.skip("the SDK sends through httpx's own transport in this run")
    return AsyncH1Transport(httpx.MockTransport(refuse))


@pytest.fixture
async def client(transport: AsyncH1Transport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, timeout=SAFETY_SECONDS) as client:
        yield client


async def waited(event: threading.Event) -> bool:
    """Whether ``event`` is set within the safety timeout, waited for off the event loop."""
    wait: Callable[[float], bool] = event.wait
    return await anyio.to_thread.run_sync(wait, SAFETY_SECONDS)


async def test_requests_in_a_row_share_one_connection_and_arrive_intact(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    first = response(b"first", status="201 Made It", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    url = scripted.serve(lambda peer: peer.answer(first, response(b"second")))

    made = await client.post(
        f"{url}/a", content=b"payload", headers=[("X-Rep", "1"), ("X-Rep", "2")]
    )
    got = await client.get(f"{url}/b")

    assert (made.status_code, made.reason_phrase, made.content) == (201, "Made It", b"first")
    assert made.headers.get_list("x-multi") == ["a", "b"]
    assert (got.status_code, got.content) == (200, b"second")
    assert scripted.accepted == 1
    posted, fetched = scripted.requests
    assert posted.startswith(b"POST /a HTTP/1.1\r\n")
    assert request_headers(posted).get_list("x-rep") == ["1", "2"]
    assert body_of(posted) == b"payload"
    assert fetched.startswith(b"GET /b HTTP/1.1\r\n")


async def test_an_idle_connection_the_server_closed_is_replaced(
    scripted: ScriptedServer, transport: AsyncH1Transport, client: httpx.AsyncClient
) -> None:
    url = scripted.serve(answer_and_close)
    assert (await client.get(url)).text == "connection 0"
    (idle,) = [sock for _, sock in transport._idle]
    with anyio.fail_after(SAFETY_SECONDS):
        await anyio.wait_readable(idle)  # the server's close has reached the client

    assert (await client.get(url)).text == "connection 1"
    assert scripted.accepted == 2


async def test_chunked_and_close_delimited_bodies_are_read_whole(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    more = threading.Event()
    body = bytes(range(256)) * 1024

    def chunked_then_close_delimited(peer: Peer) -> None:
        peer.read_request()
        peer.send(CHUNKED_HEAD + b"5\r\nhello\r\n")
        assert more.wait(SAFETY_SECONDS)
        peer.send(b"6\r\n world\r\n0\r\n\r\n")
        peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)

    url = scripted.serve(chunked_then_close_delimited)
    async with client.stream("GET", url) as streamed:
        parts = streamed.aiter_bytes()
        assert await anext(parts) == b"hello"
        more.set()
        assert [part async for part in parts] == [b" world"]
    assert (await client.get(url)).content == body
    assert scripted.accepted == 1


@pytest.mark.parametrize(
    ("answer", "then_wait", "error"),
    [
        pytest.param(response(b"x" * 100)[:-90], False, "complete message body", id="mid-body"),
        pytest.param(b"", False, "Server disconnected without sending a response", id="no-answer"),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", True, "Invalid HTTP response", id="garbage"),
    ],
)
async def test_a_broken_answer_is_a_remote_protocol_error(
    scripted: ScriptedServer, client: httpx.AsyncClient, answer: bytes, then_wait: bool, error: str
) -> None:
    def broken(peer: Peer) -> None:
        peer.read_request()
        peer.send(answer)
        if then_wait:
            assert peer.read_request() is None

    url = scripted.serve(broken)
    with pytest.raises(httpx.RemoteProtocolError, match=error):
        await (await client.get(url)).aread()


async def test_a_server_that_never_answers_is_a_read_timeout(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    url = scripted.serve(never_answer)
    with pytest.raises(httpx.ReadTimeout):
        await client.get(url, timeout=httpx.Timeout(SAFETY_SECONDS, read=0.2))


async def test_a_port_nobody_listens_on_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as bound:  # bound and never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{bound.getsockname()[1]}/")


async def test_a_response_closed_before_its_end_closes_its_connection(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    script = DroppedThenFresh(PARTIAL)
    url = scripted.serve(script)
    async with client.stream("GET", url) as streamed:
        parts = streamed.aiter_bytes()
        assert isinstance(parts, AsyncGenerator)  # closed below, not left to the collector
        assert await anext(parts) == b"x" * 10
        await parts.aclose()
    assert await waited(script.dropped)

    assert (await client.get(url)).text == "fresh"
    assert scripted.accepted == 2


async def test_a_connection_the_server_asks_to_close_is_not_reused(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    script = DroppedThenFresh(response(b"last", headers=[("Connection", "close")]))
    url = scripted.serve(script)
    assert (await client.get(url)).text == "last"
    assert await waited(script.dropped)

    assert (await client.get(url)).text == "fresh"
    assert scripted.accepted == 2


async def test_a_request_cancelled_half_way_closes_its_connection(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    script = DroppedThenFresh(PARTIAL)
    url = scripted.serve(script)
    async with anyio.create_task_group() as group:
        group.start_soon(client.get, url)
        assert await waited(script.asked)
        group.cancel_scope.cancel()
    assert await waited(script.dropped)

    assert (await client.get(url)).text == "fresh"
    assert scripted.accepted == 2


async def test_an_answer_before_the_whole_body_was_sent_is_returned(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    def refuse_large(peer: Peer) -> None:
        peer.read_head()  # and not the body: the server closes with it unread
        peer.send(response(b"too large", status="413 Too Large", headers=[("Connection", "close")]))

    url = scripted.serve(refuse_large)
    answer = await client.post(url, content=LARGE_BODY)
    assert (answer.status_code, answer.text) == (413, "too large")


async def test_a_body_of_unknown_length_goes_out_in_chunks(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    url = scripted.serve(lambda peer: peer.answer(response()))
    parts = [b"hello", b"", b"y" * 70_000, b" world"]  # an empty part, one past a flush

    async def generated() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    assert (await client.post(url, content=generated())).text == "ok"
    (posted,) = scripted.requests
    assert request_headers(posted)["transfer-encoding"] == "chunked"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    assert body_of(posted) == chunks + b"0\r\n\r\n"


async def test_an_informational_answer_is_skipped_for_the_response_after_it(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    url = scripted.serve(lambda peer: peer.answer(EARLY_HINTS + response(b"final"), response()))
    final = await client.get(url)
    assert (final.status_code, final.text, "link" in final.headers) == (200, "final", False)
    assert (await client.get(url)).text == "ok"
    assert scripted.accepted == 1


@pytest.mark.parametrize(
    ("method", "scheme", "headers"),
    [
        pytest.param("GET", "https", {}, id="https"),
        pytest.param("HEAD", "http", {}, id="head"),
        pytest.param("POST", "http", {"Expect": "100-continue"}, id="expect"),
    ],
)
async def test_what_it_does_not_speak_goes_to_the_fallback(
    scripted: ScriptedServer, method: str, scheme: str, headers: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    url = f"{scheme}://127.0.0.1:{scripted.address[1]}/"
    async with httpx.AsyncClient(transport=AsyncH1Transport(httpx.MockTransport(fallback))) as ac:
        assert (await ac.request(method, url, headers=headers)).status_code == 204
    assert [(r.method, str(r.url)) for r in seen] == [(method, url)]
    assert scripted.accepted == 0


@pytest.mark.parametrize("using", RESPX_USING)
async def test_with_respx_active_an_async_agent_conn_gets_respx_answer(
    scripted: ScriptedServer, using: str
) -> None:
    url = scripted.serve(lambda peer: None)  # closes what it gets: no answer but respx's
    with respx.mock(base_url=url, using=using) as router:
        router.get("/api/v0/processes/list").respond(json=LIST_BODY)
        async with AsyncAgentConn(url, token="tok", max_retries=0) as conn:
            assert len((await conn.list_processes()).processes) == 2
    assert scripted.accepted == 0


async def test_async_agent_conn_sends_its_headers_and_keeps_cookies(
    scripted: ScriptedServer,
) -> None:
    json_type = ("Content-Type", "application/json")
    listed = response(json.dumps(LIST_BODY).encode(), headers=[json_type, ("Set-Cookie", "s=1")])
    started = response(json.dumps(START_BODY).encode(), headers=[json_type])
    url = scripted.serve(lambda peer: peer.answer(listed, started))

    async with AsyncAgentConn(url, token="tok") as conn:
        assert len((await conn.list_processes()).processes) == 2
        assert (await conn.start_process(command="true")).started

    assert scripted.accepted == 1
    get, post = (request_headers(raw) for raw in scripted.requests)
    for headers in (get, post):
        assert headers["authorization"] == "Bearer tok"
        assert headers["accept"] == "application/json"
        assert headers["user-agent"] == f"python-httpx/{httpx.__version__}"
    assert ("cookie" in get, "content-type" in get) == (False, False)
    assert (post["cookie"], post["content-type"]) == ("s=1", "application/json")


async def test_closing_the_transport_closes_its_idle_connections(
    scripted: ScriptedServer, transport: AsyncH1Transport
) -> None:
    ended = threading.Event()

    def answer_then_note_the_end(peer: Peer) -> None:
        peer.answer(response())  # returns at the client's end of the connection
        ended.set()

    url = scripted.serve(answer_then_note_the_end)
    timeout = httpx.Timeout(SAFETY_SECONDS).as_dict()
    request = httpx.Request("GET", url, extensions={"timeout": timeout})
    answer = await transport.handle_async_request(request)
    assert await answer.aread() == b"ok"
    await answer.aclose()
    assert not ended.is_set()

    await transport.aclose()
    assert await waited(ended)


async def test_a_host_given_by_name_is_resolved(
    scripted: ScriptedServer, client: httpx.AsyncClient
) -> None:
    url = scripted.serve(lambda peer: peer.answer(response(b"by name")))
    named = url.replace("127.0.0.1", "localhost")
    assert (await client.get(named)).text == "by name"
