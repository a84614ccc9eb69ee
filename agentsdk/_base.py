"""The generic half of every client: configuration and pure logic, with no I/O of its own.

A call goes through three pure steps. An API's call functions (``agentsdk._agent`` for the
process API, ``agentsdk._controlplane`` for the control plane's) check the arguments
(``ValueError`` before any I/O) and describe the call as a ``Call``: method, path, query,
body, whether a retry is safe, how to parse the answer. The other two steps are written
once here, in ``BaseClient``:

1. ``BaseClient._build_request`` turns that description into an ``httpx.Request`` with
   the caller's headers, the token (in the header the client's ``TokenHeader`` names), the
   call's own ``extra_headers`` over all of them, and the right timeout.
2. ``BaseClient._settle`` turns what came back (a response or an ``httpx`` error) into
   the parsed result, an exception from ``agentsdk._exceptions``, or a ``Retry`` telling
   the sender how long to sleep before sending again.

``SyncSender`` and ``AsyncSender`` in ``agentsdk._senders`` only send and sleep. A public
client is one sender plus its API's methods; what differs between APIs is data (the call
descriptions and the ``TokenHeader``), not an override, so no class depends on the order
of its bases.
"""

from __future__ import annotations

import copy
import email.utils
import enum
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Literal, Self, TypeVar

import httpx
import pydantic

from agentsdk._exceptions import (
    AgentSDKError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
)
from agentsdk.types import FieldValidation

__all__ = [
    "BEARER_TOKEN",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "WAIT_READ_MARGIN_SECONDS",
    "BaseClient",
    "Call",
    "Retry",
    "TokenHeader",
    "backoff_delay",
    "encode_json",
    "header_items",
    "make_status_error",
    "model_parser",
    "parse_retry_after",
]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Every call but a wait answers at once, so a minute is a safety net, not a budget; a short
# connect timeout fails fast on a server that is not there.

DEFAULT_MAX_RETRIES = 2
# Two retries ride out a restarting server or a dropped connection without hiding an outage.

INITIAL_RETRY_DELAY = 0.5
# First backoff step; doubled per retry.

MAX_RETRY_DELAY = 8.0
# Backoff ceiling: beyond this the caller is better served by an error than by waiting.

MAX_RETRY_AFTER = 60.0
# A Retry-After longer than this is not honoured (the backoff is used), so a confused server
# cannot park a caller for minutes.

RETRY_JITTER = 0.25
# Up to a quarter of each backoff is random, so many clients do not retry in lockstep.

WAIT_READ_MARGIN_SECONDS = 30.0
# Room after a held request's wait for the server to render and send its answer (Coder's
# agent extends its write deadline by the same amount), so the read timeout never fires
# before the server's cap.

MAX_ERROR_DETAIL_CHARS = 2048
# A non-JSON error body (a proxy's HTML page) is kept as detail, cut to what a log can hold.

_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Transport failures that a second attempt may not meet; a bad URL or a proxy refusal would.

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

_logger = logging.getLogger("agentsdk")

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)


class _State(enum.Enum):
    # A client is usable until closed; closing is final so a pooled connection is never
    # silently reopened behind the caller's back (httpx's rule).
    OPEN = enum.auto()
    CLOSED = enum.auto()


class _Keep(enum.Enum):
    # ``None`` is a meaningful timeout (none at all), so "leave it as it is" needs its own value.
    KEEP = enum.auto()


_KEEP = _Keep.KEEP


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """Where an API reads a client's token from: the header's name and the value's scheme."""

    name: str
    """The header, e.g. ``Authorization``."""

    scheme: str = ""
    """Written before the token with a space, e.g. ``Bearer``; empty for the bare token."""

    def headers(self, token: str | None) -> dict[str, str]:
        """The header that carries ``token``; none without a token."""
        if token is None:
            return {}
        return {self.name: f"{self.scheme} {token}" if self.scheme else token}


BEARER_TOKEN = TokenHeader("Authorization", "Bearer")
"""The process API's scheme, as Coder's agent and HTTP's bearer-token standard have it."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call, described before any I/O.

    Attributes:
        method: The HTTP method.
        path: The path under the base URL, already escaped.
        parse: Turns a success response into the method's result.
        params: Query parameters, in order.
        body: The encoded JSON body, if any.
        retry_safe: Whether sending the call twice cannot do a thing twice.
        wait_seconds: How long the server may stay silent (hold the request open, or go
            quiet between events of a stream), for the read timeout.
        extra_headers: Headers of this call only, over every other header (the caller's
            ``extra_headers=``, checked by ``header_items``).
        accept: The media type asked for: JSON, or an event stream.
    """

    method: Literal["GET", "POST"]
    path: str
    parse: Callable[[httpx.Response], T]
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    retry_safe: bool = True
    wait_seconds: float | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    accept: str = "application/json"


@dataclass(frozen=True, slots=True)
class Retry:
    """The sender should sleep ``delay`` seconds and send the call again."""

    delay: float
    error: AgentSDKError = field(repr=False)
    """The failure being retried, for the log line."""


class BaseClient:
    """Configuration and pure logic shared by every client, whatever API it calls.

    A sender of ``agentsdk._senders`` adds the connection pool and sends; a public client
    adds its API's methods, each describing its call with the API's call functions, and
    declares its ``_token_header``.

    Args:
        base_url: The server's address, e.g. ``http://127.0.0.1:4``; a path prefix is kept.
        token: Sent on every request, in the header the client's ``_token_header`` names.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request; ``headers`` reads them back.

    Raises:
        ValueError: An argument is malformed.
    """

    _token_header: ClassVar[TokenHeader] = BEARER_TOKEN
    """How this client's API carries the token; a client of another API declares its own."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        headers: Mapping[str, str] | None,
    ) -> None:
        self._base_url = _parse_base_url(base_url)
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError(f"Expected a non-empty token or None but received {token!r}")
        _check_max_retries(max_retries)
        self._token = token
        self._timeout = _as_timeout(timeout)
        self._max_retries = max_retries
        self._headers = httpx.Headers(header_items(headers))
        self._state = _State.OPEN
        # Whether closing this client closes its connection pool: a sender sets it for a
        # pool it built; an injected http_client and a copy from with_options borrow theirs.
        self._releases_pool = False

    @property
    def base_url(self) -> str:
        """The server's address, without a trailing slash."""
        return str(self._base_url)

    @property
    def headers(self) -> Mapping[str, str]:
        """The caller's headers sent on every request: the constructor's ``headers``.

        A copy, looked up case-insensitively (``conn.headers.get("coder-chat-id")`` tells
        which chat a connection is scoped to); changing it changes nothing. The token's
        header is left out, so reading the configuration never hands the secret around; so
        are the SDK's own ``Accept`` and ``Content-Type``, and the headers an injected
        ``http_client`` carries (the constructor's headers and a call's ``extra_headers``
        win over those).
        """
        return httpx.Headers(self._headers)

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeout of every call (a wait extends its read timeout as needed)."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """How many times a failed safe call is sent again."""
        return self._max_retries

    @property
    def is_closed(self) -> bool:
        """True once ``close()`` / ``aclose()`` was called; the client cannot be used again."""
        return self._state is _State.CLOSED

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | _Keep | None = _KEEP,
        max_retries: int | _Keep = _KEEP,
    ) -> Self:
        """A client like this one with another timeout or retry count, e.g. for one call.

        The copy is of the same class, with the same address, token and headers, and sends
        over this client's connection pool, so it is cheap to make per call. Closing the
        copy leaves the pool open; closing this client closes it for both, so close this
        one last.

        Args:
            timeout: The copy's timeout; this client's when omitted (``None`` is no timeout).
            max_retries: The copy's retry count; this client's when omitted.

        Raises:
            ValueError: An argument is malformed.
            RuntimeError: This client is closed.
        """
        self._check_open()
        if not isinstance(max_retries, _Keep):
            _check_max_retries(max_retries)
        clone = copy.copy(self)
        if not isinstance(timeout, _Keep):
            clone._timeout = _as_timeout(timeout)
        if not isinstance(max_retries, _Keep):
            clone._max_retries = max_retries
        clone._releases_pool = False
        return clone

    # -- lifecycle -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise RuntimeError(f"Cannot use a {type(self).__name__} once it has been closed")

    def _mark_closed(self) -> bool:
        """Close the client; return whether its pool is to be released now.

        True only the first time, and only when the pool is this client's own, so closing
        twice, or closing a copy, leaves the pool alone.
        """
        was_open = self._state is _State.OPEN
        self._state = _State.CLOSED
        return was_open and self._releases_pool

    # -- request and response ----------------------------------------------------------------

    def _build_request(
        self, client: httpx.Client | httpx.AsyncClient, call: Call[T]
    ) -> httpx.Request:
        # httpx.Headers replaces a name whatever its case, so a header set twice in two
        # spellings is still sent once, with the value of the later layer.
        headers = httpx.Headers({"Accept": call.accept})
        headers.update(self._headers)
        if call.body is not None:
            # Coder's agent ignores Content-Type; ours accepts it either way. Sending it keeps
            # proxies and request logs honest.
            headers["Content-Type"] = "application/json"
        headers.update(self._token_header.headers(self._token))
        headers.update(httpx.Headers(list(call.extra_headers)))
        return client.build_request(
            call.method,
            httpx.URL(f"{self.base_url}{call.path}"),
            params=call.params or None,
            content=call.body,
            headers=headers,
            timeout=self._timeout_for(call),
        )

    def _timeout_for(self, call: Call[T]) -> httpx.Timeout:
        read = self._timeout.read
        if call.wait_seconds is None or read is None:
            return self._timeout
        needed = call.wait_seconds + WAIT_READ_MARGIN_SECONDS
        if read >= needed:
            return self._timeout
        return httpx.Timeout(
            connect=self._timeout.connect,
            read=needed,
            write=self._timeout.write,
            pool=self._timeout.pool,
        )

    def _settle(
        self,
        call: Call[T],
        request: httpx.Request,
        outcome: httpx.Response | httpx.RequestError,
        retries_taken: int,
    ) -> T | Retry:
        """Turn one attempt's outcome into the result, an exception, or a retry.

        Raises:
            APIStatusError: The server answered with an error status, not to be retried.
            APIConnectionError: No answer, and no retry is left or allowed.
            AgentSDKError: A success answer that does not parse.
        """
        error: AgentSDKError
        if isinstance(outcome, httpx.Response):
            if outcome.is_success:
                return call.parse(outcome)
            error = make_status_error(outcome)
            transient = outcome.status_code == 429 or outcome.status_code >= 500
            retry_after = outcome.headers.get("Retry-After")
        else:
            error_type = (
                APITimeoutError
                if isinstance(outcome, httpx.TimeoutException)
                else APIConnectionError
            )
            error = error_type(method=request.method, url=str(request.url), cause=outcome)
            transient = isinstance(outcome, _TRANSIENT_ERRORS)
            retry_after = None
        if not (transient and call.retry_safe and retries_taken < self._max_retries):
            if isinstance(outcome, httpx.RequestError):
                raise error from outcome
            raise error
        delay = self._retry_delay(retries_taken, retry_after)
        _logger.warning(
            "Retrying %s %s in %.2f s (retry %d of %d) after: %s",
            request.method,
            request.url,
            delay,
            retries_taken + 1,
            self._max_retries,
            error,
        )
        return Retry(delay=delay, error=error)

    def _retry_delay(self, retries_taken: int, retry_after: str | None) -> float:
        """Seconds to sleep before retry number ``retries_taken + 1``."""
        honoured = parse_retry_after(retry_after, now=time.time())
        if honoured is not None and honoured <= MAX_RETRY_AFTER:
            return honoured
        return backoff_delay(retries_taken)


def _as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def _check_max_retries(max_retries: object) -> None:
    if max_retries is None:
        raise ValueError("max_retries must be an int; pass 0 to disable retries")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"Expected max_retries >= 0 but received {max_retries!r}")


def backoff_delay(retries_taken: int) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s, ... up to 8 s, minus up to 25 %."""
    base = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
    # Not security-sensitive: the jitter only spreads retries out.
    return base * (1.0 - RETRY_JITTER * random.random())  # noqa: S311


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if valid.

    Args:
        value: The header's value, or ``None`` when absent.
        now: The current Unix time, for the date form.

    Returns:
        The delay in seconds (0 for a date in the past), or ``None`` when absent or invalid.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error answer, tolerating bodies that are not the API's."""
    message, detail, validations = _read_error_body(response)
    status = response.status_code
    error_type = _STATUS_ERRORS.get(status)
    if error_type is None:
        error_type = InternalServerError if status >= 500 else APIStatusError
    return error_type(message, response=response, detail=detail, validations=validations)


def header_items(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Headers given by the caller (``headers=``, ``extra_headers=``), checked before any I/O.

    Returns:
        The name-value pairs, in order; none for ``None``.

    Raises:
        ValueError: ``headers`` is not a mapping of non-empty string names to string values.
    """
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise ValueError(f"Expected headers as a mapping but received {type(headers).__name__}")
    # An httpx.Headers joins a repeated name into one value; its raw pairs keep each one.
    pairs = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    items = tuple(pairs)
    for name, value in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Expected a non-empty string header name but received {name!r}")
        if not isinstance(value, str):
            # The value is not shown: it may be a credential.
            raise ValueError(
                f"Expected the value of header {name!r} to be a string "
                f"but received {type(value).__name__}"
            )
    return items


def encode_json(model: pydantic.BaseModel) -> bytes:
    """The body of a call: compact JSON with ``None`` fields left out."""
    # Omitempty-style, like Go's encoding/json: the exact body Coder's servers expect.
    return model.model_dump_json(exclude_none=True).encode()


def model_parser(model: type[M]) -> Callable[[httpx.Response], M]:
    """A ``Call.parse`` that decodes a success answer as ``model``.

    The parser raises ``AgentSDKError`` for a body that does not fit the model.
    """

    def parse(response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            request = response.request
            raise AgentSDKError(
                f"{request.method} {request.url}: decode response body as {model.__name__}: "
                f"{exc.error_count()} error(s): {_first_error(exc)}"
            ) from exc

    return parse


def _read_error_body(response: httpx.Response) -> tuple[str, str | None, list[FieldValidation]]:
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if not _is_json(content_type):
        shown = content_type or "no content type"
        return f'unexpected non-JSON response "{shown}"', _cut(text) or None, []
    if not text.strip():
        return "empty response body", None, []
    try:
        body = response.json()
    except ValueError as exc:
        return f"invalid JSON error body: {exc}", _cut(text), []
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        no_message = f"unexpected status code {response.status_code}, response has no message"
        return no_message, _cut(text), []
    detail = body.get("detail")
    return message, detail if isinstance(detail, str) and detail else None, _validations(body)


def _validations(body: dict[str, object]) -> list[FieldValidation]:
    raw = body.get("validations")
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw:
        # One malformed entry should not hide the error the server is reporting.
        try:
            found.append(FieldValidation.model_validate(item))
        except pydantic.ValidationError:
            continue
    return found


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR_DETAIL_CHARS else text[:MAX_ERROR_DETAIL_CHARS] + "..."


def _first_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}"


def _parse_base_url(base_url: str) -> httpx.URL:
    if not isinstance(base_url, str) or not base_url:
        raise ValueError(f"Expected a base URL like 'http://host:4' but received {base_url!r}")
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Invalid base URL {base_url!r}: {exc}") from exc
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"Expected an http(s) base URL with a host but received {base_url!r}")
    if url.query or url.fragment:
        raise ValueError(f"The base URL must not carry a query or fragment: {base_url!r}")
    return url.copy_with(raw_path=url.raw_path.rstrip(b"/"))
