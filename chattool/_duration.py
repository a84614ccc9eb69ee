"""Go duration strings: the timeout syntax models already use with Coder's tools.

A model writes ``"10s"``, ``"1.5s"`` or ``"1h30m"``; error messages echo durations back the
way Go's ``time.Duration.String`` prints them (``50ms``, ``1m30s``, ``1h0m0s``), so a model
that learned the tool against Coder's agent reads the same text here. Durations are integer
nanoseconds, as in Go, so parsing and printing round-trip exactly.
"""

from __future__ import annotations

import json

__all__ = [
    "MAX_DURATION_NS",
    "NANOSECOND",
    "format_duration",
    "parse_duration",
]

NANOSECOND = 1
"""The unit of every duration here (Go's ``time.Duration`` is int64 nanoseconds)."""

MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

MAX_DURATION_NS = 2**63 - 1
"""Go's durations are int64; a longer one is invalid there, so it is invalid here too."""

# Both micro signs are accepted, as Go does: U+00B5 (micro sign) and U+03BC (Greek mu).
_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,
    "\u03bcs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


def _quote(text: str) -> str:
    # Go's time package quotes with its own quote(), not strconv.Quote: it escapes '"' and
    # '\\' as JSON does, but writes each byte of a control or non-ASCII character as \xNN
    # ("5\xc2\xb5"). JSON gives the same text for printable ASCII, which is what a model
    # sends, and keeps other characters readable ("5µ", "\n") instead of as byte escapes.
    return json.dumps(text, ensure_ascii=False)


def parse_duration(text: str) -> int:
    """Parse a Go duration string into nanoseconds.

    The syntax is Go's ``time.ParseDuration``: an optional sign, then one or more decimal
    numbers each followed by a unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``), such
    as ``"300ms"``, ``"1.5s"`` or ``"2h45m"``. A bare ``"0"`` is the only number allowed
    without a unit.

    Args:
        text: the duration as the model wrote it.

    Returns:
        The duration in nanoseconds (negative for a leading ``-``).

    Raises:
        ValueError: with Go's wording, e.g. ``time: invalid duration "abc"``.
    """
    invalid = ValueError(f"time: invalid duration {_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid

    total = 0
    while rest:
        whole_end = _digits_end(rest, 0)
        whole_digits = rest[:whole_end]
        frac_digits = ""
        number_end = whole_end
        if rest[number_end : number_end + 1] == ".":
            frac_end = _digits_end(rest, number_end + 1)
            frac_digits = rest[number_end + 1 : frac_end]
            number_end = frac_end
        if not whole_digits and not frac_digits:
            raise invalid

        unit_end = number_end
        while unit_end < len(rest) and not _is_number_char(rest[unit_end]):
            unit_end += 1
        unit_name = rest[number_end:unit_end]
        if not unit_name:
            raise ValueError(f"time: missing unit in duration {_quote(text)}")
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {_quote(unit_name)} in duration {_quote(text)}")

        value = int(whole_digits or "0") * unit
        if frac_digits:
            # Exact integer arithmetic; digits below a nanosecond are dropped, as in Go.
            value += int(frac_digits) * unit // 10 ** len(frac_digits)
        total += value
        if total > MAX_DURATION_NS:
            raise invalid
        rest = rest[unit_end:]

    return -total if negative else total


def _digits_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return end


def _is_number_char(char: str) -> bool:
    return char == "." or "0" <= char <= "9"


def format_duration(nanoseconds: int) -> str:
    """Print a duration the way Go's ``time.Duration.String`` does.

    Args:
        nanoseconds: the duration.

    Returns:
        ``"0s"`` for zero; ``"500ns"``, ``"1.5µs"``, ``"50ms"`` below a second; otherwise
        hours, minutes and seconds with the zero parts between kept, e.g. ``"1.5s"``,
        ``"1m30s"``, ``"1h0m0s"``.
    """
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    size = abs(nanoseconds)
    if size < MICROSECOND:
        return f"{sign}{size}ns"
    if size < MILLISECOND:
        return f"{sign}{_decimal(size, MICROSECOND)}\u00b5s"
    if size < SECOND:
        return f"{sign}{_decimal(size, MILLISECOND)}ms"

    text = f"{_decimal(size % MINUTE, SECOND)}s"
    if size >= MINUTE:
        text = f"{size // MINUTE % 60}m{text}"
    if size >= HOUR:
        text = f"{size // HOUR}h{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    width = len(str(unit)) - 1
    return f"{whole}.{str(fraction).rjust(width, '0').rstrip('0')}"
