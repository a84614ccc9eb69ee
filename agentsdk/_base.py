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

The steps' pieces have a module each, all pure:

- ``agentsdk._call``: ``Call``, the caller's headers checked into it, the JSON body;
- ``agentsdk._auth``: ``TokenHeader``, where an API reads the token;
- ``agentsdk._urls``: the base URL;
- ``agentsdk._responses``: a success decoded as its model, an error status mapped to its
  exception (the one status table);
- ``agentsdk._retry``: which failures are retried, and how long to wait first.
"""

from __future__ import annotations

import copy
import enum
import logging
import time
from collections.abc import Mapping
from typing import ClassVar, Self, TypeVar

import httpx

from agentsdk._auth import BEARER_TOKEN, TokenHeader
from agentsdk._call import Call, header_items
from agentsdk._exceptions import AgentSDKError, APIConnectionError, APITimeoutError
from agentsdk._responses import make_status_error
from agentsdk._retry import Retry, is_transient, retry_delay
from agentsdk._urls import parse_base_url

__all__ = ["DEFAULT_TIMEOUT", "WAIT_READ_MARGIN_SECONDS", "BaseClient"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Every call but a wait answers at once, so a minute is a safety net, not a budget; a short
# connect timeout fails fast on a server that is not there.

WAIT_READ_MARGIN_SECONDS = 30.0
# Room after a held request's wait for the server to render and send its answer (Coder's
# agent extends its write deadline by the same amount), so the read timeout never fires
# before the server's cap.

_logger = logging.getLogger("agentsdk")

T = TypeVar("T")


class _State(enum.Enum):
    # A client is usable until closed; closing is final so a pooled connection is never
    # silently reopened behind the caller's back (httpx's rule).
    OPEN = enum.auto()
    CLOSED = enum.auto()


class _Keep(enum.Enum):
    # ``None`` is a meaningful timeout (none at all), so "leave it as it is" needs its own value.
    KEEP = enum.auto()


_KEEP = _Keep.KEEP


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
        self._base_url = parse_base_url(base_url)
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError(f"Expected a non-empty token or None but received {token!r}")
        _check_max_retries(max_retries)
        self._token = token
        self._timeout = _as_timeout(timeout)
        self._max_retries = max_retries
        self._headers = httpx.Headers(header_items(headers))
        self._header_cache: dict[tuple[str, bool], httpx.Headers] = {}
        # Set by a sender that built its own httpx client and sends through its transport:
        # that client's default headers. Requests are then built here (see _build_request).
        self._client_defaults: httpx.Headers | None = None
        self._urls: dict[str, httpx.URL] = {}
        self._state = _State.OPEN
        # Whether closing this client closes its connection pool: a sender sets it for a
        # pool it built; an injected http_client and a copy from with_options borrow theirs.
        self._releases_pool = False
        # Optional routes the server said it does not have (Coder's agent has no /run), so a
        # connection asks once; with_options copies share the set, as they share the pool.
        self._absent_routes: set[str] = set()

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
        headers = self._base_headers(call.accept, has_body=call.body is not None)
        if call.extra_headers:
            headers = headers.copy()
            headers.update(httpx.Headers(list(call.extra_headers)))
        if self._client_defaults is None or client.cookies:
            return client.build_request(
                call.method,
                self._url(call.path),
                params=call.params or None,
                content=call.body,
                headers=headers,
                timeout=self._timeout_for(call),
            )
        # What build_request makes of it for a client built with its defaults alone, without
        # merging URL and headers into the client's again: a fifth of a call's CPU.
        return httpx.Request(
            call.method,
            self._url(call.path),
            params=call.params or None,
            content=call.body,
            headers=headers,
            extensions={"timeout": self._timeout_for(call).as_dict()},
        )

    def _url(self, path: str) -> httpx.URL:
        """The URL of ``path``; parsed once for the paths used most (the process ids differ,
        the routes do not)."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _KEPT_URLS:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(f"{self.base_url}{path}")
        return url

    def _base_headers(self, accept: str, *, has_body: bool) -> httpx.Headers:
        """Every header of a call but its own ``extra_headers``; built once per kind of call
        (the client's headers and token never change), and never changed once built."""
        key = (accept, has_body)
        headers = self._header_cache.get(key)
        if headers is None:
            # httpx.Headers replaces a name whatever its case, so a header set twice in two
            # spellings is still sent once, with the value of the later layer.
            headers = httpx.Headers(self._client_defaults)
            headers["Accept"] = accept
            headers.update(self._headers)
            if has_body:
                # Coder's agent ignores Content-Type; ours accepts it either way. Sending it
                # keeps proxies and request logs honest.
                headers["Content-Type"] = "application/json"
            headers.update(self._token_header.headers(self._token))
            self._header_cache[key] = headers
        return headers

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
            retry_after = outcome.headers.get("Retry-After")
        else:
            error_type = (
                APITimeoutError
                if isinstance(outcome, httpx.TimeoutException)
                else APIConnectionError
            )
            error = error_type(method=request.method, url=str(request.url), cause=outcome)
            retry_after = None
        if not (is_transient(outcome) and call.retry_safe and retries_taken < self._max_retries):
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
        # The clock is read here, so the policy of agentsdk._retry stays a pure function.
        return retry_delay(retries_taken, retry_after, now=time.time())


_KEPT_URLS = 64
"""Parsed URLs kept per client; the cache starts over when full."""


def _as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def _check_max_retries(max_retries: object) -> None:
    if max_retries is None:
        raise ValueError("max_retries must be an int; pass 0 to disable retries")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"Expected max_retries >= 0 but received {max_retries!r}")
