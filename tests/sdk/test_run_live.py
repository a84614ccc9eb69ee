"""``run_process`` against real agents on 127.0.0.1: one with ``/run``, and one without it,
answering as Coder's agent does (chi's plain-text 404), where the SDK falls back to a start
and a waiting output read, once per connection."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agentproc.app import create_app
from agentproc.settings import Settings
from agentsdk import AgentConn, AsyncAgentConn
from agentsdk.wire import API_PREFIX, RUN_PATH
from tests.conftest import TEST_TOKEN, LiveAgent, serve_in_thread

pytestmark = pytest.mark.e2e

COMMAND = "printf 'one\\ntwo\\n'; exit 4"


class CoderRoutes:
    """An agent's app as Coder's agent routes it: no ``/run`` (a plain-text 404); every
    request's path is recorded."""

    def __init__(self, app: ASGIApp, paths: list[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
            if scope["path"] == API_PREFIX + RUN_PATH:
                await PlainTextResponse("404 page not found\n", 404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def coder_like() -> Iterator[tuple[str, list[str]]]:
    """An agent without ``/run`` on 127.0.0.1: its base URL, and the paths it was asked for."""
    paths: list[str] = []
    app = create_app(Settings(token=TEST_TOKEN))
    app.add_middleware(CoderRoutes, paths=paths)
    with serve_in_thread(app) as served:
        yield served.base_url, paths


def test_run_process_is_one_request_to_an_agent_with_run(live_agent: LiveAgent) -> None:
    """Sync and async alike: the exit, the output and where it ends, in one answer."""
    with AgentConn(live_agent.base_url, token=TEST_TOKEN) as agent:
        ran = agent.run_process(command=COMMAND)

    async def run_async() -> None:
        async with AsyncAgentConn(live_agent.base_url, token=TEST_TOKEN) as agent:
            again = await agent.run_process(command=COMMAND)
        assert again.model_dump(exclude={"id"}) == ran.model_dump(exclude={"id"})

    anyio.run(run_async)
    assert (ran.started, ran.running, ran.exit_code) == (True, False, 4)
    assert ran.output == "one\ntwo\n"
    assert ran.total_bytes == ran.next_offset == 8


def test_run_process_falls_back_to_start_and_output_without_run(
    coder_like: tuple[str, list[str]],
) -> None:
    """Against an agent without ``/run``: the same result from a start and a waiting read, and
    each connection asks for ``/run`` only once."""
    base_url, paths = coder_like
    paths.clear()
    with AgentConn(base_url, token=TEST_TOKEN) as agent:
        first = agent.run_process(command=COMMAND)
        second = agent.run_process(command=COMMAND, wait_ms=60_000)

    async def run_async() -> None:
        async with AsyncAgentConn(base_url, token=TEST_TOKEN) as agent:
            for _ in range(2):
                result = await agent.run_process(command=COMMAND)
                assert (result.output, result.exit_code) == (first.output, 4)

    anyio.run(run_async)
    for result in (first, second):
        assert (result.started, result.running, result.exit_code) == (True, False, 4)
        assert result.output == "one\ntwo\n"
        assert result.total_bytes is None
    runs = [path for path in paths if path.endswith(RUN_PATH)]
    starts = [path for path in paths if path.endswith("/start")]
    assert (len(runs), len(starts)) == (2, 4), paths


QUESTION = "printf 'Ok to proceed? (y) '; read answer; echo \"got $answer\""


@pytest.mark.parametrize("with_run", [True, False], ids=["run", "fallback"])
def test_run_process_wakes_at_a_question_and_the_answer_finishes_it(
    live_agent: LiveAgent, coder_like: tuple[str, list[str]], with_run: bool
) -> None:
    """With ``wake_on_input`` the call answers at the question, with or without ``/run``;
    the input sent then finishes the command."""
    base_url = live_agent.base_url if with_run else coder_like[0]
    with AgentConn(base_url, token=TEST_TOKEN) as agent:
        asked = agent.run_process(command=QUESTION, stdin=True, wake_on_input=True)
        assert (asked.running, asked.waiting_for_input) == (True, True)
        assert asked.output == "Ok to proceed? (y) "
        agent.write_input(asked.id, "y\n")
        done = agent.process_output(asked.id, wait=True)
    assert (done.exit_code, done.output) == (0, "Ok to proceed? (y) got y\n")
