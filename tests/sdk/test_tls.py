"""A client of a plain-http agent loads no certificate authorities: tens of milliseconds of
CPU per client that it would never use (the tools build one per chat)."""

from __future__ import annotations

import ssl
from typing import Any

import anyio
import httpx
import pytest

from agentsdk import AgentConn, AsyncAgentConn
from agentsdk._senders import tls_verify


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
