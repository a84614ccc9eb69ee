"""The retry policy: which failures are worth a second attempt, and how long to wait first.

Only a transient failure of a call that is safe to send twice is retried: no answer at all
(a timeout, a dropped connection), 429, or a status of 500 and above. The wait honours the
server's ``Retry-After`` up to a minute, else it backs off exponentially with jitter.
``BaseClient._settle`` applies the policy and hands the sender a ``Retry``; the sender only
sleeps. Everything here is pure: the current time comes in as an argument.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass, field

import httpx

from agentsdk._exceptions import AgentSDKError

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "RETRY_JITTER",
    "Retry",
    "backoff_delay",
    "is_transient",
    "parse_retry_after",
    "retry_delay",
]

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

_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Transport failures that a second attempt may not meet; a bad URL or a proxy refusal would.


@dataclass(frozen=True, slots=True)
class Retry:
    """The sender should sleep ``delay`` seconds and send the call again."""

    delay: float
    error: AgentSDKError = field(repr=False)
    """The failure being retried, for the log line."""


def is_transient(outcome: httpx.Response | httpx.RequestError) -> bool:
    """Whether a failed attempt may succeed when sent again.

    True for 429, a status of 500 and above, and a timeout, network or protocol error.
    """
    if isinstance(outcome, httpx.Response):
        return outcome.status_code == 429 or outcome.status_code >= 500
    return isinstance(outcome, _TRANSIENT_ERRORS)


def retry_delay(retries_taken: int, retry_after: str | None, *, now: float) -> float:
    """Seconds to sleep before retry number ``retries_taken + 1``.

    Args:
        retries_taken: How many retries were sent already.
        retry_after: The answer's ``Retry-After`` header, or ``None``.
        now: The current Unix time, for a ``Retry-After`` date.
    """
    honoured = parse_retry_after(retry_after, now=now)
    if honoured is not None and honoured <= MAX_RETRY_AFTER:
        return honoured
    return backoff_delay(retries_taken)


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
