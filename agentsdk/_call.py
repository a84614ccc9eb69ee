"""``Call``: one API call, described before any I/O, and the pieces a description is made of.

An API's call functions (``agentsdk._agent``, ``agentsdk._controlplane``) check their
arguments and return a ``Call``; ``BaseClient`` of ``agentsdk._base`` builds the request from
it and settles the answer. The caller's headers are checked into the description here
(``header_items``), and a body is encoded here (``encode_json``), so that nothing malformed
reaches the sender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import httpx
import pydantic

__all__ = ["Call", "encode_json", "header_items"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call, described before any I/O.

    Attributes:
        method: The HTTP method.
        path: The path under the base URL, already escaped.
        parse: Turns a success response into the method's result.
        params: Query parameters, in order.
        body: The encoded JSON body, if any.
        retry_safe: Whether sending the call twice cannot do a thing twice.
        wait_seconds: How long the server may stay silent (hold the request open, or go
            quiet between events of a stream), for the read timeout.
        extra_headers: Headers of this call only, over every other header (the caller's
            ``extra_headers=``, checked by ``header_items``).
        accept: The media type asked for: JSON, or an event stream.
    """

    method: Literal["GET", "POST"]
    path: str
    parse: Callable[[httpx.Response], T]
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    retry_safe: bool = True
    wait_seconds: float | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    accept: str = "application/json"


def header_items(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Headers given by the caller (``headers=``, ``extra_headers=``), checked before any I/O.

    Returns:
        The name-value pairs, in order; none for ``None``.

    Raises:
        ValueError: ``headers`` is not a mapping of non-empty string names to string values.
    """
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise ValueError(f"Expected headers as a mapping but received {type(headers).__name__}")
    # An httpx.Headers joins a repeated name into one value; its raw pairs keep each one.
    pairs = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    items = tuple(pairs)
    for name, value in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Expected a non-empty string header name but received {name!r}")
        if not isinstance(value, str):
            # The value is not shown: it may be a credential.
            raise ValueError(
                f"Expected the value of header {name!r} to be a string "
                f"but received {type(value).__name__}"
            )
    return items


def encode_json(model: pydantic.BaseModel) -> bytes:
    """The body of a call: compact JSON with ``None`` fields left out."""
    # Omitempty-style, like Go's encoding/json: the exact body Coder's servers expect.
    return model.model_dump_json(exclude_none=True).encode()
