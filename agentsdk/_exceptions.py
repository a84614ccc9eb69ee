"""Every error the SDK raises, in one tree.

::

    AgentSDKError
     ├── APIConnectionError   (could not talk to the agent: connect/read errors)
     │    └── APITimeoutError
     └── APIStatusError       (the agent said no; status_code, method, url, message, detail,
          │                    validations, response)
          ├── BadRequestError (400)      ├── AuthenticationError (401)
          ├── NotFoundError (404)        ├── ConflictError (409)
          ├── PayloadTooLargeError (413) ├── RateLimitError (429)
          └── InternalServerError (>= 500)

Catch ``APIConnectionError`` to handle an unreachable agent, ``APIStatusError`` (or one of
its subclasses) to handle an answer, and ``AgentSDKError`` for both. Bad arguments are not
part of this tree: they raise ``ValueError`` before any request is sent.

The string form of a status error follows Coder's Go SDK, so logs read the same whichever
client produced them::

    GET http://agent:4/api/v0/processes/x/output: unexpected status code 404: Process "x" not found.
"""

from __future__ import annotations

from typing import Literal

import httpx

from agentsdk.types import FieldValidation

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentSDKError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
]


class AgentSDKError(Exception):
    """Raised for every failure the SDK reports; the base of the whole tree."""


class APIConnectionError(AgentSDKError):
    """Raised when the request never got an answer: connect, read or protocol errors.

    The underlying ``httpx`` error is kept as ``__cause__`` and in ``cause``.
    """

    method: str
    """The HTTP method of the failed request."""

    url: str
    """The full URL of the failed request."""

    cause: httpx.RequestError
    """The ``httpx`` error that ended the request."""

    def __init__(self, *, method: str, url: str, cause: httpx.RequestError) -> None:
        self.method = method
        self.url = url
        self.cause = cause
        super().__init__(f"{method} {url}: do request: {_describe(cause)}")


class APITimeoutError(APIConnectionError):
    """Raised when connecting to the agent or waiting for its answer took too long."""


class APIStatusError(AgentSDKError):
    """Raised when the agent answered with a status other than success.

    The fields come from the agent's error body ``{"message", "detail"?, "validations"?}``;
    a body that is not such JSON still yields a readable ``message`` and the raw text as
    ``detail``.
    """

    status_code: int
    """The HTTP status of the answer."""

    method: str
    """The HTTP method of the request."""

    url: str
    """The full URL of the request."""

    message: str
    """The agent's one-sentence explanation."""

    detail: str | None
    """The underlying cause, when the agent gave one."""

    validations: list[FieldValidation]
    """Per-field failures of a request that did not validate; empty when there are none."""

    response: httpx.Response
    """The raw answer, for headers or anything the fields above do not cover."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        detail: str | None = None,
        validations: list[FieldValidation] | None = None,
    ) -> None:
        self.status_code = response.status_code
        self.method = response.request.method
        self.url = str(response.request.url)
        self.message = message
        self.detail = detail
        self.validations = list(validations or [])
        self.response = response
        super().__init__(self._render())

    def _render(self) -> str:
        # Coder's codersdk.Error.Error(): one line, then a tab-indented line per extra fact.
        text = (
            f"{self.method} {self.url}: unexpected status code {self.status_code}: {self.message}"
        )
        if self.detail:
            text += f"\n\tError: {self.detail}"
        for validation in self.validations:
            text += f"\n\t{validation.field}: {validation.detail}"
        return text


class BadRequestError(APIStatusError):
    """Raised on 400: the agent rejected the request (empty command, bad workdir, bad signal)."""

    status_code: Literal[400]


class AuthenticationError(APIStatusError):
    """Raised on 401: the bearer token is missing or wrong."""

    status_code: Literal[401]


class NotFoundError(APIStatusError):
    """Raised on 404: no such process (unknown, forgotten, or another chat's)."""

    status_code: Literal[404]


class ConflictError(APIStatusError):
    """Raised on 409: the process is not running, or an idempotency key was reused differently."""

    status_code: Literal[409]


class PayloadTooLargeError(APIStatusError):
    """Raised on 413: the request body is larger than the agent accepts."""

    status_code: Literal[413]


class RateLimitError(APIStatusError):
    """Raised on 429: the agent already runs as many processes as it allows."""

    status_code: Literal[429]


class InternalServerError(APIStatusError):
    """Raised on any status of 500 or above: the agent failed, or is shutting down (503)."""


def _describe(cause: httpx.RequestError) -> str:
    # Some httpx errors (a bare ReadTimeout, for one) carry an empty message; the class name
    # is then the only thing that tells the reader what happened.
    text = str(cause)
    return text if text else type(cause).__name__
