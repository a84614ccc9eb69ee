"""Chat-scoped git credentials end to end, with real git, a real agent and a real control plane.

A chat's ``execute`` runs ``git ls-remote`` against a remote on 127.0.0.1 that demands
credentials. Git runs ``agentproc-askpass`` (the agent put it in ``GIT_ASKPASS``), which asks
the control plane (uvicorn, hosting ``chattool.gitauth``'s router) with the chat id the agent
put in ``CODER_CHAT_ID``. The control plane hands out the token and refreshes that chat only.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from fastapi import FastAPI, Request, Response

from agentproc.askpass import askpass_environment
from agentproc.settings import Settings
from agentsdk import AsyncAgentConn
from agentsdk.types import ExternalAuthResponse
from chattool import ExecuteTool, chat_connection
from chattool.gitauth import (
    REFRESH_SCHEDULE,
    ExternalAuthProvider,
    GitRefresher,
    InMemoryChatStore,
    InMemoryTokenLookup,
    RefreshReport,
    WorkspaceIdentity,
    create_external_auth_router,
)
from tests.askpass._servers import GitRemote, git_remote, isolated_git_env
from tests.conftest import LiveAgent, serve_in_thread

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

AGENT_TOKEN = "workspace-agent-token"
"""What the agent presents to the control plane (``CODER_AGENT_TOKEN``)."""

PROVIDER_TOKEN = "glpat-secret"
"""The user's git provider token the control plane hands to git."""

WORKSPACE_ID = "ws-1"
CHAT_A = str(uuid.uuid4())
CHAT_B = str(uuid.uuid4())
OTHER_WORKSPACE_CHAT = str(uuid.uuid4())
REPORT_TIMEOUT_SECONDS = 30.0
"""Safety net only: each wait ends when the control plane reports a finished job."""

MakeAgent = Callable[[Settings], AbstractContextManager[LiveAgent]]


def git(*args: str, cwd: Path) -> str:
    """Run a git command that must succeed, away from the machine's configuration."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **isolated_git_env()},
    )
    return done.stdout


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitRemote]:
    """A one-commit repository served at ``/repo.git``, only with GitLab-style credentials."""
    seed, root = tmp_path / "seed", tmp_path / "remote"
    seed.mkdir()
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=seed)
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
        cwd=seed,
    )
    git("clone", "-q", "--bare", str(seed), str(root / "repo.git"), cwd=tmp_path)
    with git_remote(root, username="oauth2", password=PROVIDER_TOKEN) as served:
        yield served


@pytest.fixture
def workspace_repo(tmp_path: Path, remote: GitRemote) -> Path:
    """The workspace's clone-to-be: branch ``main``, origin on the protected remote."""
    repo = tmp_path / "workspace"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("remote", "add", "origin", f"{remote.base_url}/repo.git", cwd=repo)
    return repo


class CountingLookup(InMemoryTokenLookup):
    """Counts the answers that carried a token: each one starts exactly one refresh job."""

    token_answers: int = 0

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        answer = await super().external_auth(workspace, match=match, provider_id=provider_id)
        if answer is not None and not answer.url:
            self.token_answers += 1
        return answer


@dataclass
class ControlPlane:
    """The running control plane: where it is, what it was asked, and what it refreshed."""

    base_url: str
    store: InMemoryChatStore
    lookup: CountingLookup
    queries: list[str]
    reports: queue.Queue[RefreshReport] = field(default_factory=queue.Queue)

    async def finished_jobs(self) -> list[RefreshReport]:
        """Every refresh job the askpass calls started, once each has finished."""
        return [
            await anyio.to_thread.run_sync(self.reports.get, True, REPORT_TIMEOUT_SECONDS)
            for _ in range(self.lookup.token_answers)
        ]


async def no_sleep(seconds: float) -> None:
    """The schedule's pauses, without the wait."""
    await anyio.lowlevel.checkpoint()


@pytest.fixture
def control_plane(remote: GitRemote) -> Iterator[ControlPlane]:
    """uvicorn on 127.0.0.1 hosting the router, two chats on the workspace and one elsewhere."""
    store = InMemoryChatStore()
    store.add_chat(CHAT_A, WORKSPACE_ID)
    store.add_chat(CHAT_B, WORKSPACE_ID)
    store.add_chat(OTHER_WORKSPACE_CHAT, "ws-2")
    lookup = CountingLookup(
        agents={AGENT_TOKEN: WorkspaceIdentity(WORKSPACE_ID, owner_id="alice")},
        providers=[
            ExternalAuthProvider(
                id="local-gitlab",
                url_pattern="^" + remote.base_url.replace(".", r"\."),
                type="gitlab",
            )
        ],
        tokens={("alice", "local-gitlab"): PROVIDER_TOKEN},
    )
    queries: list[str] = []
    plane = ControlPlane(base_url="", store=store, lookup=lookup, queries=queries)
    refresher = GitRefresher(store, sleep=no_sleep, on_done=plane.reports.put)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with refresher:
            yield

    app = FastAPI(lifespan=lifespan)

    @app.middleware("http")
    async def record_query(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        queries.append(request.url.query)
        return await call_next(request)

    app.include_router(create_external_auth_router(lookup, refresher=refresher))
    with serve_in_thread(app) as served:
        plane.base_url = served.base_url
        yield plane


@pytest.fixture
def agent(make_live_agent: MakeAgent, control_plane: ControlPlane) -> Iterator[LiveAgent]:
    """A real agent configured as ``serve --git-askpass`` configures it."""
    env = {**askpass_environment(control_plane.base_url, AGENT_TOKEN), **isolated_git_env()}
    with make_live_agent(Settings(token="agent-api-token", env=env)) as live:
        yield live


async def run_git(tool: ExecuteTool, repo: Path) -> dict[str, Any]:
    """Run ``git ls-remote origin`` through the execute tool; return the result's JSON."""
    arguments = {"command": "git ls-remote origin", "workdir": str(repo), "timeout": "60s"}
    result = await tool.run(json.dumps(arguments))
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


async def test_a_chats_git_gets_credentials_and_refreshes_only_that_chat(
    agent: LiveAgent, control_plane: ControlPlane, remote: GitRemote, workspace_repo: Path
) -> None:
    """Git authenticates through the askpass; the control plane refreshes chat A and only A."""
    head = git("rev-parse", "HEAD", cwd=remote.root / "repo.git").strip()
    async with chat_connection(agent.base_url, CHAT_A, token=agent.token) as connection:
        data = await run_git(ExecuteTool(connection, chat_id=CHAT_A), workspace_repo)
    assert data["success"] is True, data
    assert f"{head}\trefs/heads/main" in data["output"]
    assert remote.denied >= 1
    assert "/repo.git/info/refs" in remote.served

    jobs = await control_plane.finished_jobs()
    assert len(jobs) == 2, "git asks for the username, then the password"
    assert all(f"chat_id={CHAT_A}" in query for query in control_plane.queries)
    origin = f"{remote.base_url}/repo.git"
    for job in jobs:
        assert (job.ref.chat_id, job.ref.branch, job.ref.origin) == (CHAT_A, "main", origin)
        assert job.chats == (CHAT_A,)
        assert job.errors == ()
    a = control_plane.store.status(CHAT_A)
    assert (a.git_branch, a.git_remote_origin) == ("main", origin)
    assert a.stale_marks == len(jobs)
    assert a.refreshes == len(jobs) * len(REFRESH_SCHEDULE)
    untouched = control_plane.store.status(CHAT_B)
    assert (untouched.git_branch, untouched.stale_marks, untouched.refreshes) == ("", 0, 0)


async def test_git_outside_any_chat_refreshes_every_chat_of_the_workspace(
    agent: LiveAgent, control_plane: ControlPlane, remote: GitRemote, workspace_repo: Path
) -> None:
    """Without a chat id, both chats of the workspace are refreshed, and no other workspace's."""
    async with AsyncAgentConn(agent.base_url, token=agent.token) as connection:
        data = await run_git(ExecuteTool(connection), workspace_repo)
    assert data["success"] is True, data

    jobs = await control_plane.finished_jobs()
    assert len(jobs) == 2
    assert not any("chat_id=" in query for query in control_plane.queries)
    for job in jobs:
        assert job.ref.chat_id is None
        assert job.chats == (CHAT_A, CHAT_B)
    for chat in (CHAT_A, CHAT_B):
        status = control_plane.store.status(chat)
        assert (status.git_branch, status.stale_marks) == ("main", len(jobs))
        assert status.refreshes == len(jobs) * len(REFRESH_SCHEDULE)
    assert control_plane.store.status(OTHER_WORKSPACE_CHAT).stale_marks == 0


async def test_an_unknown_host_falls_back_to_gits_own_behaviour(
    agent: LiveAgent, control_plane: ControlPlane, remote: GitRemote, workspace_repo: Path
) -> None:
    """With no provider for the host, the askpass exits non-zero and git fails on its own terms."""
    control_plane.lookup.providers.clear()
    async with chat_connection(agent.base_url, CHAT_A, token=agent.token) as connection:
        data = await run_git(ExecuteTool(connection, chat_id=CHAT_A), workspace_repo)
    assert data["success"] is False
    assert "git falls back to its default behaviour" in data["output"]
    assert "terminal prompts disabled" in data["output"]
    assert control_plane.lookup.token_answers == 0
    assert control_plane.store.status(CHAT_A).stale_marks == 0
    assert remote.served == []
