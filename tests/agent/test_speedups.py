"""Which event loop and HTTP parser the agent serves on: the fast ones when installed, else
the fallback, and never a silent substitute for one named explicitly."""

from __future__ import annotations

import pytest

from agentproc.speedups import AUTO, event_loop, http_parser, resolve


def nothing_installed(module: str) -> bool:
    """Neither uvloop nor httptools can be imported."""
    return False


def everything_installed(module: str) -> bool:
    """Both uvloop and httptools can be imported."""
    return True


@pytest.mark.parametrize(("kind", "fast"), [("http", "httptools"), ("loop", "uvloop")])
def test_auto_picks_the_fast_implementation_when_it_is_installed(kind: str, fast: str) -> None:
    """``auto`` means httptools and uvloop where they can be imported."""
    assert resolve(kind, AUTO, is_installed=everything_installed) == fast


@pytest.mark.parametrize(("kind", "fallback"), [("http", "h11"), ("loop", "asyncio")])
def test_auto_falls_back_when_the_fast_implementation_is_missing(kind: str, fallback: str) -> None:
    """Without httptools and uvloop, ``auto`` serves on h11 and asyncio's own loop."""
    assert resolve(kind, AUTO, is_installed=nothing_installed) == fallback


@pytest.mark.parametrize(("kind", "fast"), [("http", "httptools"), ("loop", "uvloop")])
def test_a_fast_implementation_named_but_missing_is_refused(kind: str, fast: str) -> None:
    """Asking for httptools or uvloop where it is missing fails, saying how to get it."""
    with pytest.raises(ValueError, match=f"{fast} is not installed"):
        resolve(kind, fast, is_installed=nothing_installed)


@pytest.mark.parametrize(("kind", "fallback"), [("http", "h11"), ("loop", "asyncio")])
def test_the_fallback_can_always_be_named(kind: str, fallback: str) -> None:
    """h11 and asyncio are there whatever is installed."""
    assert resolve(kind, fallback, is_installed=nothing_installed) == fallback


def test_an_unknown_implementation_is_refused_naming_the_choices() -> None:
    """A name uvicorn does not offer is refused with the list of those it does."""
    with pytest.raises(ValueError, match="'tornado' is not one of auto, httptools, h11"):
        http_parser("tornado")
    with pytest.raises(ValueError, match="'trio' is not one of auto, uvloop, asyncio"):
        event_loop("trio")
