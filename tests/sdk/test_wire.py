"""The shared wire facts: the omission marker's format and its recogniser agree."""

from __future__ import annotations

import types

import pytest

import agentsdk
from agentsdk import wire
from agentsdk.wire import MarkerSpan, find_omission_markers, omission_marker


def test_omission_marker_is_spelled_as_the_spec_spells_it() -> None:
    """output-buffer.md's marker, byte for byte, as Coder's agent writes it too."""
    assert omission_marker(4096) == "\n\n... [omitted 4096 bytes] ...\n\n"


@pytest.mark.parametrize("omitted", [0, 1, 32_768, 10**12])
def test_a_formatted_marker_is_recognised_with_its_count(omitted: int) -> None:
    """Round trip: what omission_marker writes, find_omission_markers reads back whole."""
    data = omission_marker(omitted).encode()
    assert list(find_omission_markers(data)) == [MarkerSpan(0, len(data), omitted)]


def test_a_marker_between_head_and_tail_is_found_where_it_sits() -> None:
    """The span points at the marker inside an output, not at the text around it."""
    head, marker, tail = b"first line\n", omission_marker(77).encode(), b"last line\n"

    (span,) = find_omission_markers(head + marker + tail)

    assert (span.start, span.end, span.omitted_bytes) == (len(head), len(head + marker), 77)


def test_text_shaped_almost_like_a_marker_is_not_one() -> None:
    """A count that is not a number, or a marker missing its blank lines, is plain output."""
    near_misses = [
        b"\n\n... [omitted many bytes] ...\n\n",
        b"... [omitted 12 bytes] ...",
        b"\n\n... [omitted -3 bytes] ...\n\n",
    ]
    for text in near_misses:
        assert list(find_omission_markers(text)) == []


def test_every_marker_is_reported_in_order() -> None:
    """Output that prints marker-shaped text shows up too; the reader decides what to keep."""
    data = omission_marker(1).encode() + b"between" + omission_marker(2).encode()
    assert [span.omitted_bytes for span in find_omission_markers(data)] == [1, 2]


def test_a_negative_count_is_refused() -> None:
    """A marker cannot claim that fewer than no bytes were dropped."""
    with pytest.raises(ValueError, match="omitted_bytes"):
        omission_marker(-1)


def test_wait_cap_is_five_minutes_in_both_units() -> None:
    """The agent's cap in milliseconds and the clients' in seconds are one fact."""
    assert wire.MAX_WAIT_MS == 300_000
    assert wire.MAX_WAIT_SECONDS * 1000 == wire.MAX_WAIT_MS


def test_the_root_re_exports_are_the_wire_module_s_objects() -> None:
    """Names importable from agentsdk itself are the very objects of agentsdk.wire."""
    for name in (
        "CHAT_ID_HEADER",
        "EXTERNAL_AUTH_PATH",
        "LISTEN_HOLD_SECONDS",
        "SESSION_TOKEN_HEADER",
    ):
        assert getattr(agentsdk, name) is getattr(wire, name)


def test_wire_all_lists_every_name_the_module_defines() -> None:
    """agentsdk.wire's __all__ is its public surface: nothing missing, nothing extra."""
    defined = {
        name
        for name, value in vars(wire).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", wire.__name__) == wire.__name__
    }
    assert set(wire.__all__) == defined


def test_live_process_facts_are_the_spec_s() -> None:
    """live-io.md's limits, keyword, paths, names and heartbeat, as the SDK sends them."""
    assert wire.DEFAULT_CURSOR_LIMIT_BYTES == 64 * 1024
    assert wire.MAX_CURSOR_LIMIT_BYTES == 1024 * 1024
    assert wire.SINCE_LAST == "last"
    assert wire.STREAM_PATH.format(id="p") == "/p/stream"
    assert wire.INPUT_PATH.format(id="p") == "/p/input"
    assert (wire.OUTPUT_EVENT, wire.EXIT_EVENT) == ("output", "exit")
    assert wire.LAST_EVENT_ID_HEADER == "Last-Event-ID"
    assert wire.STREAM_HEARTBEAT_SECONDS == 15
