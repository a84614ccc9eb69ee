"""Unit tests for the pure logic the two clients share: paths, retry timing, error mapping."""

from __future__ import annotations

import email.utils

import httpx
import pytest

import agentsdk
from agentsdk._agent import list_call, output_call, process_path, start_call
from agentsdk._auth import BEARER_TOKEN, TokenHeader
from agentsdk._base import BaseClient
from agentsdk._responses import make_status_error
from agentsdk._retry import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    Retry,
    backoff_delay,
    parse_retry_after,
)
from agentsdk._senders import AsyncSender, SyncSender
from agentsdk.wire import MAX_WAIT_SECONDS

from ._data import API, BASE_URL, PROCESS_ID

NOW = 1_750_000_000.0


def make_base(**overrides: object) -> BaseClient:
    """A BaseClient with defaults, for exercising its pure methods."""
    options: dict[str, object] = {
        "token": None,
        "timeout": 10.0,
        "max_retries": 2,
        "headers": None,
    }
    options.update(overrides)
    return BaseClient(BASE_URL, **options)  # type: ignore[arg-type]


def answer(status: int, **kwargs: object) -> httpx.Response:
    """A response to a GET of the list endpoint, as the transport would hand it back."""
    return httpx.Response(status, request=httpx.Request("GET", f"{API}/list"), **kwargs)  # type: ignore[arg-type]


def test_process_path_keeps_a_uuid_unchanged() -> None:
    """A UUID is already a safe segment and is not touched."""
    assert process_path(PROCESS_ID) == f"/api/v0/processes/{PROCESS_ID}"


def test_process_path_escapes_slashes_and_dots() -> None:
    """Slashes and bare dot segments cannot leave the id's segment."""
    assert process_path("../list") == "/api/v0/processes/..%2Flist"
    assert process_path(".") == "/api/v0/processes/%2E"
    assert process_path("a.b") == "/api/v0/processes/a.b"


@pytest.mark.parametrize("retries_taken", range(8))
def test_backoff_grows_exponentially_within_jitter(retries_taken: int) -> None:
    """Each delay lies between 75 % and 100 % of min(0.5 s * 2**n, 8 s)."""
    ceiling = min(INITIAL_RETRY_DELAY * 2**retries_taken, MAX_RETRY_DELAY)
    for _ in range(50):
        assert 0.75 * ceiling <= backoff_delay(retries_taken) <= ceiling


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2", 2.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-1", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (email.utils.formatdate(NOW + 7, usegmt=True), 7.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after_reads_seconds_and_dates(
    value: str | None, expected: float | None
) -> None:
    """Retry-After is seconds or an HTTP date; anything else is ignored."""
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_delay_honours_a_short_retry_after() -> None:
    """A Retry-After within the cap is used as is, whatever the attempt."""
    assert make_base()._retry_delay(0, "3") == 3.0
    assert make_base()._retry_delay(5, str(MAX_RETRY_AFTER)) == MAX_RETRY_AFTER


def test_retry_delay_falls_back_to_backoff_for_a_long_or_bad_retry_after() -> None:
    """A Retry-After over a minute, or unreadable, gives the normal backoff."""
    for header in (str(MAX_RETRY_AFTER + 1), "later", None):
        assert make_base()._retry_delay(1, header) <= INITIAL_RETRY_DELAY * 2


def test_wait_timeout_exceeds_the_server_cap_and_keeps_other_limits() -> None:
    """A wait reads for longer than the cap; connect, write and pool stay as configured."""
    base = make_base(timeout=httpx.Timeout(10.0, connect=2.0))
    call = output_call(PROCESS_ID, wait=True, timeout_ms=None)

    timeout = base._timeout_for(call)

    assert timeout.read is not None
    assert timeout.read > MAX_WAIT_SECONDS
    assert (timeout.connect, timeout.write, timeout.pool) == (2.0, 10.0, 10.0)


def test_wait_timeout_keeps_a_read_timeout_that_is_already_long_enough() -> None:
    """A configured read timeout longer than the wait is not shortened."""
    base = make_base(timeout=1000.0)
    call = output_call(PROCESS_ID, wait=True, timeout_ms=100)

    assert base._timeout_for(call) == httpx.Timeout(1000.0)


def test_settle_retries_only_safe_calls() -> None:
    """A start without an idempotency key is never retried, even on a 503."""
    base = make_base(max_retries=0)
    unsafe = start_call(None, {"command": "true"}, generate_key=base.max_retries > 0)
    assert not unsafe.retry_safe
    retrying = make_base(max_retries=2)
    request = httpx.Request("POST", f"{API}/start")

    with pytest.raises(agentsdk.InternalServerError):
        retrying._settle(unsafe, request, answer(503, json={"message": "busy"}), 0)


def test_settle_returns_a_retry_for_a_safe_transient_failure() -> None:
    """A 503 on a read with retries left yields a Retry carrying the delay and the error."""
    base = make_base()
    call = list_call()
    request = httpx.Request("GET", f"{API}/list")

    step = base._settle(call, request, answer(503, json={"message": "busy"}), 0)

    assert isinstance(step, Retry)
    assert 0 < step.delay <= INITIAL_RETRY_DELAY
    assert isinstance(step.error, agentsdk.InternalServerError)


def test_settle_raises_when_no_retry_is_left() -> None:
    """On the last allowed attempt the error is raised instead of retried."""
    base = make_base(max_retries=2)
    request = httpx.Request("GET", f"{API}/list")

    with pytest.raises(agentsdk.APIConnectionError) as caught:
        base._settle(list_call(), request, httpx.ConnectError("refused"), 2)

    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (301, agentsdk.APIStatusError),
        (403, agentsdk.APIStatusError),
        (422, agentsdk.APIStatusError),
        (599, agentsdk.InternalServerError),
    ],
)
def test_unlisted_statuses_map_to_the_base_or_server_error(
    status: int, error_type: type[agentsdk.APIStatusError]
) -> None:
    """A status without its own class is an APIStatusError, or InternalServerError if >= 500."""
    error = make_status_error(answer(status, json={"message": "m"}))

    assert type(error) is error_type
    assert error.status_code == status


def test_headers_merge_caller_headers_then_token() -> None:
    """The token's Authorization wins over a caller header of the same name."""
    base = make_base(token="t", headers={"Authorization": "Basic x", "X-A": "1"})

    with httpx.Client() as client:
        request = base._build_request(client, list_call())

    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["x-a"] == "1"


@pytest.mark.parametrize(
    ("client", "sender"),
    [
        (agentsdk.AgentConn, SyncSender),
        (agentsdk.AsyncAgentConn, AsyncSender),
        (agentsdk.ControlPlaneClient, SyncSender),
        (agentsdk.AsyncControlPlaneClient, AsyncSender),
    ],
)
def test_every_public_client_has_one_base_its_sender(client: type, sender: type) -> None:
    """No public class is composed by the order of several bases: its sender is its only one."""
    assert client.__bases__ == (sender,)


def test_token_header_writes_the_token_in_its_header_and_scheme() -> None:
    """The bearer scheme prefixes the token; a bare header carries it as is; no token, nothing."""
    assert BEARER_TOKEN.headers("t") == {"Authorization": "Bearer t"}
    assert TokenHeader("Coder-Session-Token").headers("t") == {"Coder-Session-Token": "t"}
    assert BEARER_TOKEN.headers(None) == {}
