"""The process API's calls, described before any I/O.

Each ``*_call`` function checks its arguments (``ValueError`` before any I/O) and describes
one call of the agent's process API: method, path, query, body, the call's own headers,
whether a retry is safe, how to parse the answer. ``AgentConn`` and ``AsyncAgentConn`` hand
the description to their sender; everything after that, from building the request to
settling the answer, is the generic ``BaseClient`` of ``agentsdk._base``.

Here: start, list, output, input and signal. The stream's call is ``agentsdk._stream_call``'s,
the terminal's ``agentsdk._terminal_calls``', the paths and shared checks
``agentsdk._process_routes``'; all are importable from here too. It knows nothing of sending.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Literal, get_args

import httpx
import pydantic

from agentsdk._call import Call, encode_json, header_items
from agentsdk._process_routes import check_offset, process_path, process_route
from agentsdk._responses import model_parser
from agentsdk._stream_call import EVENT_STREAM, STREAM_SILENCE_SECONDS, stream_call
from agentsdk._terminal_calls import resize_call, screen_call
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInputRequest,
    ProcessInputResponse,
    ProcessOutputResponse,
    Signal,
    SignalProcessRequest,
    SignalProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import (
    API_PREFIX,
    INPUT_PATH,
    MAX_WAIT_SECONDS,
    SINCE_LAST,
    WAKE_ON_INPUT,
)

__all__ = [
    "EVENT_STREAM",
    "STREAM_SILENCE_SECONDS",
    "input_call",
    "list_call",
    "output_call",
    "process_path",
    "resize_call",
    "screen_call",
    "signal_call",
    "start_call",
    "start_call_for",
    "start_request",
    "stream_call",
]

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
    headers = header_items(extra_headers)
    return start_call_for(start_request(request, fields, generate_key=generate_key), headers)


def start_request(
    request: StartProcessRequest | None,
    fields: Mapping[str, object],
    *,
    generate_key: bool,
    method: str = "start_process",
) -> StartProcessRequest:
    """The request a start sends, from a whole request or from its fields as keywords, with
    an idempotency key when ``generate_key`` asks for one (see :func:`start_call`).

    Raises:
        TypeError: A keyword that is not a field of ``StartProcessRequest``; the message
            names ``method``, as Python names the function.
        ValueError: No command, bad field types, or both a request and keyword fields.
    """
    unknown = sorted(set(fields) - _START_FIELDS)
    if unknown:
        # What Python says for a keyword the signature does not name.
        raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")
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
    return request


def start_call_for(
    request: StartProcessRequest, extra_headers: tuple[tuple[str, str], ...]
) -> Call[StartProcessResponse]:
    """Describe the start of ``request`` as :func:`start_request` made it; retried only
    with an idempotency key."""
    return Call(
        method="POST",
        path=f"{API_PREFIX}/start",
        parse=model_parser(StartProcessResponse),
        body=encode_json(request),
        retry_safe=request.idempotency_key is not None,
        extra_headers=extra_headers,
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
    since: int | Literal["last"] | None = None,
    limit: int | None = None,
    wait: bool,
    timeout_ms: int | None,
    wake_on_input: bool = False,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[ProcessOutputResponse]:
    """Describe an output read: a snapshot, or a cursor read with ``since``.

    Without ``since`` a wait lasts until the exit (Coder's meaning); with it, until there is
    output past the cursor or the exit; with ``wake_on_input``, also until the command waits
    for input. Either way the read timeout outlasts the agent's hold. A ``since="last"`` read
    is not retried: it moves the agent's mark, so a retry after an answer lost on the way
    back would skip the bytes that answer held.

    Raises:
        ValueError: An empty id, a ``since`` that is neither an offset >= 0 nor ``"last"``, a
            ``limit`` below 1 or given without ``since``, a ``wait`` that is not a bool, a
            ``timeout_ms`` that is negative, not an int, or given without a wait, or a
            ``wake_on_input`` that is not a bool or is given without a wait.
    """
    path = f"{process_path(id)}/output"
    headers = header_items(extra_headers)
    params: tuple[tuple[str, str], ...] = ()
    if since is not None:
        if since != SINCE_LAST:
            check_offset("since", since, also=SINCE_LAST)
        params += (("since", str(since)),)
    if limit is not None:
        if since is None:
            raise ValueError("limit bounds a cursor read; pass since= with it")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Expected limit >= 1 but received {limit!r}")
        params += (("limit", str(limit)),)
    if not isinstance(wait, bool):
        raise ValueError(f"Expected wait to be a bool but received {wait!r}")
    if timeout_ms is not None:
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise ValueError(f"Expected timeout_ms >= 0 but received {timeout_ms!r}")
        if not wait:
            raise ValueError("timeout_ms bounds a wait; pass wait=True with it")
    if not isinstance(wake_on_input, bool):
        raise ValueError(f"Expected wake_on_input to be a bool but received {wake_on_input!r}")
    if wake_on_input and not wait:
        raise ValueError("wake_on_input ends a wait early; pass wait=True with it")
    wait_seconds = None
    if wait:
        params += (("wait", "true"),)
        wait_seconds = MAX_WAIT_SECONDS
        if timeout_ms is not None:
            params += (("timeout_ms", str(timeout_ms)),)
            wait_seconds = min(wait_seconds, timeout_ms / 1000)
        if wake_on_input:
            params += ((WAKE_ON_INPUT, "true"),)
    return Call(
        method="GET",
        path=path,
        parse=model_parser(ProcessOutputResponse),
        params=params,
        retry_safe=since != SINCE_LAST,
        wait_seconds=wait_seconds,
        extra_headers=headers,
    )


def input_call(
    id: str,
    data: str | bytes | None,
    *,
    close: bool,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[ProcessInputResponse]:
    """Describe input for a process's stdin: text as ``data``, bytes as ``data_base64``.

    Never retried: the agent queues what it receives, so a second send after an answer that
    was lost on the way back would write the data twice.

    Args:
        id: The process id.
        data: What to write; ``None`` only to close without writing.
        close: Send end-of-file after the data.
        extra_headers: Headers of this call only.

    Raises:
        ValueError: An empty id, ``data`` that is neither ``str`` nor ``bytes``, a ``close``
            that is not a bool, or nothing to do (no data and no close).
    """
    path = process_route(INPUT_PATH, id)
    headers = header_items(extra_headers)
    if not isinstance(close, bool):
        raise ValueError(f"Expected close to be a bool but received {close!r}")
    if data is None and not close:
        raise ValueError("Nothing to send: pass data, or close=True to close stdin")
    if isinstance(data, str):
        request = ProcessInputRequest(data=data, close=close or None)
    elif isinstance(data, bytes):
        encoded = base64.b64encode(data).decode("ascii")
        request = ProcessInputRequest(data_base64=encoded, close=close or None)
    elif data is None:
        request = ProcessInputRequest(close=True)
    else:
        raise ValueError(f"Expected data as str or bytes but received {type(data).__name__}")
    return Call(
        method="POST",
        path=path,
        parse=model_parser(ProcessInputResponse),
        body=encode_json(request),
        retry_safe=False,
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


def _signal_parser(response: httpx.Response) -> None:
    # The agent confirms with {"message": ...}; decoding it checks we talked to an agent
    # and not to something that answers 200 to everything.
    model_parser(SignalProcessResponse)(response)
