"""``AsyncAgentConn``: the process API's public methods, awaitable.

Each public method asks a call function of ``agentsdk._agent`` for a ``Call`` (arguments
are checked there, before any I/O) and hands it to ``_request``. The constructor,
``with_options``, closing and ``_request``, the only place that sends and sleeps, come from
``AsyncSender`` in ``agentsdk._senders``. It mirrors ``agentsdk._sync_client`` line for line;
the methods' full documentation is on the synchronous twin. All decisions live in
``agentsdk._agent`` and in the pure steps of ``agentsdk._base``, so this module knows nothing
of how a call is planned, retried or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Unpack

from agentsdk._agent import (
    input_call,
    list_call,
    output_call,
    resize_call,
    screen_call,
    signal_call,
    start_call,
)
from agentsdk._exceptions import APIStatusError
from agentsdk._run import RunPlan
from agentsdk._senders import AsyncSender
from agentsdk._stream import AsyncOutputStream, OutputStreamPlan
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessScreenResponse,
    RunProcessResponse,
    Signal,
    StartProcessParams,
    StartProcessRequest,
    StartProcessResponse,
    TerminalSize,
)

__all__ = ["AsyncAgentConn"]


class AsyncAgentConn(AsyncSender):
    """An asynchronous client for one agent's process API, over one pooled ``httpx.AsyncClient``.

    The same methods as ``AgentConn``, awaitable, and the same ``with_options``. Use it with
    ``async with``, or await ``aclose()`` when done; a closed client cannot be used again.
    Example::

        async with AsyncAgentConn("http://127.0.0.1:4", token="s3cret") as agent:
            started = await agent.start_process(command="make test")
            result = await agent.process_output(started.id, wait=True)

    Args:
        base_url: The agent's address, e.g. ``http://127.0.0.1:4``; a path prefix is kept.
        token: Sent as ``Authorization: Bearer <token>`` on every request.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout. A waiting
            ``process_output`` raises its read timeout above the server's wait cap.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request, e.g. ``{"Coder-Chat-Id": chat_id}``;
            ``headers`` reads them back. A method's ``extra_headers`` win over them for
            that call.
        http_client: An ``httpx.AsyncClient`` to send with. It stays the caller's:
            ``aclose()`` does not close it.
        transport: An async ``httpx`` transport (e.g. ``httpx.ASGITransport``) for a client
            this object creates and owns.
        uds: A Unix socket to connect through instead of TCP, as for ``AgentConn``.

    Raises:
        ValueError: An argument is malformed, or more than one of ``http_client``,
            ``transport`` and ``uds`` is given.
    """

    async def start_process(
        self,
        request: StartProcessRequest | None = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> StartProcessResponse:
        """Start ``sh -c <command>`` on the agent; returns as soon as it is spawned.

        See ``AgentConn.start_process``.
        """
        return await self._request(
            start_call(
                request,
                fields,
                generate_key=self.max_retries > 0,
                extra_headers=extra_headers,
            )
        )

    async def run_process(
        self,
        request: StartProcessRequest | None = None,
        *,
        wait_ms: int | None = None,
        wake_on_input: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> RunProcessResponse:
        """Start ``sh -c <command>`` and wait for it. See ``AgentConn.run_process``."""
        plan = RunPlan.make(
            request,
            fields,
            wait_ms=wait_ms,
            wake_on_input=wake_on_input,
            generate_key=self.max_retries > 0,
            extra_headers=extra_headers,
        )
        if plan.route not in self._absent_routes:
            try:
                return await self._request(plan.run())
            except APIStatusError as exc:
                if not plan.route_missing(exc):
                    raise
                self._absent_routes.add(plan.route)
        started = await self._request(plan.start())
        return plan.combine(started, await self._request(plan.output(started)))

    async def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> ListProcessesResponse:
        """List every process visible to this client. See ``AgentConn.list_processes``."""
        return await self._request(list_call(extra_headers=extra_headers))

    async def process_output(
        self,
        id: str,
        *,
        since: int | Literal["last"] | None = None,
        limit: int | None = None,
        wait: bool = False,
        timeout_ms: int | None = None,
        wake_on_input: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessOutputResponse:
        """Read a process's output and exit state. See ``AgentConn.process_output``."""
        return await self._request(
            output_call(
                id,
                since=since,
                limit=limit,
                wait=wait,
                timeout_ms=timeout_ms,
                wake_on_input=wake_on_input,
                extra_headers=extra_headers,
            )
        )

    def stream_output(
        self, id: str, *, since: int = 0, extra_headers: Mapping[str, str] | None = None
    ) -> AsyncOutputStream:
        """Follow a process's output as it is written. See ``AgentConn.stream_output``.

        Not a coroutine: ``async for`` the stream it returns, or use it in ``async with``.
        """
        self._check_open()
        plan = OutputStreamPlan(id, since=since, extra_headers=extra_headers)
        return AsyncOutputStream(self._stream_events(plan), plan)

    async def write_input(
        self,
        id: str,
        data: str | bytes,
        *,
        close: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessInputResponse:
        """Queue input for a process started with ``stdin=True``. See ``AgentConn.write_input``."""
        return await self._request(input_call(id, data, close=close, extra_headers=extra_headers))

    async def close_input(
        self, id: str, *, extra_headers: Mapping[str, str] | None = None
    ) -> ProcessInputResponse:
        """Close a process's stdin. See ``AgentConn.close_input``."""
        return await self._request(input_call(id, None, close=True, extra_headers=extra_headers))

    async def resize(
        self, id: str, rows: int, cols: int, *, extra_headers: Mapping[str, str] | None = None
    ) -> TerminalSize:
        """Resize a process's terminal. See ``AgentConn.resize``."""
        return await self._request(resize_call(id, rows, cols, extra_headers=extra_headers))

    async def screen(
        self,
        id: str,
        *,
        scrollback: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessScreenResponse:
        """Read a process's terminal screen. See ``AgentConn.screen``."""
        return await self._request(
            screen_call(id, scrollback=scrollback, extra_headers=extra_headers)
        )

    async def signal_process(
        self, id: str, signal: Signal, *, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        """Signal a process's whole group. See ``AgentConn.signal_process``."""
        await self._request(signal_call(id, signal, extra_headers=extra_headers))
