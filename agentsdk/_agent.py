"""``BaseAgentConn``: the process API's calls, described before any I/O.

Each ``BaseAgentConn._*_call`` checks its arguments (``ValueError`` before any I/O) and
describes one call of the agent's process API: method, path, query, body, the call's own
headers, whether a retry is safe, how to parse the answer. Everything after that, from
building the request to settling the answer, is the generic ``BaseClient`` of
``agentsdk._base``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import get_args
from urllib.parse import quote

import httpx
import pydantic

from agentsdk._base import BaseClient, Call, encode_json, header_items, model_parser
from agentsdk.types import (
    ListProcessesResponse,
    ProcessOutputResponse,
    Signal,
    SignalProcessRequest,
    SignalProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import API_PREFIX, MAX_WAIT_SECONDS

__all__ = ["BaseAgentConn", "process_path"]

_SIGNALS: tuple[str, ...] = get_args(Signal)


class BaseAgentConn(BaseClient):
    """Configuration and pure logic shared by ``AgentConn`` and ``AsyncAgentConn``.

    Args:
        base_url: The agent's address, e.g. ``http://127.0.0.1:4``; a path prefix is kept.
        token: Sent as ``Authorization: Bearer <token>`` on every request.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request, e.g. ``{"Coder-Chat-Id": chat_id}``.

    Every call also takes ``extra_headers``: headers of that call only, over all others.

    Raises:
        ValueError: An argument is malformed.
    """

    def _start_call(
        self,
        request: StartProcessRequest | None,
        *,
        command: str | None,
        workdir: str | None,
        env: Mapping[str, str] | None,
        background: bool | None,
        idempotency_key: str | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Call[StartProcessResponse]:
        fields_given = any(
            value is not None for value in (command, workdir, env, background, idempotency_key)
        )
        if request is not None:
            if not isinstance(request, StartProcessRequest):
                raise ValueError(
                    f"Expected a StartProcessRequest but received {type(request).__name__}"
                )
            if fields_given:
                raise ValueError("Pass a StartProcessRequest or keyword fields, not both")
        else:
            if not isinstance(command, str) or not command:
                raise ValueError(f"Expected a non-empty command but received {command!r}")
            try:
                request = StartProcessRequest(
                    command=command,
                    workdir=workdir,
                    env=dict(env) if env is not None else None,
                    background=background,
                    idempotency_key=idempotency_key,
                )
            except pydantic.ValidationError as exc:
                raise ValueError(f"Invalid start request: {exc}") from exc
        if request.idempotency_key is None and self._max_retries > 0:
            # The agent runs a repeated key once, so a retry after a lost answer attaches to
            # the first process instead of running the command a second time.
            request = request.model_copy(update={"idempotency_key": str(uuid.uuid4())})
        return Call(
            method="POST",
            path=f"{API_PREFIX}/start",
            parse=model_parser(StartProcessResponse),
            body=encode_json(request),
            retry_safe=request.idempotency_key is not None,
            extra_headers=header_items(extra_headers),
        )

    def _list_call(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> Call[ListProcessesResponse]:
        return Call(
            method="GET",
            path=f"{API_PREFIX}/list",
            parse=model_parser(ListProcessesResponse),
            extra_headers=header_items(extra_headers),
        )

    def _output_call(
        self,
        id: str,
        *,
        wait: bool,
        timeout_ms: int | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Call[ProcessOutputResponse]:
        path = f"{process_path(id)}/output"
        headers = header_items(extra_headers)
        if not isinstance(wait, bool):
            raise ValueError(f"Expected wait to be a bool but received {wait!r}")
        if timeout_ms is not None:
            if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
                raise ValueError(f"Expected timeout_ms >= 0 but received {timeout_ms!r}")
            if not wait:
                raise ValueError("timeout_ms bounds a wait; pass wait=True with it")
        if not wait:
            return Call(
                method="GET",
                path=path,
                parse=model_parser(ProcessOutputResponse),
                extra_headers=headers,
            )
        params: tuple[tuple[str, str], ...] = (("wait", "true"),)
        wait_seconds = MAX_WAIT_SECONDS
        if timeout_ms is not None:
            params += (("timeout_ms", str(timeout_ms)),)
            wait_seconds = min(wait_seconds, timeout_ms / 1000)
        return Call(
            method="GET",
            path=path,
            parse=model_parser(ProcessOutputResponse),
            params=params,
            wait_seconds=wait_seconds,
            extra_headers=headers,
        )

    def _signal_call(
        self, id: str, signal: Signal, *, extra_headers: Mapping[str, str] | None = None
    ) -> Call[None]:
        path = f"{process_path(id)}/signal"
        if signal not in _SIGNALS:
            raise ValueError(f"Expected signal to be one of {_SIGNALS} but received {signal!r}")
        return Call(
            method="POST",
            path=path,
            parse=_signal_parser,
            body=encode_json(SignalProcessRequest(signal=signal)),
            extra_headers=header_items(extra_headers),
        )


def process_path(id: str) -> str:
    """The escaped path of one process: its id is always exactly one path segment.

    Raises:
        ValueError: ``id`` is empty or not a string.
    """
    if not isinstance(id, str) or not id:
        raise ValueError(f"Expected a non-empty process id but received {id!r}")
    segment = quote(id, safe="")
    if segment in {".", ".."}:
        # A bare dot segment would be resolved away by URL normalisation and address
        # another route; escaped, it reaches the agent as the (unknown) id it is.
        segment = segment.replace(".", "%2E")
    return f"{API_PREFIX}/{segment}"


def _signal_parser(response: httpx.Response) -> None:
    # The agent confirms with {"message": ...}; decoding it checks we talked to an agent
    # and not to something that answers 200 to everything.
    model_parser(SignalProcessResponse)(response)
