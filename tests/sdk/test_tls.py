"""How the SDK's own transports connect: no certificate authorities loaded for a plain-http
agent (tens of milliseconds of CPU per client that it would never use), and no Nagle wait
over TCP."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import anyio
import httpx
import pytest

from agentsdk import AgentConn, AsyncAgentConn
from agentsdk._senders import NO_DELAY, socket_options, tls_verify


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every CA bundle loaded while the test runs."""
    loaded: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def spy(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    return loaded


def test_plain_http_clients_load_no_ca_bundle(loads: list[object]) -> None:
    """Sync and async, over TCP or a Unix socket: nothing is loaded for http://."""
    with AgentConn("http://127.0.0.1:4"), AgentConn("http://localhost", uds="/tmp/a.sock"):
        pass
    anyio.run(AsyncAgentConn("http://127.0.0.1:4").aclose)
    assert loads == []


def test_https_clients_verify_with_the_ca_bundle(loads: list[object]) -> None:
    """An https:// agent is verified as httpx verifies by default."""
    with AgentConn("https://agent.example"):
        pass
    assert loads


def test_the_plain_http_context_trusts_nothing() -> None:
    """Should a plain-http client meet TLS after all, no certificate passes: it fails closed."""
    context = tls_verify(httpx.URL("http://127.0.0.1:4"))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
    assert tls_verify(httpx.URL("https://agent.example")) is True


def test_tcp_connections_send_at_once_and_unix_sockets_take_no_tcp_option() -> None:
    """Over TCP each write leaves at once (no Nagle wait between a request's head and body);
    a Unix socket has no such option, and gets none."""
    assert socket_options(None) == [NO_DELAY]
    assert NO_DELAY == (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert socket_options("/run/agentproc.sock") == []
