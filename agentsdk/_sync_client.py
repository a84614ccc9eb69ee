"""``AgentConn``: the process API's public methods, synchronous.

Each public method asks a call function of ``agentsdk._agent`` for a ``Call`` (arguments
are checked there, before any I/O) and hands it to ``_request``. The constructor,
``with_options``, closing and ``_request``, the only place that sends and sleeps, come from
``SyncSender`` in ``agentsdk._senders``. It mirrors ``agentsdk._async_client`` line for line;
all decisions live in ``agentsdk._agent`` and in the pure steps of ``agentsdk._base``, so this
module knows nothing of how a call is planned, retried or sent.
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
from agentsdk._senders import SyncSender
from agentsdk._stream import OutputStream, OutputStreamPlan
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

__all__ = ["AgentConn"]


class AgentConn(SyncSender):
    """A synchronous client for one agent's process API, over one pooled ``httpx.Client``.

    Use it as a context manager, or call ``close()`` when done; a closed client cannot be
    used again. ``with_options(timeout=..., max_retries=...)`` gives a copy for calls that
    need another timeout or retry count, over the same connection pool. Example::

        with AgentConn("http://127.0.0.1:4", token="s3cret") as agent:
            started = agent.start_process(command="make test")
            result = agent.process_output(started.id, wait=True)

    Args:
        base_url: The agent's address, e.g. ``http://127.0.0.1:4``; a path prefix is kept.
        token: Sent as ``Authorization: Bearer <token>`` on every request.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout. A waiting
            ``process_output`` raises its read timeout above the server's wait cap.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request, e.g. ``{"Coder-Chat-Id": chat_id}``;
            ``headers`` reads them back. A method's ``extra_headers`` win over them for
            that call.
        http_client: An ``httpx.Client`` to send with, e.g. Starlette's ``TestClient``.
            It stays the caller's: ``close()`` does not close it.
        transport: An ``httpx`` transport for a client this object creates and owns.
        uds: A Unix socket to connect through instead of TCP (``agentproc serve --uds``);
            ``base_url`` still names the host and any path prefix, e.g.
            ``AgentConn("http://localhost", uds="/run/agentproc.sock")``.

    Raises:
        ValueError: An argument is malformed, or more than one of ``http_client``,
            ``transport`` and ``uds`` is given.
    """

    def start_process(
        self,
        request: StartProcessRequest | None = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> StartProcessResponse:
        """Start ``sh -c <command>`` on the agent; returns as soon as it is spawned.

        Pass a ``StartProcessRequest`` or its fields as keywords. Without an idempotency key,
        one is generated when retries are enabled, so a retry never runs the command twice.

        Args:
            request: The whole request, instead of the keyword fields.
            extra_headers: Headers of this call only, over the client's (names match
                case-insensitively), e.g. ``{"Coder-Chat-Id": chat_id}``.
            **fields: The request's fields as keywords (``StartProcessParams``):
                ``command``, and optionally ``workdir``, ``env``, ``background``,
                ``idempotency_key``, ``stdin``, ``tty`` (``True`` or a ``TerminalSize``), and
                the deadlines ``timeout_ms`` and ``idle_timeout_ms`` (the agent ends the
                command once one passes).

        Returns:
            The process id, and whether this call started it or attached to an earlier one.

        Raises:
            TypeError: A keyword that is not a field of ``StartProcessRequest``.
            ValueError: No command, bad field types, both a request and keyword fields, or
                malformed ``extra_headers``.
            BadRequestError: The agent rejected the request (e.g. a missing workdir).
            ConflictError: The idempotency key was used before with different fields.
            RateLimitError: The agent runs as many processes as it allows.
        """
        return self._request(
            start_call(
                request,
                fields,
                generate_key=self.max_retries > 0,
                extra_headers=extra_headers,
            )
        )

    def run_process(
        self,
        request: StartProcessRequest | None = None,
        *,
        wait_ms: int | None = None,
        wake_on_input: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        **fields: Unpack[StartProcessParams],
    ) -> RunProcessResponse:
        """Start ``sh -c <command>`` and wait for it: the start's answer and the output.

        One request (``POST /run``) on an agentproc agent; on an agent without it (Coder's
        answers 404) a start and a waiting ``process_output``, and every later call of this
        connection goes straight to those two. The process keeps running if ``wait_ms``
        passes first: then ``running`` is true, and ``id`` is how to follow it.

        Args:
            request: The whole request, instead of the keyword fields.
            wait_ms: Wait at most this long for the exit; default the agent's cap (5
                minutes).
            wake_on_input: Also answer as soon as the command waits for input (then
                ``waiting_for_input`` is true and ``running`` too).
            extra_headers: Headers of every request of this call, over the client's.
            **fields: The request's fields as keywords, as for ``start_process``.

        Returns:
            The start's ``id``, ``started`` and ``attached``, then the output snapshot;
            ``running=False`` guarantees the output is complete.

        Raises:
            TypeError: A keyword that is not a field of ``StartProcessRequest``.
            ValueError: No command, bad field types, both a request and keyword fields, a
                negative ``wait_ms``, or malformed ``extra_headers``.
            BadRequestError: The agent rejected the request (e.g. a missing workdir).
            ConflictError: The idempotency key was used before with different fields.
            RateLimitError: The agent runs as many processes as it allows.
        """
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
                return self._request(plan.run())
            except APIStatusError as exc:
                if not plan.route_missing(exc):
                    raise
                self._absent_routes.add(plan.route)
        started = self._request(plan.start())
        return plan.combine(started, self._request(plan.output(started)))

    def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> ListProcessesResponse:
        """List every process visible to this client: running first, then newest first.

        Args:
            extra_headers: Headers of this call only, over the client's.

        Returns:
            The processes; with a ``Coder-Chat-Id`` header, only that chat's.
        """
        return self._request(list_call(extra_headers=extra_headers))

    def process_output(
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
        """Read a process's output and exit state: a snapshot, or from a cursor.

        Without ``since``: the bounded head+tail snapshot, as Coder's agent gives it. With
        ``since``: a cursor read of the bytes from that offset on, with ``offset``,
        ``next_offset`` (pass it as the next ``since``), ``total_bytes`` and ``skipped``
        (bytes the agent no longer keeps). ``since="last"`` starts where the previous cursor
        read of this chat context ended, so the agent, not the caller, keeps the place; such
        a read is not retried, since a retry after a lost answer would skip what it held.

        Args:
            id: The process id from ``start_process``.
            since: A byte offset >= 0, or ``"last"``: makes this a cursor read.
            limit: At most this many bytes (at least 1; default 64 KiB, the agent caps it at
                1 MiB); needs ``since``.
            wait: Without ``since``, block until the process exits; with it, until there is
                output past the cursor or the process exits. At most the server's 5-minute
                cap.
            timeout_ms: A shorter cap for the wait, in milliseconds; needs ``wait=True``.
            wake_on_input: Also end the wait as soon as the command waits for input (then
                ``waiting_for_input`` is true), at once if it does already; needs
                ``wait=True``.
            extra_headers: Headers of this call only, over the client's.

        Returns:
            The output; ``running=False`` guarantees it is complete (for a cursor read: up
            to ``total_bytes``).

        Raises:
            ValueError: Empty id, a ``since`` that is neither an offset >= 0 nor ``"last"``,
                a ``limit`` below 1 or without ``since``, or a ``timeout_ms`` or
                ``wake_on_input`` given without wait (or ``timeout_ms`` negative).
            NotFoundError: No such process visible to this client.
        """
        return self._request(
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
    ) -> OutputStream:
        """Follow a process's output as it is written, until it exits.

        The stream yields ``OutputEvent`` chunks and then one ``ExitEvent``. A dropped
        connection is resumed from the last chunk received (``Last-Event-ID``), so no byte
        is delivered twice or lost on the way; the retries and backoff are the client's,
        and a stream that cannot be resumed raises ``APIConnectionError``. The connection
        opens when the iteration starts; use a ``with`` block, or ``close()``, to end it
        early. Example::

            with agent.stream_output(started.id) as stream:
                for event in stream:
                    if isinstance(event, OutputEvent):
                        print(event.output, end="")
            print("exit code", stream.exit_code)

        Args:
            id: The process id from ``start_process``.
            since: The byte offset to start from; 0 replays everything the agent still
                keeps, a stream's ``next_offset`` continues where it stopped.
            extra_headers: Headers of every request of the stream, over the client's.

        Raises:
            ValueError: Empty id, or a ``since`` that is not an offset >= 0.
            RuntimeError: The client is closed.
        """
        self._check_open()
        plan = OutputStreamPlan(id, since=since, extra_headers=extra_headers)
        return OutputStream(self._stream_events(plan), plan)

    def write_input(
        self,
        id: str,
        data: str | bytes,
        *,
        close: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessInputResponse:
        """Queue input for a process started with ``stdin=True``.

        Text goes as ``data`` (UTF-8), bytes as ``data_base64``; the agent writes them in
        order as the command reads. The call answers at once, whether or not the command
        has read anything yet.

        Never retried, whatever ``max_retries`` says: once the request may have reached the
        agent, sending it again could queue the data twice. On a ``RateLimitError`` (the
        queue is full) wait for the ``Retry-After`` of ``exc.response`` and send again.

        Args:
            id: The process id from ``start_process``.
            data: The text or bytes to write.
            close: Close stdin (end-of-file) after the data.
            extra_headers: Headers of this call only, over the client's.

        Returns:
            How many bytes this call queued, and whether stdin is still open.

        Raises:
            ValueError: Empty id, or ``data`` that is neither ``str`` nor ``bytes``.
            NotFoundError: No such process visible to this client.
            ConflictError: The process has no open stdin (started without it, closed, or
                exited).
            RateLimitError: The process's input queue is full.
        """
        return self._request(input_call(id, data, close=close, extra_headers=extra_headers))

    def close_input(
        self, id: str, *, extra_headers: Mapping[str, str] | None = None
    ) -> ProcessInputResponse:
        """Close a process's stdin (end-of-file) once the input queued before is written.

        Never retried, like ``write_input``.

        Args:
            id: The process id from ``start_process``.
            extra_headers: Headers of this call only, over the client's.

        Raises:
            ValueError: Empty id.
            NotFoundError: No such process visible to this client.
            ConflictError: The process has no open stdin.
        """
        return self._request(input_call(id, None, close=True, extra_headers=extra_headers))

    def resize(
        self, id: str, rows: int, cols: int, *, extra_headers: Mapping[str, str] | None = None
    ) -> TerminalSize:
        """Resize the terminal of a process started with ``tty``; its foreground program gets
        ``SIGWINCH`` and redraws.

        Args:
            id: The process id from ``start_process``.
            rows: Lines, 1 to 1000.
            cols: Columns, 1 to 1000.
            extra_headers: Headers of this call only, over the client's.

        Returns:
            The terminal's new size.

        Raises:
            ValueError: Empty id, or a side that is not an int from 1 to 1000.
            NotFoundError: No such process visible to this client.
            ConflictError: The process has no terminal, or has exited.
        """
        return self._request(resize_call(id, rows, cols, extra_headers=extra_headers))

    def screen(
        self,
        id: str,
        *,
        scrollback: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProcessScreenResponse:
        """Read the screen of a process started with ``tty``: its lines as a terminal shows
        them after all output so far (no escape sequences), the cursor, and the exit state.
        Stays readable after the process exits.

        Args:
            id: The process id from ``start_process``.
            scrollback: Also return up to this many lines that scrolled off the top.
            extra_headers: Headers of this call only, over the client's.

        Raises:
            ValueError: Empty id, or a ``scrollback`` that is not an int >= 0.
            NotFoundError: No such process visible to this client.
            ConflictError: The process has no terminal.
        """
        return self._request(screen_call(id, scrollback=scrollback, extra_headers=extra_headers))

    def signal_process(
        self, id: str, signal: Signal, *, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        """Send ``terminate`` (SIGTERM) or ``kill`` (SIGKILL) to a process's whole group.

        Args:
            id: The process id from ``start_process``.
            signal: ``"terminate"`` or ``"kill"``.
            extra_headers: Headers of this call only, over the client's.

        Raises:
            ValueError: Empty id or an unknown signal.
            NotFoundError: No such process visible to this client.
            ConflictError: The process is not running any more.
        """
        self._request(signal_call(id, signal, extra_headers=extra_headers))
