"""Go duration syntax: what ``timeout`` and ``wait_timeout`` accept and how errors print it."""

from __future__ import annotations

import pytest

from chattool import format_duration, parse_duration

MS = 1_000_000
S = 1_000 * MS


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("50ms", 50 * MS),
        ("1.5s", 1_500 * MS),
        ("1m30s", 90 * S),
        ("1h0m0s", 3_600 * S),
        ("1h30m", 5_400 * S),
        ("10s", 10 * S),
        ("0", 0),
        ("0s", 0),
        ("-5s", -5 * S),
        ("+2m", 120 * S),
        (".5s", 500 * MS),
        ("1.s", S),
        ("300us", 300_000),
        ("300\u00b5s", 300_000),
        ("300\u03bcs", 300_000),
        ("7ns", 7),
        ("1.0000000001s", S),
        ("2562047h47m16.854775807s", 2**63 - 1),
    ],
)
def test_parse_accepts_go_durations(text: str, nanoseconds: int) -> None:
    """Every form Go's time.ParseDuration accepts parses to the same nanoseconds."""
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", 'time: invalid duration "abc"'),
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        (".s", 'time: invalid duration ".s"'),
        ("1h-5m", 'time: unknown unit "h-" in duration "1h-5m"'),
        ("10", 'time: missing unit in duration "10"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("3 s", 'time: unknown unit " s" in duration "3 s"'),
        ("2562048h", 'time: invalid duration "2562048h"'),
    ],
)
def test_parse_rejects_invalid_input_with_go_messages(text: str, message: str) -> None:
    """Invalid durations raise ValueError worded as Go words them."""
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (50 * MS, "50ms"),
        (1_500 * MS, "1.5s"),
        (90 * S, "1m30s"),
        (3_600 * S, "1h0m0s"),
        (10 * S, "10s"),
        (0, "0s"),
        (7, "7ns"),
        (1_500, "1.5\u00b5s"),
        (1_250_000, "1.25ms"),
        (-90 * S, "-1m30s"),
        (3_723 * S + 500 * MS, "1h2m3.5s"),
        (2**63 - 1, "2562047h47m16.854775807s"),
    ],
)
def test_format_prints_like_go(nanoseconds: int, text: str) -> None:
    """Durations print exactly as Go's Duration.String does."""
    assert format_duration(nanoseconds) == text


@pytest.mark.parametrize("text", ["50ms", "1.5s", "1m30s", "1h0m0s", "10s", "1.5\u00b5s"])
def test_canonical_durations_round_trip(text: str) -> None:
    """Parsing then printing a canonical duration gives the same text."""
    assert format_duration(parse_duration(text)) == text
