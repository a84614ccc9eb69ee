"""How one server-sent event is spelled (``agentproc.sse.event_frame``)."""

from __future__ import annotations

from agentproc.sse import event_frame


def test_data_without_a_line_break_is_one_data_line() -> None:
    """JSON data, which never holds a raw line break, goes out as one ``data:`` line."""
    assert event_frame("output", '{"offset":0,"output":"a\\nb"}', event_id=4) == (
        b'event: output\nid: 4\ndata: {"offset":0,"output":"a\\nb"}\n\n'
    )


def test_each_line_of_data_gets_its_own_data_field() -> None:
    """A line break of any kind (LF, CR, CRLF) starts another ``data:`` line, as the format
    requires, so a reader joins them back with newlines."""
    assert event_frame("note", "one\ntwo\r\nthree\rfour") == (
        b"event: note\ndata: one\ndata: two\ndata: three\ndata: four\n\n"
    )
