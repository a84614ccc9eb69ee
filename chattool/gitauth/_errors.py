"""The one error of the external-auth route: why a request gets no token answer."""

from __future__ import annotations

__all__ = ["ExternalAuthError"]


class ExternalAuthError(Exception):
    """Raised when an external-auth request is refused or cannot be answered.

    Every refusal of the route is one of these, whatever its cause: a missing or unknown
    agent token (401), a query naming no provider or two (400), no provider matching (404), a
    token lookup that failed (500). The route turns it into the API's error shape
    ``{"message", "detail"?}`` in one place; the error knows nothing of HTTP but the status
    to answer with.

    Args:
        status: The status of the answer, 4xx or 5xx.
        message: What went wrong, for whoever reads git's output.
        detail: More about it (the underlying failure, or what to do); left out when ``None``.

    Raises:
        ValueError: ``status`` is not an error status.
    """

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"Expected an error status (4xx or 5xx) but received {status}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
