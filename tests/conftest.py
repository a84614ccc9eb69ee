"""Shared fixtures and helpers: a real agent, and other apps, on 127.0.0.1.

In a background thread of the test process (:func:`serve_in_thread`, :func:`run_live_agent`,
the ``live_agent`` fixture) or as a process of its own (:func:`serve_agent`).
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from xdist.remote import Producer
from xdist.scheduler.protocol import Scheduling

from agentproc.app import create_app
from agentproc.connections import ConnectionGuard
from agentproc.server import AgentServer, protocol_options
from agentproc.settings import DEFAULT_HEADER_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS, Settings
from agentproc.speedups import (
    AUTO,
    HTTP_VARIABLE,
    LOOP_VARIABLE,
    event_loop,
    http_parser,
    installed,
)
from agentsdk import _h1 as sdk_h1
from tests._agent_fork import ForkedAgent, fork_agent
from tests._first_collection import build_codec_table, import_from_own_share
from tests._scheduling import SuiteScheduling, order_collection

TEST_TOKEN = "test-token"
SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: startup, shutdown and calls on the loop each end on an event first."""

PORT_LINE = re.compile(r"process API at http://127\.0\.0\.1:(\d+)/api/v0/processes")
"""What ``agentproc serve`` logs once it listens; the OS picks the port (``--port 0``)."""

SERVED_TOKEN = "served-token"
"""The bearer token of agents started by :func:`serve_agent` unless a test picks its own."""

TLS_CONTEXT = httpx.create_ssl_context()
"""One TLS context for the test clients (``verify=TLS_CONTEXT``): a client given none loads the
CA bundle anew, about 40 ms of CPU each, though the tests speak plain HTTP."""


HTTP_PARSERS = [
    pytest.param("h11", id="h11"),
    pytest.param(
        "httptools",
        id="httptools",
        marks=pytest.mark.skipif(not installed("httptools"), reason="httptools not installed"),
    ),
]
"""uvicorn's two HTTP parsers, for ``parametrize``: the tests of malformed requests run on
each, since httptools lets through some requests that h11 refuses."""


def pytest_configure(config: pytest.Config) -> None:
    """Commands the tests run behave as on a user's machine, not as steps of ``make test``;
    in the fallback run, the SDK sends as it does without httptools; a parallel run builds
    what its workers would each build at once (:mod:`tests._first_collection`).

    Run from ``make test``, the suite inherits make's recursion state (``MAKELEVEL``,
    ``MAKEFLAGS``), and every command an agent of the tests starts would inherit it too: a
    ``make`` there would then print "Entering directory" as a sub-make does.
    """
    for name in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
        os.environ.pop(name, None)
    if server_http() == "h11":
        # The run without httptools: the SDK's clients send as they do where it is missing,
        # through httpx's own transport.
        sdk_h1.AVAILABLE = False
    build_codec_table(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """A worker of a parallel run first imports the test modules from its own share on, so
    that on a fresh clone each module's asserts are rewritten once, not once per worker
    (:mod:`tests._first_collection`)."""
    import_from_own_share(session.config)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse two tests with one node id: a parallel run (pytest-xdist) hands out tests by
    node id, so it would run only one of them and say nothing of the other. Then put the
    files in the order a parallel run hands them out (:mod:`tests._scheduling`); a worker
    cannot tell which mode its run is in, and the order does not matter to a serial run."""
    shared = sorted(nodeid for nodeid, n in Counter(i.nodeid for i in items).items() if n > 1)
    if shared:
        raise pytest.UsageError(f"tests share a node id: {shared}")
    order_collection(items)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(
    config: pytest.Config,
) -> Generator[None, int | pytest.ExitCode, int | pytest.ExitCode]:
    """A worker of a parallel run leaves as soon as its session is over, skipping the
    interpreter's teardown.

    xdist stops its workers together, once the last is done: each then spent 1-2 s of CPU
    freeing what the suite had built, all at once on the same cores, and the run waited
    about 5 s for them. By now every fixture is torn down, the last garbage collection has
    reported what tests left unclosed, and the results have gone to the controller, which
    expects the worker's channel to close after them.
    """
    status = yield
    if hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))
    return status


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """``--dist loadfile`` as :mod:`tests._scheduling` shapes it; other modes are xdist's."""
    if config.getvalue("dist") != "loadfile":
        return None
    return SuiteScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Agents served by the command line keep records under ``$XDG_STATE_HOME`` by default:
    point it at a temporary directory, so that no test writes into the user's home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
        yield


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio, which is what uvicorn serves on."""
    return "asyncio"


@dataclass(frozen=True)
class LiveAgent:
    """A running agent: where it listens and how to authenticate."""

    base_url: str
    token: str | None
    settings: Settings
    open_requests: Callable[[], int]
    """How many requests the server is handling right now (uvicorn's task count)."""

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for this agent (empty when it has no token)."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A plain httpx client for this agent, authenticated."""
        return httpx.Client(
            base_url=self.base_url,
            headers={**self.headers, **(headers or {})},
            timeout=30,
            verify=TLS_CONTEXT,
        )


@dataclass(frozen=True)
class ServedApp:
    """An ASGI app served by uvicorn in a background thread of the test process."""

    base_url: str
    """``http://127.0.0.1:<port>``, or ``http://localhost`` on a Unix socket."""

    loop: asyncio.AbstractEventLoop
    """The server's event loop, where the app's tasks live."""

    open_requests: Callable[[], int]
    """How many requests the server is handling right now (uvicorn's task count)."""

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run ``function`` on the server's event loop and wait until it has run."""

        async def call() -> None:
            function()

        asyncio.run_coroutine_threadsafe(call(), self.loop).result(SAFETY_TIMEOUT_SECONDS)


class _ReadyServer(AgentServer):
    # Tells the test thread when the lifespan ran and the socket listens, and on which loop.
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config, app)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()


def server_http() -> str:
    """The HTTP parser test servers use: ``$AGENTPROC_HTTP``, else httptools when installed.

    ``AGENTPROC_HTTP=h11 AGENTPROC_LOOP=asyncio`` runs the suite's servers as an agent
    without uvloop and httptools runs; agents served by :func:`serve_agent` read the same
    variables.
    """
    return http_parser(os.environ.get(HTTP_VARIABLE, AUTO))


def server_loop() -> str:
    """The event loop test servers use: ``$AGENTPROC_LOOP``, else uvloop when installed."""
    return event_loop(os.environ.get(LOOP_VARIABLE, AUTO))


@contextmanager
def serve_in_thread(
    app: FastAPI, *, uds: Path | None = None, http: str | None = None
) -> Iterator[ServedApp]:
    """Serve ``app`` (lifespan included) on 127.0.0.1, a free port, until the block ends.

    With ``uds``, the app listens on that Unix socket instead of TCP. ``http`` picks the HTTP
    parser (``h11`` or ``httptools``) over :func:`server_http`'s; the event loop is
    :func:`server_loop`'s.

    The server is the agent's own :class:`~agentproc.server.AgentServer`, with the connection
    guard of ``agentproc serve`` at its default settings, so an agent app stops its processes
    before open requests are drained and refuses oversized headers, as in production; for any
    other app the shutdown hook does nothing. The caller keeps ``app`` and can act on it through
    :meth:`ServedApp.call_soon` (e.g. ``agentproc.app.begin_shutdown(app)``).
    """
    guard = ConnectionGuard(
        header_timeout=DEFAULT_HEADER_TIMEOUT_SECONDS, max_connections=DEFAULT_MAX_CONNECTIONS
    )
    how = protocol_options(guard, http or server_http(), server_loop())
    if uds is None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **how
        )
    else:
        config = uvicorn.Config(app, uds=str(uds), log_level="warning", lifespan="on", **how)
    server = _ReadyServer(config, app)
    thread = threading.Thread(target=server.run, name="served-app", daemon=True)
    thread.start()
    if not server.ready.wait(SAFETY_TIMEOUT_SECONDS) or not server.started:
        server.should_exit = True
        thread.join(SAFETY_TIMEOUT_SECONDS)
        raise RuntimeError("the app did not start")
    assert server.loop is not None
    if uds is None:
        base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    else:
        base_url = "http://localhost"
    try:
        yield ServedApp(
            base_url,
            server.loop,
            open_requests=lambda: len(server.server_state.tasks),
        )
    finally:
        server.should_exit = True
        thread.join(SAFETY_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise RuntimeError("the app did not stop")


@contextmanager
def run_live_agent(settings: Settings, *, http: str | None = None) -> Iterator[LiveAgent]:
    """Serve ``create_app(settings)`` on 127.0.0.1 (a free port) until the block ends, on the
    HTTP parser ``http`` (``h11`` or ``httptools``; :func:`server_http`'s by default)."""
    with serve_in_thread(create_app(settings), http=http) as served:
        yield LiveAgent(
            served.base_url, settings.token, settings, open_requests=served.open_requests
        )


@dataclass
class ServedAgent:
    """``agentproc serve`` running as a process of its own (see :func:`serve_agent`)."""

    process: subprocess.Popen[str] | ForkedAgent
    base_url: str
    token: str
    state_dir: Path
    """Where the agent keeps its records (``--state-dir``)."""
    log: list[str] = field(default_factory=list)
    """Every line the agent wrote so far, stdout (the access log) and stderr interleaved."""

    @property
    def pid(self) -> int:
        """The agent's process id."""
        return self.process.pid

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for this agent."""
        return {"Authorization": f"Bearer {self.token}"}

    def client(self) -> httpx.Client:
        """A plain httpx client for this agent, authenticated."""
        return httpx.Client(
            base_url=self.base_url,
            headers=self.headers,
            timeout=SAFETY_TIMEOUT_SECONDS,
            verify=TLS_CONTEXT,
        )

    def log_text(self, last: int | None = None) -> str:
        """The agent's log as one string, or only its ``last`` lines, for failure messages."""
        return "".join(self.log if last is None else self.log[-last:])

    def memory_kib(self, field_name: str) -> int:
        """A memory figure of the agent from ``/proc/<pid>/status`` (e.g. VmRSS, VmHWM)."""
        for line in Path("/proc", str(self.pid), "status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field_name:
                return int(value.split()[0])
        raise AssertionError(f"{field_name} missing from /proc/{self.pid}/status")

    def stop(self) -> int:
        """SIGTERM the agent and wait for it to exit; returns its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(SAFETY_TIMEOUT_SECONDS)


def _pump_log(stream: Iterator[str], lines: list[str], ports: queue.Queue[int | None]) -> None:
    # Keeps draining the agent's output so a full pipe never blocks its logging.
    for line in stream:
        lines.append(line)
        match = PORT_LINE.search(line)
        if match:
            ports.put(int(match.group(1)))
    ports.put(None)


@contextmanager
def serve_agent(
    *flags: str,
    token: str = SERVED_TOKEN,
    wrapper: Sequence[str] = (),
    state_dir: Path | None = None,
) -> Iterator[ServedAgent]:
    """Run ``agentproc serve --port 0`` with ``flags`` as a process of its own until the
    block ends: forked from a process that imported the agent once (:mod:`tests._agent_fork`),
    or, with a ``wrapper``, as ``python -m agentproc serve``.

    Use it when a test needs the agent's own signals, exit status, memory or descriptors;
    :func:`run_live_agent` is lighter otherwise.

    Args:
        flags: extra command-line flags for ``serve`` (e.g. ``--workdir``, ``--log-level``).
        token: the bearer token the agent requires.
        wrapper: a command that execs the agent (e.g. ``setpriv`` dropping capabilities).
        state_dir: the agent's ``--state-dir``; a fresh temporary directory by default.
    """
    with ExitStack() as stack:
        if state_dir is None:
            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="state-")))
        with _served(flags, token, wrapper, state_dir) as agent:
            yield agent


@contextmanager
def _served(
    flags: Sequence[str], token: str, wrapper: Sequence[str], state_dir: Path
) -> Iterator[ServedAgent]:
    argv = ["serve", "--port", "0", "--token", token, "--state-dir", str(state_dir), *flags]
    process: subprocess.Popen[str] | ForkedAgent
    if wrapper:
        # The wrapper execs the agent: it has to be a command line.
        process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "agentproc", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    else:
        process = fork_agent(argv, os.environ, os.getcwd())
    assert process.stdout is not None
    lines: list[str] = []
    ports: queue.Queue[int | None] = queue.Queue()
    reader = threading.Thread(
        target=_pump_log, args=(process.stdout, lines, ports), name="agent-log", daemon=True
    )
    reader.start()
    try:
        try:
            port = ports.get(timeout=SAFETY_TIMEOUT_SECONDS)
        except queue.Empty:
            port = None
        assert port is not None, "the agent did not start:\n" + "".join(lines)
        yield ServedAgent(process, f"http://127.0.0.1:{port}", token, state_dir, lines)
    finally:
        if process.poll() is None:
            # Not stopped by the test (or it failed midway): SIGTERM lets the agent stop its
            # processes before it goes, and the log is complete once the reader is joined.
            process.terminate()
            try:
                process.wait(SAFETY_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(SAFETY_TIMEOUT_SECONDS)
        reader.join(SAFETY_TIMEOUT_SECONDS)
        process.stdout.close()


@pytest.fixture(scope="session")
def live_agent() -> Iterator[LiveAgent]:
    """One agent for the whole session, with token ``test-token``."""
    with run_live_agent(Settings(token=TEST_TOKEN)) as agent:
        yield agent


@pytest.fixture
def make_live_agent() -> Callable[[Settings], AbstractContextManager[LiveAgent]]:
    """Start an agent with custom settings: ``with make_live_agent(Settings(...)) as agent``."""
    return run_live_agent
