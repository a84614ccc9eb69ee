"""The control-plane router: authentication, answers, and which chats a token answer refreshes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import anyio
import httpx
import pytest
from fastapi import FastAPI

import agentsdk.wire
import chattool.gitauth
from agentproc.testing import lifespan_running
from agentsdk import parse_chat_id
from agentsdk.types import ExternalAuthResponse
from chattool.gitauth import (
    EXTERNAL_AUTH_PATH,
    REFRESH_SCHEDULE,
    GitRef,
    GitRefresher,
    InMemoryChatStore,
    InMemoryTokenLookup,
    RefreshReport,
    WorkspaceIdentity,
    create_external_auth_router,
)
from tests.chattool.gitauth._data import (
    AGENT_TOKEN,
    CHAT_A,
    CHAT_B,
    OTHER_WORKSPACE_CHAT,
    SAFETY_TIMEOUT,
    WORKSPACE,
    make_lookup,
    make_store,
    no_sleep,
)
from tests.conftest import TLS_CONTEXT

pytestmark = pytest.mark.anyio


@dataclass
class ControlPlane:
    """The router in an app, its store, and the reports of finished refresh jobs."""

    client: httpx.AsyncClient
    store: InMemoryChatStore
    lookup: InMemoryTokenLookup
    reports: list[RefreshReport] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)

    def finished(self, report: RefreshReport) -> None:
        self.reports.append(report)
        self.done.set()

    async def next_report(self) -> RefreshReport:
        """Wait for the next refresh job to finish and return its report."""
        with anyio.fail_after(SAFETY_TIMEOUT):
            await self.done.wait()
        self.done = anyio.Event()
        return self.reports[-1]

    async def ask(self, **params: str) -> httpx.Response:
        return await self.client.get(
            EXTERNAL_AUTH_PATH, params=params, headers={"Coder-Session-Token": AGENT_TOKEN}
        )


@pytest.fixture
async def control_plane() -> AsyncIterator[ControlPlane]:
    """The router with an explicit refresher whose schedule does not really sleep."""
    store, lookup = make_store(), make_lookup()
    plane = ControlPlane(client=httpx.AsyncClient(verify=TLS_CONTEXT), store=store, lookup=lookup)
    refresher = GitRefresher(store, sleep=no_sleep, on_done=plane.finished)
    app = FastAPI()
    app.include_router(
        create_external_auth_router(lookup, store, refresher=refresher, listen_poll_seconds=0)
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        refresher,
        httpx.AsyncClient(transport=transport, base_url="http://cp.test") as client,
    ):
        plane.client = client
        yield plane


# -- chat id parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CHAT_A, CHAT_A),
        (CHAT_A.upper(), CHAT_A),
        (f" {CHAT_A} ", CHAT_A),
        (CHAT_A.replace("-", ""), CHAT_A),
        ("", None),
        (None, None),
        ("   ", None),
        ("not-a-uuid", None),
        ("1111", None),
        (CHAT_A + "0", None),
        ("'; DROP TABLE chats; --", None),
    ],
)
def test_chat_id_is_canonical_or_none(raw: str | None, expected: str | None) -> None:
    """The router's parser: a UUID in any accepted spelling is canonical, else no chat."""
    assert parse_chat_id(raw) == expected


def test_the_router_shares_the_sdks_path_and_token_header() -> None:
    """The router and the SDK's client use one definition of each, so they cannot drift."""
    assert chattool.gitauth.EXTERNAL_AUTH_PATH is agentsdk.wire.EXTERNAL_AUTH_PATH
    assert chattool.gitauth.SESSION_TOKEN_HEADER is agentsdk.wire.SESSION_TOKEN_HEADER


# -- authentication and validation ----------------------------------------------------------


async def test_missing_agent_token_is_401(control_plane: ControlPlane) -> None:
    """Without Coder-Session-Token the request is refused."""
    response = await control_plane.client.get(EXTERNAL_AUTH_PATH, params={"match": "x"})
    assert response.status_code == 401
    assert "Coder-Session-Token" in response.json()["message"]


async def test_unknown_agent_token_is_401(control_plane: ControlPlane) -> None:
    """A token that belongs to no agent is refused."""
    response = await control_plane.client.get(
        EXTERNAL_AUTH_PATH,
        params={"match": "https://github.com"},
        headers={"Coder-Session-Token": "stolen"},
    )
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid agent token."}


async def test_neither_match_nor_id_is_400(control_plane: ControlPlane) -> None:
    """Coder's SDK always sends both keys; one of them must be non-empty."""
    response = await control_plane.ask(match="", id="")
    assert response.status_code == 400


async def test_both_match_and_id_is_400(control_plane: ControlPlane) -> None:
    """Asking by URL and by id at once is ambiguous."""
    response = await control_plane.ask(match="https://github.com", id="github")
    assert response.status_code == 400


async def test_no_matching_provider_is_404_and_refreshes_nothing(
    control_plane: ControlPlane,
) -> None:
    """The 404 the askpass falls back on; no chat is touched."""
    response = await control_plane.ask(match="https://example.com", id="", chat_id=CHAT_A)
    assert response.status_code == 404
    assert "https://example.com" in response.json()["message"]
    assert control_plane.store.status(CHAT_A).stale_marks == 0


ERROR_ANSWERS = [
    pytest.param(
        {"match": "x"},
        None,
        401,
        b'{"message":"Missing agent token: send it in the Coder-Session-Token header."}',
        id="missing-token",
    ),
    pytest.param(
        {"match": "x"}, "stolen", 401, b'{"message":"Invalid agent token."}', id="unknown-token"
    ),
    pytest.param(
        {"match": "", "id": ""},
        AGENT_TOKEN,
        400,
        b"{\"message\":\"Either 'match' or 'id' must be given.\"}",
        id="neither",
    ),
    pytest.param(
        {"match": "https://github.com", "id": "github"},
        AGENT_TOKEN,
        400,
        b"{\"message\":\"'match' and 'id' cannot be given together.\"}",
        id="both",
    ),
    pytest.param(
        {"match": "https://example.com", "id": ""},
        AGENT_TOKEN,
        404,
        b'{"message":"No external auth provider matches \'https://example.com\'.",'
        b'"detail":"Configure a provider for this host, or use git\'s own credentials."}',
        id="no-provider",
    ),
]


@pytest.mark.parametrize(("params", "token", "status", "body"), ERROR_ANSWERS)
async def test_each_refusal_is_sent_in_the_error_shape_byte_for_byte(
    control_plane: ControlPlane, params: dict[str, str], token: str | None, status: int, body: bytes
) -> None:
    """Status, message and detail of every refusal, exactly as clients have always read them."""
    headers = {} if token is None else {"Coder-Session-Token": token}
    response = await control_plane.client.get(EXTERNAL_AUTH_PATH, params=params, headers=headers)
    assert (response.status_code, response.content) == (status, body)
    assert response.headers["content-type"] == "application/json"


class BrokenLookup(InMemoryTokenLookup):
    """A token lookup whose backing database fails at the step ``failing`` names."""

    def __init__(self, failing: Literal["agent", "provider"]) -> None:
        base = make_lookup()
        super().__init__(agents=base.agents, providers=base.providers, tokens=base.tokens)
        self.failing = failing

    async def workspace_for_agent_token(self, token: str) -> WorkspaceIdentity | None:
        if self.failing == "agent":
            raise ConnectionError("agents table unreachable")
        return await super().workspace_for_agent_token(token)

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        if self.failing == "provider":
            raise ConnectionError("tokens table unreachable")
        return await super().external_auth(workspace, match=match, provider_id=provider_id)


@pytest.mark.parametrize(
    ("failing", "body", "logged"),
    [
        (
            "agent",
            b'{"message":"Failed to look up the agent token.","detail":"agents table unreachable"}',
            "Agent token lookup failed",
        ),
        (
            "provider",
            b'{"message":"Failed to look up the external auth token.",'
            b'"detail":"tokens table unreachable"}',
            "External auth lookup failed for 'https://github.com'",
        ),
    ],
)
async def test_a_failing_lookup_is_500_with_its_cause_and_logged(
    failing: Literal["agent", "provider"],
    body: bytes,
    logged: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lookup's failure reaches the caller as the detail and the log at error level."""
    app = FastAPI()
    refresher = GitRefresher(make_store())
    app.include_router(create_external_auth_router(BrokenLookup(failing), refresher=refresher))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cp.test"
    ) as client:
        with caplog.at_level(logging.ERROR, logger="chattool.gitauth"):
            response = await client.get(
                EXTERNAL_AUTH_PATH,
                params={"match": "https://github.com", "chat_id": CHAT_A},
                headers={"Coder-Session-Token": AGENT_TOKEN},
            )
    assert (response.status_code, response.content) == (500, body)
    errors = [record for record in caplog.records if record.levelname == "ERROR"]
    assert [record.getMessage() for record in errors] == [logged]
    assert errors[0].exc_info is not None


# -- answers --------------------------------------------------------------------------------


async def test_github_token_is_the_username(control_plane: ControlPlane) -> None:
    """GitHub takes the token as the username with an empty password."""
    response = await control_plane.ask(match="https://github.com", id="")
    assert response.status_code == 200
    answer = ExternalAuthResponse.model_validate(response.json())
    assert (answer.access_token, answer.username, answer.password) == ("gho_x", "gho_x", "")
    await control_plane.next_report()


async def test_a_token_answer_leaves_out_unset_optional_fields(
    control_plane: ControlPlane,
) -> None:
    """token_extra and expires_at are absent from the JSON when unset, not null."""
    response = await control_plane.ask(match="https://github.com", id="")
    assert response.json() == {
        "access_token": "gho_x",
        "url": "",
        "type": "github",
        "username": "gho_x",
        "password": "",
    }
    await control_plane.next_report()


class ExpiringTokenLookup:
    """A token lookup whose one token carries an expiry and extra fields."""

    async def workspace_for_agent_token(self, token: str) -> WorkspaceIdentity | None:
        return WORKSPACE if token == AGENT_TOKEN else None

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        return ExternalAuthResponse(
            access_token="gho_y",
            token_extra={"scope": "repo"},
            type="github",
            expires_at="2030-01-01T00:00:00Z",
            username="gho_y",
        )


async def test_optional_fields_that_are_set_are_sent() -> None:
    """An answer with an expiry and extra token fields carries both."""
    app = FastAPI()
    app.include_router(create_external_auth_router(ExpiringTokenLookup()))
    async with (
        lifespan_running(app) as running,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=running), base_url="http://cp"
        ) as client,
    ):
        response = await client.get(
            EXTERNAL_AUTH_PATH,
            params={"match": "https://github.com"},
            headers={"Coder-Session-Token": AGENT_TOKEN},
        )
    data = response.json()
    assert data["expires_at"] == "2030-01-01T00:00:00Z"
    assert data["token_extra"] == {"scope": "repo"}


async def test_gitlab_token_is_the_password_of_oauth2(control_plane: ControlPlane) -> None:
    """GitLab wants username oauth2 and the token as the password."""
    response = await control_plane.ask(match="https://gitlab.com", id="")
    answer = ExternalAuthResponse.model_validate(response.json())
    assert (answer.username, answer.password) == ("oauth2", "glpat")
    await control_plane.next_report()


async def test_asking_by_provider_id_works(control_plane: ControlPlane) -> None:
    """``id=github`` finds the provider without a URL."""
    response = await control_plane.ask(match="", id="github")
    assert response.json()["access_token"] == "gho_x"
    await control_plane.next_report()


async def test_legacy_url_parameter_is_read_as_match(control_plane: ControlPlane) -> None:
    """Older agents send ``url`` instead of ``match``."""
    response = await control_plane.ask(url="https://github.com")
    assert response.json()["access_token"] == "gho_x"
    await control_plane.next_report()


async def test_without_a_token_the_answer_is_the_url_and_nothing_is_refreshed(
    control_plane: ControlPlane,
) -> None:
    """A user who must authenticate gets the URL; no refresh starts before a token exists."""
    response = await control_plane.ask(match="https://bitbucket.org", id="", chat_id=CHAT_A)
    assert response.json()["url"] == "https://a"
    assert response.json()["access_token"] == ""
    await anyio.wait_all_tasks_blocked()
    assert control_plane.reports == []
    assert control_plane.store.status(CHAT_A).stale_marks == 0


class SlowUser(InMemoryTokenLookup):
    """The user finishes authenticating with Bitbucket while the third lookup runs."""

    def __init__(self) -> None:
        base = make_lookup()
        super().__init__(agents=base.agents, providers=base.providers, tokens=base.tokens)
        self.lookups = 0

    async def external_auth(
        self, workspace: WorkspaceIdentity, *, match: str, provider_id: str
    ) -> ExternalAuthResponse | None:
        self.lookups += 1
        if self.lookups == 3:
            self.tokens[("alice", "bitbucket")] = "bb"
        return await super().external_auth(workspace, match=match, provider_id=provider_id)


async def test_listen_holds_the_request_until_the_token_exists() -> None:
    """With ``listen`` the answer waits for the user, then carries the token and refreshes."""
    store, lookup = make_store(), SlowUser()
    plane = ControlPlane(client=httpx.AsyncClient(verify=TLS_CONTEXT), store=store, lookup=lookup)
    refresher = GitRefresher(store, sleep=no_sleep, on_done=plane.finished)
    app = FastAPI()
    app.include_router(
        create_external_auth_router(lookup, refresher=refresher, listen_poll_seconds=0)
    )
    async with (
        refresher,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp") as client,
    ):
        plane.client = client
        response = await plane.ask(match="https://bitbucket.org", listen="true", chat_id=CHAT_A)
        assert response.json()["access_token"] == "bb"
        assert lookup.lookups == 3
        report = await plane.next_report()
    assert report.chats == (CHAT_A,)


async def test_listen_holds_the_request_whatever_its_value() -> None:
    """``listen`` counts by its presence: an empty value holds the request too."""
    lookup, refresher = SlowUser(), GitRefresher(make_store(), sleep=no_sleep)
    app = FastAPI()
    app.include_router(
        create_external_auth_router(lookup, refresher=refresher, listen_poll_seconds=0)
    )
    async with (
        refresher,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp") as client,
    ):
        response = await client.get(
            EXTERNAL_AUTH_PATH,
            params={"match": "https://bitbucket.org", "listen": ""},
            headers={"Coder-Session-Token": AGENT_TOKEN},
        )
    assert response.json()["access_token"] == "bb"
    assert lookup.lookups == 3


async def test_listen_answers_with_the_url_again_when_the_wait_runs_out() -> None:
    """A held request ends after its bound with the URL, and the askpass polls again."""
    app = FastAPI()
    refresher = GitRefresher(make_store())
    app.include_router(
        create_external_auth_router(make_lookup(), refresher=refresher, listen_wait_seconds=0)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cp"
    ) as client:
        response = await client.get(
            EXTERNAL_AUTH_PATH,
            params={"match": "https://bitbucket.org", "listen": ""},
            headers={"Coder-Session-Token": AGENT_TOKEN},
        )
    assert response.json()["url"] == "https://a"


# -- which chats are refreshed --------------------------------------------------------------


async def test_a_chat_id_marks_and_refreshes_only_that_chat(control_plane: ControlPlane) -> None:
    """The chat that ran git is marked stale with its ref and refreshed on every round."""
    response = await control_plane.ask(
        match="https://github.com",
        id="",
        git_branch="feat",
        git_remote_origin="https://github.com/o/r.git",
        chat_id=CHAT_A,
    )
    assert response.status_code == 200
    report = await control_plane.next_report()
    assert report.ref == GitRef("ws-1", "feat", "https://github.com/o/r.git", CHAT_A)
    assert report.chats == (CHAT_A,)
    assert report.rounds == len(REFRESH_SCHEDULE)
    assert report.errors == ()
    a = control_plane.store.status(CHAT_A)
    assert (a.git_branch, a.git_remote_origin, a.stale_marks, a.refreshes) == (
        "feat",
        "https://github.com/o/r.git",
        1,
        len(REFRESH_SCHEDULE),
    )
    assert not a.stale
    b = control_plane.store.status(CHAT_B)
    assert (b.git_branch, b.stale_marks, b.refreshes) == ("", 0, 0)


async def test_without_a_chat_id_every_chat_of_the_workspace_is_refreshed(
    control_plane: ControlPlane,
) -> None:
    """The backward-compatible fallback: all the workspace's chats, none of another's."""
    await control_plane.ask(match="https://github.com", id="", git_branch="main")
    report = await control_plane.next_report()
    assert report.ref.chat_id is None
    assert report.chats == (CHAT_A, CHAT_B)
    for chat in (CHAT_A, CHAT_B):
        status = control_plane.store.status(chat)
        assert (status.git_branch, status.stale_marks) == ("main", 1)
        assert status.refreshes == len(REFRESH_SCHEDULE)
    assert control_plane.store.status(OTHER_WORKSPACE_CHAT).stale_marks == 0


async def test_a_malformed_chat_id_is_treated_as_absent(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    """A chat_id that is not a UUID falls back to the whole workspace, with a warning."""
    with caplog.at_level(logging.WARNING, logger="chattool.gitauth"):
        await control_plane.ask(match="https://github.com", id="", chat_id="chat-a")
        report = await control_plane.next_report()
    assert report.ref.chat_id is None
    assert report.chats == (CHAT_A, CHAT_B)
    assert "malformed chat_id 'chat-a'" in caplog.text


async def test_a_chat_of_another_workspace_is_never_touched(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    """An agent naming a chat outside its workspace refreshes nothing, and it is logged."""
    with caplog.at_level(logging.WARNING, logger="chattool.gitauth"):
        await control_plane.ask(match="https://github.com", id="", chat_id=OTHER_WORKSPACE_CHAT)
        report = await control_plane.next_report()
    assert report.chats == ()
    assert report.rounds == 0
    assert control_plane.store.status(OTHER_WORKSPACE_CHAT).stale_marks == 0
    assert "is not a chat of workspace ws-1" in caplog.text


async def test_refreshing_stops_once_the_chat_has_a_pull_request(
    control_plane: ControlPlane,
) -> None:
    """A final status ends the schedule early."""
    control_plane.store.set_pull_request_url(CHAT_A, "https://github.com/o/r/pull/1")
    await control_plane.ask(match="https://github.com", id="", chat_id=CHAT_A)
    report = await control_plane.next_report()
    assert (report.rounds, report.settled) == (1, (CHAT_A,))
    assert control_plane.store.status(CHAT_A).refreshes == 1


# -- failures are logged, never dropped -----------------------------------------------------


async def test_a_token_answer_without_a_running_refresher_is_still_given_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Git gets its token; the lost refresh is logged at error level."""
    store = make_store()
    refresher = GitRefresher(store)
    app = FastAPI()
    app.include_router(create_external_auth_router(make_lookup(), refresher=refresher))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cp.test"
    ) as client:
        with caplog.at_level(logging.ERROR, logger="chattool.gitauth"):
            response = await client.get(
                EXTERNAL_AUTH_PATH,
                params={"match": "https://github.com", "chat_id": CHAT_A},
                headers={"Coder-Session-Token": AGENT_TOKEN},
            )
    assert response.json()["access_token"] == "gho_x"
    assert "GitRefresher is not running" in caplog.text


def test_a_refresher_on_another_store_is_rejected() -> None:
    """The router and its refresher must work on one store."""
    with pytest.raises(ValueError, match="refresher's own store"):
        create_external_auth_router(
            make_lookup(), InMemoryChatStore(), refresher=GitRefresher(InMemoryChatStore())
        )


class SignallingStore(InMemoryChatStore):
    """Sets an event whenever a chat is marked stale."""

    def __init__(self) -> None:
        super().__init__()
        self.marked = anyio.Event()

    async def mark_stale(self, chat_id: str, *, branch: str, origin: str) -> None:
        await super().mark_stale(chat_id, branch=branch, origin=origin)
        self.marked.set()


async def test_the_router_runs_its_own_refresher_in_the_host_apps_lifespan() -> None:
    """Included without a refresher, the router's lifespan starts one: no extra wiring."""
    store = SignallingStore()
    store.add_chat(CHAT_A, "ws-1")

    @asynccontextmanager
    async def host_lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(lifespan=host_lifespan)
    app.include_router(create_external_auth_router(make_lookup(), store))
    async with (
        lifespan_running(app) as running,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=running), base_url="http://cp.test"
        ) as client,
    ):
        response = await client.get(
            EXTERNAL_AUTH_PATH,
            params={"match": "https://github.com", "chat_id": CHAT_A},
            headers={"Coder-Session-Token": AGENT_TOKEN},
        )
        assert response.status_code == 200
        with anyio.fail_after(SAFETY_TIMEOUT):
            await store.marked.wait()
    assert store.status(CHAT_A).stale_marks == 1
    assert store.status(CHAT_A).refreshes == 0
