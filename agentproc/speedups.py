"""Which event loop and HTTP parser the agent's server runs on: the C ones when installed.

uvicorn serves on asyncio's own loop and h11 (an HTTP parser in pure Python) unless uvloop
and httptools are installed; with them, each request costs the agent about a tenth less. Both
are dependencies of agentproc, but neither builds everywhere (uvloop has no Windows or PyPy
build), so the agent falls back to asyncio and h11 without them. ``auto`` picks the fast one
when it is installed; naming one explicitly fails at startup when it is not, rather than
quietly serving on the other.

The same choice is made for ``agentproc serve`` (``--loop``, ``--http``) and for the test
suite's servers, which read the same variables: ``AGENTPROC_LOOP=asyncio AGENTPROC_HTTP=h11``
runs every test on the fallback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping

__all__ = [
    "AUTO",
    "HTTP_CHOICES",
    "HTTP_VARIABLE",
    "LOOP_CHOICES",
    "LOOP_VARIABLE",
    "event_loop",
    "http_parser",
    "installed",
    "resolve",
]

AUTO = "auto"
"""The fast implementation when it is installed, else the standard library's or h11."""

HTTP_CHOICES = (AUTO, "httptools", "h11")
"""HTTP parsers uvicorn offers: httptools (C, fast) and h11 (pure Python, always there)."""

LOOP_CHOICES = (AUTO, "uvloop", "asyncio")
"""Event loops uvicorn offers: uvloop (C, fast) and asyncio's own (always there)."""

HTTP_VARIABLE = "AGENTPROC_HTTP"
"""Names the HTTP parser (``--http``); the test suite's servers read it too."""

LOOP_VARIABLE = "AGENTPROC_LOOP"
"""Names the event loop (``--loop``); the test suite's servers read it too."""

_FAST: Mapping[str, tuple[str, str]] = {
    "http": ("httptools", "h11"),
    "loop": ("uvloop", "asyncio"),
}
"""For each choice: the fast implementation (also its module's name) and the fallback."""


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here."""
    return importlib.util.find_spec(module) is not None


def resolve(kind: str, choice: str, *, is_installed: Callable[[str], bool] | None = None) -> str:
    """The implementation ``choice`` names for ``kind`` (``"http"`` or ``"loop"``): the fast
    one or the fallback for :data:`AUTO`, else ``choice`` itself once it is known usable.

    Args:
        kind: ``"http"`` or ``"loop"``.
        choice: :data:`AUTO` or an implementation's name.
        is_installed: tells whether a module can be imported; :func:`installed` by default.

    Raises:
        ValueError: ``choice`` is not one of the kind's choices, or names the fast
            implementation while it is not installed.
    """
    is_installed = is_installed or installed
    fast, fallback = _FAST[kind]
    if choice == AUTO:
        return fast if is_installed(fast) else fallback
    if choice not in (fast, fallback):
        raise ValueError(f"{choice!r} is not one of {AUTO}, {fast}, {fallback}")
    if choice == fast and not is_installed(fast):
        raise ValueError(f"{fast} is not installed (pip install {fast}), use {fallback}")
    return choice


def http_parser(choice: str) -> str:
    """:func:`resolve` for the HTTP parser, as an option's parser (``--http``)."""
    return resolve("http", choice)


def event_loop(choice: str) -> str:
    """:func:`resolve` for the event loop, as an option's parser (``--loop``)."""
    return resolve("loop", choice)
