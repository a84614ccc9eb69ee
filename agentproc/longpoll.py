"""Holding a request open until something happens: the long poll of ``wait=true``.

A waiting request ends at the first of three things: what it waits for (an exit, new
output), the wait cap (``timeout_ms`` lowers it), or the client's departure, so that a client
that gave up holds nothing on the agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import anyio
from starlette.requests import Request

from agentproc.body import capped_decimal
from agentsdk.wire import MAX_WAIT_MS

__all__ = ["UNWATCHED_SECONDS", "long_poll"]

UNWATCHED_SECONDS = 0.05
"""How long a wait goes without watching for the client's departure: a client that left
holds nothing for longer than this."""


async def long_poll(
    request: Request, timeout_ms: str | None, *untils: Callable[[], Awaitable[None]]
) -> None:
    """Wait for the first of ``untils`` (an exit, new output, a question), the wait cap
    (``timeout_ms`` lowers it) or the client's departure, whichever comes first."""
    until = untils[0] if len(untils) == 1 else partial(_first_of, untils)
    cap = (MAX_WAIT_MS if timeout_ms is None else capped_decimal(timeout_ms, MAX_WAIT_MS)) / 1000
    # Most waits end within moments (a short command's exit): those are waited for alone;
    # watching the client as well costs a task and a cancellation.
    first = min(cap, UNWATCHED_SECONDS)
    with anyio.move_on_after(first) as unwatched:
        await until()
    if not unwatched.cancelled_caught or cap <= first:
        return
    async with anyio.create_task_group() as tg:

        async def wait_until() -> None:
            with anyio.move_on_after(cap - first):
                await until()
            tg.cancel_scope.cancel()

        tg.start_soon(wait_until)
        await _wait_disconnect(request)
        tg.cancel_scope.cancel()


async def _first_of(untils: tuple[Callable[[], Awaitable[None]], ...]) -> None:
    async with anyio.create_task_group() as tg:

        async def wait_until(until: Callable[[], Awaitable[None]]) -> None:
            await until()
            tg.cancel_scope.cancel()

        for until in untils:
            tg.start_soon(wait_until, until)


async def _wait_disconnect(request: Request) -> None:
    # After the body, the next ASGI message is the disconnect; waiting for it is how a long
    # poll stops working for a client that went away.
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
