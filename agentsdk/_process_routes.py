"""The process API's paths for one process, and the argument checks its calls share.

A process id is always exactly one escaped path segment; an offset is an int >= 0. This
module knows nothing of the calls that use them, nor of HTTP beyond the path.
"""

from __future__ import annotations

from urllib.parse import quote

from agentsdk.wire import API_PREFIX

__all__ = ["check_offset", "process_path", "process_route"]


def process_path(id: str) -> str:
    """The escaped path of one process: its id is always exactly one path segment.

    Raises:
        ValueError: ``id`` is empty or not a string.
    """
    return process_route("/{id}", id)


def process_route(template: str, id: str) -> str:
    """``template`` (a path of ``agentsdk.wire`` such as ``/{id}/stream``) for one process."""
    if not isinstance(id, str) or not id:
        raise ValueError(f"Expected a non-empty process id but received {id!r}")
    segment = quote(id, safe="")
    if segment in {".", ".."}:
        # A bare dot segment would be resolved away by URL normalisation and address
        # another route; escaped, it reaches the agent as the (unknown) id it is.
        segment = segment.replace(".", "%2E")
    return API_PREFIX + template.format(id=segment)


def check_offset(name: str, value: object, *, also: str | None = None) -> None:
    """Check that ``value`` is a byte offset: an int >= 0 (a bool is not one).

    Raises:
        ValueError: It is not; the message names ``name`` and the other value it may take.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        other = f" or {also!r}" if also is not None else ""
        raise ValueError(f"Expected {name} to be an offset >= 0{other} but received {value!r}")
