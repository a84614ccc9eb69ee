"""The calls of a process's terminal, described before any I/O: resize and screen.

Each checks its arguments (``ValueError`` before any I/O) and describes one call; it knows
nothing of how the call is sent, retried or of the terminal's emulation on the agent.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentsdk._call import Call, encode_json, header_items
from agentsdk._process_routes import process_route
from agentsdk._responses import model_parser
from agentsdk.types import (
    ProcessScreenResponse,
    TerminalSize,
)
from agentsdk.wire import (
    MAX_TERMINAL_SIDE,
    RESIZE_PATH,
    SCREEN_PATH,
)

__all__ = ["resize_call", "screen_call"]


def resize_call(
    id: str, rows: int, cols: int, *, extra_headers: Mapping[str, str] | None = None
) -> Call[TerminalSize]:
    """Describe a resize of a process's terminal. Safe to retry: a second resize to the same
    size changes nothing.

    Raises:
        ValueError: An empty id, or a side that is not an int from 1 to ``MAX_TERMINAL_SIDE``.
    """
    path = process_route(RESIZE_PATH, id)
    for name, side in (("rows", rows), ("cols", cols)):
        if (
            isinstance(side, bool)
            or not isinstance(side, int)
            or not 1 <= side <= MAX_TERMINAL_SIDE
        ):
            raise ValueError(f"Expected {name} from 1 to {MAX_TERMINAL_SIDE} but received {side!r}")
    return Call(
        method="POST",
        path=path,
        parse=model_parser(TerminalSize),
        body=encode_json(TerminalSize(rows=rows, cols=cols)),
        extra_headers=header_items(extra_headers),
    )


def screen_call(
    id: str, *, scrollback: int | None = None, extra_headers: Mapping[str, str] | None = None
) -> Call[ProcessScreenResponse]:
    """Describe a read of a process's terminal screen, with ``scrollback`` lines that
    scrolled off it when given.

    Raises:
        ValueError: An empty id, or a ``scrollback`` that is not an int >= 0.
    """
    path = process_route(SCREEN_PATH, id)
    params: tuple[tuple[str, str], ...] = ()
    if scrollback is not None:
        if isinstance(scrollback, bool) or not isinstance(scrollback, int) or scrollback < 0:
            raise ValueError(f"Expected scrollback >= 0 lines but received {scrollback!r}")
        params = (("scrollback", str(scrollback)),)
    return Call(
        method="GET",
        path=path,
        parse=model_parser(ProcessScreenResponse),
        params=params,
        extra_headers=header_items(extra_headers),
    )
