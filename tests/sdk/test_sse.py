"""The event-stream decoder: the format's lines, fields and dispatch, fed in any chunks."""

from __future__ import annotations

import pytest

from agentsdk._sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    """Every event a fresh decoder gives for ``chunks``, in order."""
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    """``data`` as the worst network would deliver it."""
    return [data[i : i + 1] for i in range(len(data))]


STREAM = (
    b": heartbeat\n"
    b'event: output\nid: 6\ndata: {"offset":0,"output":"hello "}\n\n'
    b'event: exit\ndata: {"exit_code":0}\n\n'
)
EXPECTED = [
    ServerSentEvent("output", '{"offset":0,"output":"hello "}', "6"),
    ServerSentEvent("exit", '{"exit_code":0}', "6"),
]


def test_events_are_dispatched_at_their_blank_line() -> None:
    """event, id and data make one event each; the exit event keeps the last id."""
    assert decode(STREAM) == EXPECTED


def test_any_chunking_gives_the_same_events() -> None:
    """Split anywhere, even one byte at a time, the stream decodes the same."""
    assert decode(*one_byte_at_a_time(STREAM)) == EXPECTED
    for cut in range(len(STREAM)):
        assert decode(STREAM[:cut], STREAM[cut:]) == EXPECTED, cut


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_of_the_format_is_read(newline: bytes) -> None:
    """LF, CRLF and a lone CR all end lines, also when split between chunks."""
    data = STREAM.replace(b"\n", newline)
    assert decode(data) == EXPECTED
    assert decode(*one_byte_at_a_time(data)) == EXPECTED


def test_a_crlf_split_after_its_cr_is_one_line_end() -> None:
    """A CR ending one chunk and the LF opening the next end one line, not two."""
    events = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert events == [ServerSentEvent("message", "a\nb", "")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    """Each data line adds a line to the event's data."""
    assert decode(b"data: first\ndata:second\ndata\ndata:  indented\n\n") == [
        ServerSentEvent("message", "first\nsecond\n\n indented", "")
    ]


def test_comments_and_unknown_fields_are_ignored() -> None:
    """Heartbeat comments, retry and made-up fields change nothing."""
    data = b":\n: keep-alive\nretry: 10\nfoo: bar\nevent: output\ndata: x\n\n: bye\n"
    assert decode(data) == [ServerSentEvent("output", "x", "")]


def test_an_event_without_data_is_not_dispatched() -> None:
    """A blank line after only comments, an id or an event name gives no event."""
    assert decode(b": ping\n\n\nevent: exit\n\nid: 3\n\n") == []


def test_an_event_without_its_own_id_carries_the_last_one() -> None:
    """Ids carry over to later events, as in browsers; an empty id clears it."""
    data = b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"
    assert [event.id for event in decode(data)] == ["7", "7", ""]


def test_an_id_with_a_nul_is_ignored() -> None:
    """The standard ignores such an id, keeping the previous one."""
    assert decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")[1].id == "1"


def test_a_cut_inside_an_event_yields_nothing_of_it() -> None:
    """Only whole events come out: the half-sent one is not dispatched."""
    decoder = SSEDecoder()
    assert decoder.feed(b'id: 1\ndata: whole\n\nid: 2\ndata: {"half') == [
        ServerSentEvent("message", "whole", "1")
    ]


def test_a_character_split_between_chunks_is_decoded_whole() -> None:
    """UTF-8 is decoded by line, so a split character is not replaced."""
    data = "data: é€😀\n\n".encode()
    assert decode(*one_byte_at_a_time(data)) == [ServerSentEvent("message", "é€😀", "")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    """A bad byte becomes U+FFFD, as the format's decoding rule says."""
    assert decode(b"data: a\xffb\n\n") == [ServerSentEvent("message", "a\ufffdb", "")]


def test_a_leading_byte_order_mark_is_dropped() -> None:
    """The BOM the format allows at the start is not part of the first field."""
    data = b"\xef\xbb\xbfevent: exit\ndata: {}\n\n"
    assert decode(*one_byte_at_a_time(data)) == [ServerSentEvent("exit", "{}", "")]


def test_an_oversized_event_is_refused() -> None:
    """A line or data past the bound raises instead of growing memory without end."""
    with pytest.raises(ValueError, match="larger than 16 bytes"):
        SSEDecoder(max_event_bytes=16).feed(b"data: " + b"x" * 20)
    decoder = SSEDecoder(max_event_bytes=16)
    with pytest.raises(ValueError, match="larger than 16 bytes"):
        for _ in range(5):
            decoder.feed(b"data: 1234\n")
