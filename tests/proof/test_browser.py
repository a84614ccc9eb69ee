"""Swagger UI at ``/docs`` works in a real browser with no route to the internet, and no
other web page can drive the agent through that browser.

Debian's Chromium is driven through Debian's chromedriver over the W3C WebDriver protocol,
which is plain JSON over HTTP, so httpx (already a dependency) is the whole client. Every
request the browser would send off this machine goes to a proxy port where nothing listens,
so the page can only work if the agent serves everything it needs itself. The one exception
is a made-up hostile name that the browser resolves to 127.0.0.1, as DNS rebinding would.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from agentproc.settings import Settings
from tests.conftest import TLS_CONTEXT, LiveAgent, run_live_agent, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "run scripts/install-test-deps.sh (apt-get install chromium chromium-driver)"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the suite may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)
"""A quiet, offline-friendly headless Chromium: no updaters, no sync, no first-run pages."""

DRIVER_READY = re.compile(rb"started successfully on port (\d+)")
"""What chromedriver prints once it listens; ``--port=0`` lets the OS pick the port."""

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
"""The W3C WebDriver key under which an element reference is returned."""

IMPLICIT_WAIT_MS = 30_000
"""Element look-ups wait for the element to appear; a safety net, not a pace."""

STARTUP_TIMEOUT_SECONDS = 30.0
"""Safety net for chromedriver to say it listens."""

REBOUND_NAME = "rebound.example"
"""A hostile name the browser resolves to 127.0.0.1, as after DNS rebinding."""

STOP_TIMEOUT_SECONDS = 10.0
"""How long chromedriver gets to exit on SIGTERM before its process group is killed."""

OPERATIONS = {
    "health-healthz": "/healthz",
    "processes-start_process": "/api/v0/processes/start",
    "processes-run_process": "/api/v0/processes/run",
    "processes-list_processes": "/api/v0/processes/list",
    "processes-process_output": "/api/v0/processes/{id}/output",
    "processes-signal_process": "/api/v0/processes/{id}/signal",
    "processes-process_input": "/api/v0/processes/{id}/input",
    "processes-stream_output": "/api/v0/processes/{id}/stream",
    "processes-resize_terminal": "/api/v0/processes/{id}/resize",
    "processes-process_screen": "/api/v0/processes/{id}/screen",
}
"""Swagger UI's element id suffix (``operations-<tag>-<operationId>``) for each path."""


class WebDriver:
    """Just enough of the W3C WebDriver protocol to click through Swagger UI."""

    def __init__(self, http: httpx.Client, session_id: str) -> None:
        self._http = http
        self._base = f"/session/{session_id}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"{self._base}{path}", json=body)
        value = response.json()["value"]
        if response.status_code != 200:
            raise AssertionError(f"WebDriver {method} {path}: {value}")
        return value

    def open(self, url: str) -> None:
        """Navigate and wait for the page's load event."""
        self._call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        """The first element matching ``css``, waiting up to the implicit wait for it."""
        element: str = self._call("POST", "/element", {"using": "css selector", "value": css})[
            ELEMENT_KEY
        ]
        return element

    def texts(self, css: str) -> list[str]:
        """The rendered text of every element matching ``css`` now."""
        found = self._call("POST", "/elements", {"using": "css selector", "value": css})
        return [self._call("GET", f"/element/{e[ELEMENT_KEY]}/text") for e in found]

    def click(self, css: str) -> None:
        """Click the first element matching ``css`` as a user would (scrolls it into view)."""
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def clear(self, css: str) -> None:
        """Empty the first input or textarea matching ``css``."""
        self._call("POST", f"/element/{self.find(css)}/clear", {})

    def type(self, css: str, text: str) -> None:
        """Type ``text`` into the first element matching ``css``."""
        self._call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def text(self, css: str) -> str:
        """The rendered text of the first element matching ``css``."""
        value: str = self._call("GET", f"/element/{self.find(css)}/text")
        return value

    def run(self, script: str, *args: str) -> Any:
        """Run JavaScript in the page with ``arguments`` ``args``; a promise is awaited."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def new_tab(self) -> None:
        """Switch to a new blank tab and close every other one."""
        fresh: str = self._call("POST", "/window/new", {"type": "tab"})["handle"]
        for handle in self._call("GET", "/window/handles"):
            if handle != fresh:
                self._call("POST", "/window", {"handle": handle})
                self._call("DELETE", "/window")
        self._call("POST", "/window", {"handle": fresh})

    def screenshot(self, path: Path) -> None:
        """Save the viewport as a PNG, for a person reading a failure."""
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))


def _require_browser() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: {INSTALL_HINT}")
        pytest.skip(f"{CHROMIUM} is not installed; {INSTALL_HINT}")
    if not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMIUM} is installed but {CHROMEDRIVER} is not: {INSTALL_HINT}")


def _read_port(driver: subprocess.Popen[bytes]) -> int:
    assert driver.stdout is not None
    seen = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(driver.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                break
            chunk = os.read(driver.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if match := DRIVER_READY.search(seen):
                return int(match.group(1))
    raise AssertionError(f"chromedriver did not start: {seen.decode(errors='replace')}")


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    # Bound but never listening: every connection to it is refused at once, and holding it
    # open keeps any other program from taking the port while the browser uses it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class Chromium:
    """A running headless Chromium, driven through chromedriver's one session."""

    http: httpx.Client
    """chromedriver's HTTP API."""

    session_id: str


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A headless Chromium whose only reachable network is this machine's loopback.

    One for the module: starting Chromium takes longer than most of these tests, and each
    test gets a tab of its own (:func:`browser`).
    """
    _require_browser()
    driver = subprocess.Popen(
        [str(CHROMEDRIVER), "--port=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group holds chromedriver and every Chromium
    )
    try:
        port = _read_port(driver)
        with (
            _closed_port() as dead_proxy,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=60, verify=TLS_CONTEXT
            ) as http,
        ):
            flags = [
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path_factory.mktemp('profile')}",
                # Loopback bypasses a proxy by default; everything else meets a closed port.
                f"--proxy-server=http://127.0.0.1:{dead_proxy}",
                f"--proxy-bypass-list={REBOUND_NAME}",
                f"--host-resolver-rules=MAP {REBOUND_NAME} 127.0.0.1",
            ]
            created = http.post(
                "/session",
                json={
                    "capabilities": {
                        "alwaysMatch": {
                            "browserName": "chrome",
                            "timeouts": {"implicit": IMPLICIT_WAIT_MS},
                            "goog:chromeOptions": {"binary": str(CHROMIUM), "args": flags},
                        }
                    }
                },
            )
            assert created.status_code == 200, created.text
            session_id = created.json()["value"]["sessionId"]
            try:
                yield Chromium(http, session_id)
            finally:
                http.delete(f"/session/{session_id}")
    finally:
        driver.terminate()
        try:
            driver.wait(STOP_TIMEOUT_SECONDS)
        finally:
            # Chromium's helpers share the group; none may outlive the module.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
            if driver.stdout is not None:
                driver.stdout.close()


@pytest.fixture
def browser(chromium: Chromium) -> WebDriver:
    """The module's Chromium in a new tab, the tabs of earlier tests closed: no page state
    (scripts, a typed token) carries over from one test to the next."""
    web = WebDriver(chromium.http, chromium.session_id)
    web.new_tab()
    return web


def test_docs_render_every_operation_from_the_agent_alone(
    browser: WebDriver, live_agent: LiveAgent
) -> None:
    """/docs renders every operation, with every script and style served by the agent."""
    browser.open(f"{live_agent.base_url}/docs")
    for element_id in OPERATIONS:
        browser.find(f"#operations-{element_id}")
    paths = browser.texts(".opblock-summary-path")
    assert sorted(p.replace("\u200b", "") for p in paths) == sorted(OPERATIONS.values())

    loaded = browser.run(
        "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"
    )
    assert loaded, "the page loaded nothing"
    assert [url for url in loaded if not url.startswith(f"{live_agent.base_url}/")] == []


def _authorize(browser: WebDriver, token: str | None) -> None:
    browser.click(".auth-wrapper .authorize")
    browser.type(".auth-container input", token or "")
    browser.click(".auth-btn-wrapper .authorize")
    browser.click(".auth-btn-wrapper .btn-done")


def test_try_it_out_lists_processes_with_the_token(
    browser: WebDriver, live_agent: LiveAgent, tmp_path: Path
) -> None:
    """Authorize with the token, then Try it out → Execute on /list answers 200 with a process."""
    with live_agent.client() as api:
        started = api.post("/api/v0/processes/start", json={"command": "echo from-the-browser"})
        assert started.status_code == 200, started.text
        process_id = started.json()["id"]

    browser.open(f"{live_agent.base_url}/docs")
    try:
        _authorize(browser, live_agent.token)
        operation = "#operations-processes-list_processes"
        browser.click(f"{operation} .opblock-summary")
        browser.click(f"{operation} .try-out__btn")
        browser.click(f"{operation} .execute")

        status = browser.text(f"{operation} .live-responses-table .response .response-col_status")
        body = browser.text(f"{operation} .live-responses-table .response-col_description pre")
    except AssertionError:
        browser.screenshot(tmp_path / "docs.png")
        raise
    assert status == "200", f"screenshot: {tmp_path / 'docs.png'}"
    assert process_id in body
    assert '"processes"' in body


def test_try_it_out_starts_a_process_from_the_agents_own_origin(
    browser: WebDriver,
    live_agent: LiveAgent,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Try it out → Execute on /start (a POST, so Chromium sends Origin) starts the command."""
    # Typed a key at a time, each redrawing the page (about 30 ms a key): a short path.
    marker = tmp_path_factory.mktemp("docs") / "started"
    browser.open(f"{live_agent.base_url}/docs")
    try:
        _authorize(browser, live_agent.token)
        operation = "#operations-processes-start_process"
        body = f"{operation} textarea.body-param__text"
        browser.click(f"{operation} .opblock-summary")
        browser.click(f"{operation} .try-out__btn")
        browser.clear(body)
        browser.type(body, json.dumps({"command": f"touch {marker}"}))
        browser.click(f"{operation} .execute")

        status = browser.text(f"{operation} .live-responses-table .response .response-col_status")
        answer = browser.text(f"{operation} .live-responses-table .response-col_description pre")
    except AssertionError:
        browser.screenshot(tmp_path / "docs.png")
        raise
    assert status == "200", f"{answer}; screenshot: {tmp_path / 'docs.png'}"
    process_id = json.loads(answer)["id"]
    with live_agent.client() as api:
        output = api.get(
            f"/api/v0/processes/{process_id}/output",
            params={"wait": "true", "timeout_ms": "60000"},
        )
    assert output.json()["exit_code"] == 0
    assert marker.exists()


SIMPLE_POSTS = """
const [url, body] = arguments;
const sent = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"].map(
  type => fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": type}, body})
    .then(response => response.type, error => "failed: " + error));
return Promise.all(sent);
"""
"""What any page can send anywhere with no preflight: a body of each CORS-safelisted type."""

SAME_ORIGIN_CALLS = """
const [start, list, body] = arguments;
return Promise.all([
  fetch(start, {method: "POST", headers: {"Content-Type": "application/json"}, body}),
  fetch(list),
]).then(responses => Promise.all(responses.map(r => r.text().then(text => [r.status, text]))));
"""
"""What a page of a name rebound to the agent can send and read: it is same-origin there."""


@pytest.fixture
def hostile_page() -> Iterator[str]:
    """The URL of a page on another origin than the agent's (another port of 127.0.0.1)."""
    app = FastAPI()

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>a page the user happens to visit</title>")

    with serve_in_thread(app) as served:
        yield f"{served.base_url}/"


def test_a_page_of_another_origin_cannot_start_a_process(
    browser: WebDriver, hostile_page: str, tmp_path: Path
) -> None:
    """A page's no-preflight posts of a start body reach the agent and run nothing.

    Two rules refuse them, each on its own: their Content-Type and their Origin.
    """
    marker = tmp_path / "started-by-a-web-page"
    start = json.dumps({"command": f"touch {marker}"})
    with run_live_agent(Settings()) as agent:
        browser.open(hostile_page)
        outcomes = browser.run(SIMPLE_POSTS, f"{agent.base_url}/api/v0/processes/start", start)
        # Opaque: each request reached the agent and got an answer the page cannot read.
        assert outcomes == ["opaque", "opaque", "opaque"]
        with httpx.Client(base_url=agent.base_url) as api:
            assert api.get("/api/v0/processes/list").json() == {"processes": []}
    assert not marker.exists()


def test_a_page_of_a_rebound_name_cannot_use_the_agent(browser: WebDriver, tmp_path: Path) -> None:
    """A name resolved to the agent makes its pages same-origin; the Host check refuses them."""
    marker = tmp_path / "started-by-a-rebound-page"
    with run_live_agent(Settings()) as agent:
        port = agent.base_url.rpartition(":")[2]
        browser.open(f"http://{REBOUND_NAME}:{port}/docs")
        assert f'Host \\"{REBOUND_NAME}:{port}\\" is not allowed.' in browser.text("body")
        answers = browser.run(
            SAME_ORIGIN_CALLS,
            "/api/v0/processes/start",
            "/api/v0/processes/list",
            json.dumps({"command": f"touch {marker}"}),
        )
        assert [status for status, _ in answers] == [400, 400]
        assert all(REBOUND_NAME in text for _, text in answers)
        with httpx.Client(base_url=agent.base_url) as api:
            assert api.get("/api/v0/processes/list").json() == {"processes": []}
    assert not marker.exists()
