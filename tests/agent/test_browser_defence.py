"""No web page can drive the agent (security.md §1), end to end against a real agent.

The requests below are what a browser sends for a page of another site: "simple" bodies
that need no preflight, a preflight, an ``Origin`` header, and a ``Host`` that DNS
rebinding pointed at loopback. The agent under attack has no token, as a developer's
loopback agent often has not: the only thing between the page and a shell is the guard.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from agentproc.app import create_app
from agentproc.server import AgentServer
from agentproc.settings import Settings
from tests.conftest import (
    HTTP_PARSERS,
    SAFETY_TIMEOUT_SECONDS,
    TLS_CONTEXT,
    LiveAgent,
    run_live_agent,
)

pytestmark = pytest.mark.e2e

API = "/api/v0/processes"
EVIL_PAGE = "https://evil.example"
EVIL_HOST = "evil.example"

MakeAgent = Callable[[Settings], AbstractContextManager[LiveAgent]]

SIMPLE_CONTENT_TYPES = [
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
]
"""What ``fetch(..., {mode: "no-cors"})`` and ``<form method=post>`` send with no preflight."""

JSON_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/merge-patch+json",
    "",
]
"""Declared as JSON, or declared empty (which counts as not declared)."""


@pytest.fixture(scope="module", params=HTTP_PARSERS)
def open_agent(request: pytest.FixtureRequest) -> Iterator[LiveAgent]:
    """An agent without a token, on each of uvicorn's HTTP parsers in turn (httptools lets
    through requests h11 refuses); the tests using it expect it never to start anything."""
    with run_live_agent(Settings(), http=request.param) as agent:
        yield agent


@pytest.fixture
def attacker(open_agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client sending what a browser would, without the agent ever having run anything."""
    with httpx.Client(
        base_url=open_agent.base_url, timeout=SAFETY_TIMEOUT_SECONDS, verify=TLS_CONTEXT
    ) as client:
        yield client
        listed = client.get(f"{API}/list")
        assert listed.json() == {"processes": []}, "a refused request ran a command"


def _touch(marker: Path) -> bytes:
    return f'{{"command": "touch {shlex.quote(str(marker))}"}}'.encode()


def _cors_headers(response: httpx.Response) -> list[str]:
    return [name for name in response.headers if name.lower().startswith("access-control-")]


class TestContentType:
    @pytest.mark.parametrize("origin", [EVIL_PAGE, None], ids=["cross-site", "no-origin"])
    @pytest.mark.parametrize("content_type", SIMPLE_CONTENT_TYPES)
    def test_simple_body_is_a_415_and_runs_nothing(
        self, attacker: httpx.Client, tmp_path: Path, content_type: str, origin: str | None
    ) -> None:
        """A start a page can send without preflight answers 415 and starts nothing."""
        marker = tmp_path / "marker"
        headers = {"Content-Type": content_type}
        if origin is not None:
            headers["Origin"] = origin
        response = attacker.post(f"{API}/start", content=_touch(marker), headers=headers)
        assert response.status_code == 415
        assert response.json() == {"message": "Content-Type must be application/json."}
        assert not marker.exists()

    def test_signal_with_a_simple_body_is_a_415(self, attacker: httpx.Client) -> None:
        """Every /api/ path refuses the simple types, whether or not it exists."""
        for path in (f"{API}/some-id/signal", "/api/v1/anything"):
            response = attacker.post(
                path, content=b'{"signal": "kill"}', headers={"Content-Type": "text/plain"}
            )
            assert response.status_code == 415, path

    @pytest.mark.parametrize("content_type", JSON_CONTENT_TYPES)
    def test_json_or_empty_content_type_is_accepted(
        self, live_agent: LiveAgent, content_type: str
    ) -> None:
        """application/json with parameters, a +json type, or an empty header all start."""
        with live_agent.client() as client:
            response = client.post(
                f"{API}/start",
                content=b'{"command": "true"}',
                headers={"Content-Type": content_type},
            )
        assert response.status_code == 200, response.text


class TestHost:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", f"{API}/list"),
            ("POST", f"{API}/start"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("GET", "/docs/assets/swagger-ui-bundle.js"),
            ("GET", "/nowhere"),
        ],
    )
    def test_foreign_host_is_a_400(
        self, attacker: httpx.Client, tmp_path: Path, method: str, path: str
    ) -> None:
        """A name DNS rebinding pointed here is refused on every path, naming it as sent."""
        marker = tmp_path / "marker"
        body = _touch(marker) if method == "POST" else None
        for host in (EVIL_HOST, "Evil.Example:7420"):
            response = attacker.request(method, path, content=body, headers={"Host": host})
            assert response.status_code == 400, (host, response.text)
            assert response.json()["message"] == f'Host "{host}" is not allowed.'
        assert not marker.exists()

    def test_healthz_answers_any_host(self, attacker: httpx.Client) -> None:
        """Liveness answers whatever name a probe or load balancer uses."""
        response = attacker.get("/healthz", headers={"Host": EVIL_HOST})
        assert response.json() == {"status": "ok"}

    @pytest.mark.parametrize(
        "host",
        ["127.0.0.1", "127.0.0.1:80", "10.1.2.3:7420", "localhost", "LOCALHOST:1", "[::1]:7420"],
    )
    def test_ip_literals_and_localhost_are_accepted(
        self, attacker: httpx.Client, host: str
    ) -> None:
        """IP literals (v4, bracketed v6) and localhost, with or without a port, pass."""
        assert attacker.get(f"{API}/list", headers={"Host": host}).status_code == 200

    @pytest.mark.parametrize("host", ["::1", "127.0.0.1:99999", "localhost:x", "[::1", "a@b"])
    def test_malformed_host_is_a_400(self, attacker: httpx.Client, host: str) -> None:
        """A Host that is not host[:port] is refused like a foreign name."""
        assert attacker.get(f"{API}/list", headers={"Host": host}).status_code == 400

    def test_allowed_host_is_accepted(self, make_live_agent: MakeAgent) -> None:
        """A name given with --allowed-host passes, in any case and with any port."""
        settings = Settings(allowed_hosts=("agent.example",))
        with make_live_agent(settings) as agent, httpx.Client(base_url=agent.base_url) as c:
            for host in ("agent.example", "Agent.Example:8080"):
                assert c.get(f"{API}/list", headers={"Host": host}).status_code == 200
            assert c.get(f"{API}/list", headers={"Host": EVIL_HOST}).status_code == 400

    def test_any_host_turns_the_check_off(self, make_live_agent: MakeAgent) -> None:
        """'*' accepts every name (the agent must have a token, which still applies)."""
        settings = Settings(token="t", allowed_hosts=("*",))
        with make_live_agent(settings) as agent, agent.client() as c:
            assert c.get(f"{API}/list", headers={"Host": EVIL_HOST}).status_code == 200
            anonymous = httpx.get(f"{agent.base_url}{API}/list", headers={"Host": EVIL_HOST})
            assert anonymous.status_code == 401

    def test_foreign_host_is_refused_before_the_token_is_checked(
        self, live_agent: LiveAgent
    ) -> None:
        """A rebinding page learns nothing about the token: 400 with or without it."""
        with httpx.Client(base_url=live_agent.base_url) as anonymous:
            response = anonymous.get(f"{API}/list", headers={"Host": EVIL_HOST})
        assert response.status_code == 400
        with live_agent.client() as client:
            response = client.get(f"{API}/list", headers={"Host": EVIL_HOST})
        assert response.status_code == 400


class TestOrigin:
    @pytest.mark.parametrize(
        "origin",
        [EVIL_PAGE, "null", "http://127.0.0.1:1", "https://127.0.0.1", "http://localhost"],
    )
    def test_foreign_origin_is_a_403_and_runs_nothing(
        self, attacker: httpx.Client, open_agent: LiveAgent, tmp_path: Path, origin: str
    ) -> None:
        """A JSON start from another origin (scheme, host or port differ) is refused."""
        marker = tmp_path / "marker"
        response = attacker.post(
            f"{API}/start",
            content=_touch(marker),
            headers={"Origin": origin, "Content-Type": "application/json"},
        )
        assert response.status_code == 403
        assert response.json()["message"] == "Cross-origin requests are not allowed."
        assert _cors_headers(response) == []
        assert not marker.exists()

    def test_foreign_origin_is_refused_on_reads_too(self, attacker: httpx.Client) -> None:
        """Every /api/ path refuses a foreign origin, reads included."""
        response = attacker.get(f"{API}/list", headers={"Origin": EVIL_PAGE})
        assert response.status_code == 403

    def test_preflight_gets_no_cors_headers(self, attacker: httpx.Client) -> None:
        """A preflight is never granted: no Access-Control-Allow-* for any origin."""
        for origin in (EVIL_PAGE, str(attacker.base_url).rstrip("/")):
            response = attacker.options(
                f"{API}/start",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            assert response.status_code >= 400, origin
            assert _cors_headers(response) == [], origin

    def test_own_origin_is_accepted(self, make_live_agent: MakeAgent) -> None:
        """Swagger UI on /docs sends the agent's own origin, under any name it was reached by."""
        with make_live_agent(Settings()) as agent, httpx.Client(base_url=agent.base_url) as c:
            port = agent.base_url.rpartition(":")[2]
            for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
                response = c.post(
                    f"{API}/start",
                    json={"command": "true"},
                    headers={"Host": host, "Origin": f"http://{host}"},
                )
                assert response.status_code == 200, (host, response.text)
                assert _cors_headers(response) == []

    def test_allowed_origin_is_accepted(self, make_live_agent: MakeAgent) -> None:
        """An origin given with --allowed-origin passes; its default port may be spelled out."""
        settings = Settings(allowed_origins=("https://ide.example",))
        with make_live_agent(settings) as agent, httpx.Client(base_url=agent.base_url) as c:
            for origin in ("https://ide.example", "HTTPS://IDE.example:443"):
                response = c.post(
                    f"{API}/start", json={"command": "true"}, headers={"Origin": origin}
                )
                assert response.status_code == 200, (origin, response.text)
                assert _cors_headers(response) == []
            other_port = c.get(f"{API}/list", headers={"Origin": "https://ide.example:8443"})
            assert other_port.status_code == 403

    def test_docs_are_served_whatever_the_origin(self, attacker: httpx.Client) -> None:
        """The docs are not the API: the origin rule covers /api/ and /mcp only."""
        assert attacker.get("/docs", headers={"Origin": EVIL_PAGE}).status_code == 200

    def test_malformed_allowed_origin_is_refused_at_creation(self) -> None:
        """A configured origin that is not scheme://host[:port] fails before serving."""
        with (
            pytest.raises(ValueError, match="expected an origin"),
            run_live_agent(Settings(allowed_origins=("ide.example",))),
        ):
            pass


class _UnixSocketServer(AgentServer):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config, config.app)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def _serve_on_unix_socket(path: Path) -> Iterator[httpx.Client]:
    app = create_app(Settings())
    config = uvicorn.Config(app, uds=str(path), log_level="warning", lifespan="on", ws="none")
    server = _UnixSocketServer(config)
    thread = threading.Thread(target=server.run, name="uds-agent", daemon=True)
    thread.start()
    try:
        assert server.ready.wait(SAFETY_TIMEOUT_SECONDS), "the agent did not start"
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://agent") as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(SAFETY_TIMEOUT_SECONDS)


def test_over_a_unix_socket_any_host_placeholder_is_accepted(tmp_path: Path) -> None:
    """No name resolves to a socket: clients' placeholders pass; a foreign Origin does not."""
    socket_path = tmp_path / "agent.sock"
    with _serve_on_unix_socket(socket_path) as client:
        for host in ("agent", "localhost", str(socket_path), EVIL_HOST):
            assert client.get(f"{API}/list", headers={"Host": host}).status_code == 200, host
        refused = client.get(f"{API}/list", headers={"Origin": EVIL_PAGE})
        assert refused.status_code == 403
        simple = client.post(
            f"{API}/start", content=b'{"command": "true"}', headers={"Content-Type": "text/plain"}
        )
        assert simple.status_code == 415
        assert client.get(f"{API}/list").json() == {"processes": []}


def test_any_host_without_a_token_is_refused_at_start() -> None:
    """`agentproc serve --allowed-host '*'` without a token is a usage error, status 2."""
    result = subprocess.run(
        [sys.executable, "-m", "agentproc", "serve", "--port", "0", "--allowed-host", "*"],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "--allowed-host" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr
