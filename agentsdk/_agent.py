"""The process API's calls, described before any I/O.

Each ``*_call`` function checks its arguments (``ValueError`` before any I/O) and describes
one call of the agent's process API: method, path, query, body, the call's own headers,
whether a retry is safe, how to parse the answer. ``AgentConn`` and ``AsyncAgentConn`` hand
the description to their sender; everything after that, from building the request to
settling the answer, is the generic ``BaseClient`` of ``agentsdk._base``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import get_args
from urllib.parse import quote

import httpx
import pydantic

from agentsdk._call import Call, encode_json, header_items
from agentsdk._responses import model_parser
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

__all__ = ["list_call", "output_call", "process_path", "signal_call", "start_call"]

_SIGNALS: tuple[str, ...] = get_args(Signal)

_START_FIELDS = frozenset(StartProcessRequest.model_fields)
# The keywords start_process takes: the wire model's fields, so a new field needs no edit here.


def start_call(
    request: StartProcessRequest | None,
    fields: Mapping[str, object],
    *,
    generate_key: bool,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[StartProcessResponse]:
    """Describe a start from a whole request or from its fields given as keywords.

    Args:
        request: The whole request, or ``None`` to build one from ``fields``.
        fields: ``start_process``'s keywords (``StartProcessParams``); ``None`` values
            count as not given.
        generate_key: Give a request without an idempotency key a fresh one, so that a
            retry attaches to the first process instead of running the command twice.
        extra_headers: Headers of this call only.

    Raises:
        TypeError: A keyword that is not a field of ``StartProcessRequest``.
        ValueError: No command, bad field types, both a request and keyword fields, or
            malformed ``extra_headers``.
    """
    unknown = sorted(set(fields) - _START_FIELDS)
    if unknown:
        # What Python says for a keyword the signature does not name.
        raise TypeError(f"start_process() got an unexpected keyword argument {unknown[0]!r}")
    given = {name: value for name, value in fields.items() if value is not None}
    if request is not None:
        if not isinstance(request, StartProcessRequest):
            raise ValueError(
                f"Expected a StartProcessRequest but received {type(request).__name__}"
            )
        if given:
            raise ValueError("Pass a StartProcessRequest or keyword fields, not both")
    else:
        command = given.get("command")
        if not isinstance(command, str) or not command:
            raise ValueError(f"Expected a non-empty command but received {command!r}")
        try:
            request = StartProcessRequest.model_validate(given)
        except pydantic.ValidationError as exc:
            raise ValueError(f"Invalid start request: {exc}") from exc
    if request.idempotency_key is None and generate_key:
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


def list_call(*, extra_headers: Mapping[str, str] | None = None) -> Call[ListProcessesResponse]:
    """Describe a list of the processes visible to the request."""
    return Call(
        method="GET",
        path=f"{API_PREFIX}/list",
        parse=model_parser(ListProcessesResponse),
        extra_headers=header_items(extra_headers),
    )


def output_call(
    id: str,
    *,
    wait: bool,
    timeout_ms: int | None,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[ProcessOutputResponse]:
    """Describe an output read; a wait reads for longer than the agent may hold it.

    Raises:
        ValueError: An empty id, a ``wait`` that is not a bool, or a ``timeout_ms`` that is
            negative, not an int, or given without a wait.
    """
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


def signal_call(
    id: str, signal: Signal, *, extra_headers: Mapping[str, str] | None = None
) -> Call[None]:
    """Describe a signal to a process's group.

    Raises:
        ValueError: An empty id or a signal the agent does not know.
    """
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
