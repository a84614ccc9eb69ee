"""The one parser of chat ids: strict for the agent, lenient for the control plane."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx
import pytest
from starlette.datastructures import Headers

from agentsdk import CHAT_ID_HEADER, canonical_chat_id, chat_id_from_headers, parse_chat_id

CHAT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SPELLINGS = [CHAT_ID, CHAT_ID.upper(), CHAT_ID.replace("-", ""), f"{{{CHAT_ID}}}", f" {CHAT_ID} "]
MALFORMED = ["", "   ", "not-a-uuid", CHAT_ID + "0", f"{CHAT_ID}, {CHAT_ID}"]


@pytest.mark.parametrize("value", [*SPELLINGS, uuid.UUID(CHAT_ID)])
def test_every_uuid_spelling_has_one_canonical_form(value: str | uuid.UUID) -> None:
    """Upper case, no hyphens, braces and padding all name the same chat."""
    assert canonical_chat_id(value) == CHAT_ID
    assert parse_chat_id(value) == CHAT_ID


@pytest.mark.parametrize("value", MALFORMED)
def test_strict_parser_refuses_what_the_lenient_one_reads_as_no_chat(value: str) -> None:
    """canonical_chat_id raises where parse_chat_id answers None."""
    with pytest.raises(ValueError, match="UUID"):
        canonical_chat_id(value)
    assert parse_chat_id(value) is None


def test_lenient_parser_reads_absent_as_no_chat() -> None:
    """None is "no chat" for the control plane's reading."""
    assert parse_chat_id(None) is None


def test_headers_without_the_chat_header_mean_no_chat() -> None:
    """Absent is not malformed: no header, no chat, no error."""
    assert chat_id_from_headers({}) is None
    assert chat_id_from_headers({"Accept": "application/json"}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {CHAT_ID_HEADER: CHAT_ID.upper()},
        {"coder-chat-id": CHAT_ID},
        httpx.Headers({"CODER-CHAT-ID": CHAT_ID}),
        Headers(raw=[(b"coder-chat-id", CHAT_ID.encode())]),
    ],
    ids=["dict", "lower-case-name", "httpx", "starlette"],
)
def test_chat_header_is_found_whatever_the_case_of_its_name(headers: Mapping[str, str]) -> None:
    """Header names match case-insensitively, in any mapping."""
    assert chat_id_from_headers(headers) == CHAT_ID


@pytest.mark.parametrize("value", MALFORMED)
def test_present_but_malformed_chat_header_raises_without_echoing_it(value: str) -> None:
    """Empty, blank, malformed or joined values raise; the message never repeats the value."""
    with pytest.raises(ValueError, match="must be one UUID") as caught:
        chat_id_from_headers({CHAT_ID_HEADER: value})
    if value.strip():
        assert value.strip() not in str(caught.value)


def test_chat_header_sent_twice_raises_even_when_both_agree() -> None:
    """Two copies of the header are not one chat id."""
    twice = Headers(
        raw=[(b"coder-chat-id", CHAT_ID.encode()), (b"coder-chat-id", CHAT_ID.encode())]
    )
    with pytest.raises(ValueError, match="sent 2 times"):
        chat_id_from_headers(twice)
