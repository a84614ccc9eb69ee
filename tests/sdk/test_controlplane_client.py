"""The control-plane client: Coder's exact query encoding, its token header, and its errors."""

from __future__ import annotations

import httpx
import pytest

import agentsdk
from agentsdk import (
    AsyncControlPlaneClient,
    AuthenticationError,
    ControlPlaneClient,
    ExternalAuthRequest,
    ExternalAuthResponse,
    NotFoundError,
)
from agentsdk._controlplane import encode_external_auth_query
from agentsdk.wire import EXTERNAL_AUTH_PATH

BASE_URL = "http://control-plane.test"
TOKEN = "agent-token"
CHAT_ID = "6f0d8a52-3c1e-4b7a-9f41-2d5c0a9e7b13"
TOKEN_BODY = {
    "access_token": "gho_abc",
    "token_extra": None,
    "url": "",
    "type": "github",
    "expires_at": None,
    "username": "gho_abc",
    "password": "",
}

# Coder's own example, from its agent SDK.
CODER_EXAMPLE = (
    f"chat_id={CHAT_ID}&git_branch=main"
    "&git_remote_origin=https%3A%2F%2Fgithub.com%2Fo%2Fr.git&id=&match=https%3A%2F%2Fgithub.com"
)


class Recorder:
    """An httpx transport handler that remembers every request and answers as told."""

    def __init__(self, status: int = 200, body: object = TOKEN_BODY) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)


def test_query_with_every_field_is_encoded_exactly_as_coder_does() -> None:
    """Sorted keys, empty id kept, optional values present, URLs fully percent-encoded."""
    request = ExternalAuthRequest(
        match="https://github.com",
        git_branch="main",
        git_remote_origin="https://github.com/o/r.git",
        chat_id=CHAT_ID,
    )
    assert encode_external_auth_query(request) == CODER_EXAMPLE


def test_query_without_optional_values_keeps_id_and_match_only() -> None:
    """Empty branch, origin and chat id are left out; id and match are always there."""
    request = ExternalAuthRequest(match="https://github.com")
    assert encode_external_auth_query(request) == "id=&match=https%3A%2F%2Fgithub.com"


def test_query_by_provider_id_keeps_an_empty_match() -> None:
    """Asking by provider id still sends ``match=`` (empty)."""
    assert encode_external_auth_query(ExternalAuthRequest(id="github")) == "id=github&match="


def test_query_says_listen_true_only_when_listening() -> None:
    """``listen=true`` sits in sorted position when listening and is absent otherwise."""
    listening = ExternalAuthRequest(match="https://gitlab.com", listen=True, chat_id=CHAT_ID)
    assert encode_external_auth_query(listening) == (
        f"chat_id={CHAT_ID}&id=&listen=true&match=https%3A%2F%2Fgitlab.com"
    )


def test_query_escapes_spaces_as_plus_and_reserved_characters() -> None:
    """A space becomes ``+`` and reserved characters are escaped, as Go's QueryEscape does."""
    request = ExternalAuthRequest(match="https://h", git_branch="feat/a b&c=d~e")
    assert encode_external_auth_query(request) == (
        "git_branch=feat%2Fa+b%26c%3Dd~e&id=&match=https%3A%2F%2Fh"
    )


def test_sync_client_sends_the_exact_query_and_the_session_token_header() -> None:
    """The wire request is a GET on Coder's path with the exact query and Coder-Session-Token."""
    recorder = Recorder()
    with ControlPlaneClient(
        BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)
    ) as client:
        answer = client.external_auth(
            match="https://github.com",
            git_branch="main",
            git_remote_origin="https://github.com/o/r.git",
            chat_id=CHAT_ID,
        )
    assert answer == ExternalAuthResponse.model_validate(TOKEN_BODY)
    (sent,) = recorder.requests
    assert sent.method == "GET"
    assert sent.url.path == EXTERNAL_AUTH_PATH
    assert sent.url.query.decode() == CODER_EXAMPLE
    assert sent.headers["Coder-Session-Token"] == TOKEN
    assert "authorization" not in sent.headers


def test_base_url_path_prefix_is_kept() -> None:
    """A control plane under a path prefix is reached under it."""
    recorder = Recorder()
    with ControlPlaneClient(
        f"{BASE_URL}/coder/", token=TOKEN, transport=httpx.MockTransport(recorder)
    ) as client:
        client.external_auth(match="https://github.com")
    assert recorder.requests[0].url.path == f"/coder{EXTERNAL_AUTH_PATH}"


def test_a_request_object_is_sent_as_is() -> None:
    """An ExternalAuthRequest is encoded the same as its keyword fields."""
    recorder = Recorder()
    request = ExternalAuthRequest(match="https://github.com", listen=True)
    with ControlPlaneClient(BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)) as c:
        c.external_auth(request)
    assert recorder.requests[0].url.query.decode() == encode_external_auth_query(request)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "match URL or a provider id"),
        ({"match": ""}, "match URL or a provider id"),
        ({"match": 42}, "Invalid external-auth request"),
        ({"match": "https://h", "listen": "yes"}, "Invalid external-auth request"),
    ],
)
def test_bad_arguments_raise_value_error_before_any_request(
    arguments: dict[str, object], message: str
) -> None:
    """No match and no id, or a field of the wrong type, is a ValueError and sends nothing."""
    recorder = Recorder()
    with (
        ControlPlaneClient(BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)) as c,
        pytest.raises(ValueError, match=message),
    ):
        c.external_auth(**arguments)  # type: ignore[arg-type]
    assert recorder.requests == []


def test_request_and_keywords_together_are_rejected() -> None:
    """Passing both a request object and keyword fields is a ValueError."""
    with (
        ControlPlaneClient(BASE_URL, token=TOKEN, transport=httpx.MockTransport(Recorder())) as c,
        pytest.raises(ValueError, match="not both"),
    ):
        c.external_auth(ExternalAuthRequest(match="https://h"), chat_id=CHAT_ID)


def test_not_found_raises_not_found_error_with_the_message() -> None:
    """A 404 (no provider matches) raises NotFoundError carrying message and detail."""
    body = {"message": "No provider.", "detail": "Configure one."}
    recorder = Recorder(404, body)
    with (
        ControlPlaneClient(
            BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)
        ) as client,
        pytest.raises(NotFoundError) as raised,
    ):
        client.external_auth(match="https://h")
    assert raised.value.message == "No provider."
    assert raised.value.detail == "Configure one."
    assert len(recorder.requests) == 1


def test_server_errors_are_retried_with_the_shared_policy() -> None:
    """A 503 is retried like any SDK call, then the answer is returned."""
    answers = iter([httpx.Response(503, json={"message": "busy"}, headers={"Retry-After": "0"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json=TOKEN_BODY))

    with ControlPlaneClient(
        BASE_URL, token=TOKEN, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.external_auth(match="https://h").access_token == "gho_abc"


@pytest.mark.anyio
async def test_async_client_sends_the_same_request_and_raises_the_same_errors() -> None:
    """The async client encodes identically and maps 401 to AuthenticationError."""
    recorder = Recorder()
    async with AsyncControlPlaneClient(
        BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)
    ) as client:
        await client.external_auth(
            match="https://github.com",
            git_branch="main",
            git_remote_origin="https://github.com/o/r.git",
            chat_id=CHAT_ID,
        )
        recorder.status, recorder.body = 401, {"message": "Invalid agent token."}
        with pytest.raises(AuthenticationError, match="Invalid agent token"):
            await client.external_auth(match="https://github.com")
    assert recorder.requests[0].url.query.decode() == CODER_EXAMPLE
    assert recorder.requests[0].headers["Coder-Session-Token"] == TOKEN


def test_clients_and_models_are_exported_from_the_package_root() -> None:
    """Both clients and both models are public, under their public module name."""
    for name in (
        "ControlPlaneClient",
        "AsyncControlPlaneClient",
        "ExternalAuthRequest",
        "ExternalAuthResponse",
    ):
        assert name in agentsdk.__all__
    assert ControlPlaneClient.__module__ == "agentsdk"
    assert AsyncControlPlaneClient.__module__ == "agentsdk"


def test_with_options_changes_timeout_and_retries_for_the_copy_only() -> None:
    """The copy sends over the same pool with its own timeout, retries, token and headers."""
    recorder = Recorder()
    client = ControlPlaneClient(
        BASE_URL,
        token=TOKEN,
        headers={"X-Trace": "1"},
        transport=httpx.MockTransport(recorder),
    )
    with client:
        copy = client.with_options(timeout=7.5, max_retries=0)
        copy.external_auth(match="https://github.com")
        copy.close()
        client.external_auth(match="https://github.com")
    assert (copy.timeout, copy.max_retries) == (httpx.Timeout(7.5), 0)
    assert (client.timeout, client.max_retries) != (copy.timeout, copy.max_retries)
    first, second = recorder.requests
    assert first.extensions["timeout"]["read"] == 7.5
    assert second.extensions["timeout"] == client.timeout.as_dict()
    for sent in (first, second):
        assert sent.headers["Coder-Session-Token"] == TOKEN
        assert sent.headers["X-Trace"] == "1"


def test_with_options_keeps_what_it_is_not_given() -> None:
    """An omitted option is the original's; None is kept as "no timeout", not as omitted."""
    with ControlPlaneClient(BASE_URL, timeout=3.0, max_retries=4) as client:
        assert client.with_options().timeout == httpx.Timeout(3.0)
        assert client.with_options(max_retries=1).timeout == httpx.Timeout(3.0)
        assert client.with_options(timeout=None).timeout == httpx.Timeout(None)
        assert client.with_options(timeout=9.0).max_retries == 4


def test_with_options_of_a_closed_client_is_refused() -> None:
    """A closed client's pool is gone, so it cannot lend it to a copy."""
    client = ControlPlaneClient(BASE_URL)
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.with_options(max_retries=0)


@pytest.mark.anyio
async def test_async_with_options_sends_over_the_same_pool_with_its_own_timeout() -> None:
    """The async client's copy works the same way."""
    recorder = Recorder()
    async with AsyncControlPlaneClient(
        BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)
    ) as client:
        copy = client.with_options(timeout=2.0, max_retries=0)
        await copy.external_auth(match="https://github.com")
        await copy.aclose()
        await client.external_auth(match="https://github.com")
    assert copy.max_retries == 0
    assert [sent.extensions["timeout"]["read"] for sent in recorder.requests] == [
        2.0,
        client.timeout.read,
    ]
