"""``uds=``: the SDK connects through a Unix socket, end to end against a real agent.

The agent app is served by the agent's own ``AgentServer`` on a Unix socket in a private
directory; the clients reach it with ``uds=`` and nothing else, so a request that went over
TCP would have nowhere to go.
"""

from __future__ import annotations

import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from agentproc.app import create_app
from agentproc.settings import Settings
from agentsdk import (
    AgentConn,
    APIConnectionError,
    AsyncAgentConn,
    AsyncControlPlaneClient,
    ControlPlaneClient,
    NotFoundError,
)
from tests.conftest import serve_in_thread

TOKEN = "uds-token"
SAFETY_WAIT_MS = 60_000
"""Safety net for waits on processes the test has already ended; they return at exit."""


@pytest.fixture
def agent_socket() -> Iterator[Path]:
    """A real agent (with a token) listening on a Unix socket, until the test ends."""
    # A short private directory: socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="agentproc-") as directory:
        path = Path(directory, "agent.sock")
        with serve_in_thread(create_app(Settings(token=TOKEN)), uds=path):
            assert stat.S_ISSOCK(path.stat().st_mode)
            yield path


def test_sync_client_drives_the_agent_over_a_unix_socket(agent_socket: Path) -> None:
    """start, output, list and signal all work over the socket, chat scoping included."""
    chat = str(uuid.uuid4())
    with AgentConn(
        "http://localhost", token=TOKEN, uds=agent_socket, headers={"Coder-Chat-Id": chat}
    ) as conn:
        echoed = conn.start_process(command='printf "over-uds %s" "$CODER_CHAT_ID"')
        result = conn.process_output(echoed.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
        assert (result.output, result.exit_code) == (f"over-uds {chat}", 0)

        sleeper = conn.start_process(command="sleep 300")
        listed = {p.id for p in conn.list_processes().processes}
        assert listed == {echoed.id, sleeper.id}
        conn.signal_process(sleeper.id, "kill")
        ended = conn.process_output(sleeper.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
        assert (ended.running, ended.exit_code) == (False, -1)

        with pytest.raises(NotFoundError):
            conn.process_output(echoed.id, extra_headers={"Coder-Chat-Id": str(uuid.uuid4())})


@pytest.mark.anyio
async def test_async_client_drives_the_agent_over_a_unix_socket(agent_socket: Path) -> None:
    """The async twin does the same over the socket, its path given as a string."""
    async with AsyncAgentConn("http://localhost", token=TOKEN, uds=str(agent_socket)) as conn:
        sleeper = await conn.start_process(command="echo started; sleep 300")
        assert sleeper.id in {p.id for p in (await conn.list_processes()).processes}
        # Terminated only once it printed: no event tells, so poll, bounded.
        with anyio.fail_after(SAFETY_WAIT_MS / 1000):
            while True:
                if (await conn.process_output(sleeper.id)).output == "started\n":
                    break
                await anyio.sleep(0.01)
        await conn.signal_process(sleeper.id, "terminate")
        ended = await conn.process_output(sleeper.id, wait=True, timeout_ms=SAFETY_WAIT_MS)
        assert (ended.output, ended.running, ended.exit_code) == ("started\n", False, -1)


@pytest.mark.anyio
async def test_unix_socket_without_a_server_raises_connection_error(tmp_path: Path) -> None:
    """A socket nobody listens on is an APIConnectionError naming the request, not a hang."""
    # Async only: httpcore's sync backend (1.0.9) leaves the socket of a failed Unix connect
    # to the garbage collector, which warnings-as-errors would report against this test.
    missing = tmp_path / "missing.sock"
    async with AsyncAgentConn("http://localhost", uds=missing, max_retries=0) as conn:
        with pytest.raises(APIConnectionError, match="GET http://localhost/api/v0/processes/list"):
            await conn.list_processes()


@pytest.mark.parametrize(
    "client_type", [AgentConn, ControlPlaneClient], ids=["agent", "control-plane"]
)
def test_uds_with_a_transport_or_client_is_refused(
    client_type: type[AgentConn] | type[ControlPlaneClient],
) -> None:
    """uds decides the connection, so a transport or an http_client beside it is a mistake."""
    with pytest.raises(ValueError, match="not more than one"):
        client_type("http://localhost", uds="/run/agent.sock", transport=httpx.HTTPTransport())
    with httpx.Client() as http_client, pytest.raises(ValueError, match="not more than one"):
        client_type("http://localhost", uds="/run/agent.sock", http_client=http_client)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "client_type", [AsyncAgentConn, AsyncControlPlaneClient], ids=["agent", "control-plane"]
)
async def test_async_uds_with_a_transport_or_client_is_refused(
    client_type: type[AsyncAgentConn] | type[AsyncControlPlaneClient],
) -> None:
    """The async clients refuse the same combinations."""
    with pytest.raises(ValueError, match="not more than one"):
        client_type("http://localhost", uds="/run/agent.sock", transport=httpx.AsyncHTTPTransport())
    async with httpx.AsyncClient() as http_client:
        with pytest.raises(ValueError, match="not more than one"):
            client_type("http://localhost", uds="/run/agent.sock", http_client=http_client)


@pytest.mark.parametrize("uds", ["", 7, b"/run/agent.sock"])
def test_uds_must_be_a_socket_path(uds: object) -> None:
    """An empty or non-path uds is refused at once."""
    with pytest.raises(ValueError, match="socket path"):
        AgentConn("http://localhost", uds=uds)  # type: ignore[arg-type]
