"""Unit tests for a child's input: the validated request, and the queue on a real pipe."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from agentproc.childinput import BOTH_FORMS, NOTHING_TO_SEND, ChildInput, ProcessInput
from agentproc.errors import InputQueueFull, InputTooLarge, InvalidRequest
from agentsdk.types import ProcessInputRequest

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an event long before this."""

PIPE_CAPACITY = 64 * 1024
"""Linux's default pipe capacity: what a writer can put in before a reader reads."""


def given(**fields: object) -> ProcessInput:
    """The input a request of ``fields`` asks for, built as a front door builds it."""
    return ProcessInput.from_request(ProcessInputRequest.model_validate(fields))


# -- the request ----------------------------------------------------------------------------


def test_text_is_written_as_utf8() -> None:
    """``data`` is text; the command gets its UTF-8 bytes."""
    assert given(data="héllo\n") == ProcessInput("héllo\n".encode())


def test_base64_carries_bytes_that_are_not_text() -> None:
    """``data_base64`` is decoded to the exact bytes, invalid UTF-8 included."""
    assert given(data_base64="/wCA", close=True) == ProcessInput(b"\xff\x00\x80", close=True)


def test_close_alone_is_an_end_of_file_with_no_data() -> None:
    """``{"close": true}`` needs no data."""
    assert given(close=True) == ProcessInput(b"", close=True)


def test_empty_data_is_a_write_of_nothing() -> None:
    """``{"data": ""}`` says something (a write of no bytes), unlike ``{}``."""
    assert given(data="") == ProcessInput(b"")


@pytest.mark.parametrize("fields", [{}, {"close": False}], ids=["empty", "close-false"])
def test_a_request_that_asks_for_nothing_is_refused(fields: dict[str, object]) -> None:
    """Neither data nor end-of-file: a 400 that says what to send."""
    with pytest.raises(InvalidRequest) as refused:
        given(**fields)
    assert refused.value.message == NOTHING_TO_SEND


def test_both_forms_of_data_are_refused_without_the_wire_model() -> None:
    """A request built past the wire model's own check still cannot carry both forms."""
    request = ProcessInputRequest.model_construct(data="a", data_base64="YQ==")
    with pytest.raises(InvalidRequest) as refused:
        ProcessInput.from_request(request)
    assert refused.value.message == BOTH_FORMS


@pytest.mark.parametrize("text", ["YQ=", "YQ", "Y Q==", "YQ==\n", "é", "YQ==YQ==x"])
def test_base64_that_does_not_decode_is_refused(text: str) -> None:
    """Strict standard base64: bad padding, spaces, newlines or other letters are a 400."""
    with pytest.raises(InvalidRequest) as refused:
        given(data_base64=text)
    assert refused.value.message == 'Invalid field "data_base64": not base64.'
    assert [v.field for v in refused.value.validations] == ["data_base64"]


def test_text_with_a_lone_surrogate_is_refused() -> None:
    """Text no encoding carries is refused in the domain, not only by the body decoder."""
    with pytest.raises(InvalidRequest) as refused:
        given(data="a\ud800")
    assert [v.field for v in refused.value.validations] == ["data"]


# -- the queue on a real pipe ---------------------------------------------------------------


@contextmanager
def pipe(limit: int = 1024 * 1024) -> Iterator[tuple[ChildInput, int]]:
    """A child input writing into a fresh pipe, and the pipe's read end (both closed after)."""
    read_end, write_end = os.pipe()
    stdin = ChildInput(os.fdopen(write_end, "wb"), pid=0, limit=limit)
    try:
        yield stdin, read_end
    finally:
        stdin.close()
        os.close(read_end)


def read_to_end(fd: int) -> bytes:
    """Everything in the pipe up to its end; BlockingIOError if a write end is still open."""
    os.set_blocking(fd, False)
    chunks = []
    while chunk := os.read(fd, PIPE_CAPACITY):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_send_is_queued_whole_or_not_at_all() -> None:
    """Data that does not fit beside what waits is refused, and nothing of it is queued."""
    with pipe(limit=10) as (stdin, _):
        assert stdin.send(b"123456") == 6
        with pytest.raises(InputQueueFull):
            stdin.send(b"12345")
        assert stdin.pending == 6
        assert stdin.send(b"1234") == 4
        assert stdin.pending == 10


def test_data_larger_than_the_whole_queue_is_too_large_not_full() -> None:
    """No retry could ever queue it, so it is not a 429 but a 413."""
    with pipe(limit=10) as (stdin, _), pytest.raises(InputTooLarge):
        stdin.send(b"x" * 11)


def test_after_end_of_file_is_asked_for_no_input_is_taken() -> None:
    """``close`` makes the input not open at once, though queued data is still to be written."""
    with pipe() as (stdin, _):
        stdin.send(b"last", close=True)
        assert (stdin.open, stdin.pending) == (False, 4)
        with pytest.raises(anyio.ClosedResourceError):
            stdin.send(b"more")


@pytest.mark.anyio
async def test_the_writer_writes_in_order_then_sends_end_of_file() -> None:
    """Many sends arrive in the order sent, and the reader sees end-of-file after them."""
    with pipe() as (stdin, read_end):
        for number in range(100):
            stdin.send(f"{number}\n".encode())
        stdin.send(b"", close=True)
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await stdin.run()
        sent = "".join(f"{number}\n" for number in range(100)).encode()
        assert read_to_end(read_end) == sent


@pytest.mark.anyio
async def test_the_writer_waits_for_a_slow_reader_without_blocking() -> None:
    """More than a pipe holds is written as the reader reads; the loop stays free meanwhile."""
    data = bytes(range(256)) * (4 * PIPE_CAPACITY // 256)
    with pipe() as (stdin, read_end):
        os.set_blocking(read_end, False)
        stdin.send(data, close=True)
        received = bytearray()
        async with anyio.create_task_group() as tg:
            tg.start_soon(stdin.run)
            with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
                while True:
                    await anyio.wait_readable(read_end)
                    chunk = os.read(read_end, 4096)  # small reads: the writer waits often
                    if not chunk:
                        break
                    received += chunk
        assert received == data


@pytest.mark.anyio
async def test_a_reader_that_goes_away_drops_the_rest_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EPIPE is not raised: the writer logs how many bytes it dropped and ends, closed."""
    read_end, write_end = os.pipe()
    stdin = ChildInput(os.fdopen(write_end, "wb"), pid=0, limit=1024 * 1024)
    stdin.send(b"x" * (2 * PIPE_CAPACITY))
    os.close(read_end)
    with caplog.at_level(logging.INFO, "agentproc.childinput"):
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await stdin.run()
    assert (stdin.open, stdin.pending) == (False, 0)
    assert [r.getMessage() for r in caplog.records] == [
        f"dropped {2 * PIPE_CAPACITY} bytes of input to pid 0: "
        "the command no longer reads its stdin"
    ]


def test_closing_drops_what_waits_and_closes_the_end(caplog: pytest.LogCaptureFixture) -> None:
    """The process exited: queued input is dropped (counted in the log), the end closed."""
    with pipe() as (stdin, read_end):
        stdin.send(b"unread")
        with caplog.at_level(logging.INFO, "agentproc.childinput"):
            stdin.close()
        assert (stdin.open, stdin.pending) == (False, 0)
        assert read_to_end(read_end) == b""  # every write end is closed
    assert [r.getMessage() for r in caplog.records] == [
        "dropped 6 bytes of input to pid 0: the process exited"
    ]
