"""Named keys for ``process_input``: what a keyboard sends for each, in one table.

A model names keys (``Enter``, ``C-c``, ``Up``) instead of writing escape sequences, which it
gets wrong. The bytes are those of an xterm, the terminal the agent's emulator and
``TERM=xterm-256color`` describe; ``Enter`` is a carriage return on a terminal (what a
keyboard sends; the terminal turns it into a newline for a program reading lines) and a
newline on a pipe, where no terminal does.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = ["KEYS", "KEY_NAMES", "encode_keys"]

_KEYS: dict[str, str] = {
    "tab": "\t",
    "escape": "\x1b",
    "backspace": "\x7f",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "f1": "\x1bOP",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "f4": "\x1bOS",
    "f5": "\x1b[15~",
    "f6": "\x1b[17~",
    "f7": "\x1b[18~",
    "f8": "\x1b[19~",
    "f9": "\x1b[20~",
    "f10": "\x1b[21~",
    "f11": "\x1b[23~",
    "f12": "\x1b[24~",
    # Control keys: C-a is 0x01 ... C-z is 0x1a (C-c interrupts, C-d ends input, C-z stops).
    **{f"c-{letter}": chr(index + 1) for index, letter in enumerate(string.ascii_lowercase)},
}

KEYS: Mapping[str, str] = MappingProxyType(_KEYS)
"""Lower-cased key name → what the key sends, ``Enter`` aside (it depends on the stream)."""

KEY_NAMES = (
    "Enter, Tab, Escape, Backspace, Up, Down, Left, Right, Home, End, PageUp, PageDown, "
    "C-a ... C-z (C-c interrupts, C-d ends input), F1 ... F12"
)
"""The names as the tool's description lists them."""


def encode_keys(names: Iterable[str], *, terminal: bool) -> str:
    """What typing the keys ``names`` sends, in order.

    Args:
        names: key names, matched without regard to case (``ctrl-c`` and ``^C`` too).
        terminal: whether the keys go to a terminal (``Enter`` is then ``\\r``).

    Raises:
        ValueError: a name is not a key of the table; the message lists the known ones.
    """
    sent = []
    for name in names:
        key = name.strip().lower().replace("ctrl-", "c-").replace("ctrl+", "c-")
        if len(key) == 2 and key.startswith("^"):
            key = "c-" + key[1]
        if key in ("enter", "return"):
            sent.append("\r" if terminal else "\n")
        elif key in KEYS:
            sent.append(KEYS[key])
        else:
            raise ValueError(f"unknown key {name!r}; the keys are {KEY_NAMES}")
    return "".join(sent)
