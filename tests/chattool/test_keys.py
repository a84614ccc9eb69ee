"""The named keys of process_input: what each sends, on a terminal and on a pipe."""

from __future__ import annotations

import pytest

from chattool._keys import KEYS, encode_keys


def test_enter_is_a_carriage_return_on_a_terminal_and_a_newline_on_a_pipe() -> None:
    assert encode_keys(["Enter"], terminal=True) == "\r"
    assert encode_keys(["Enter"], terminal=False) == "\n"


@pytest.mark.parametrize(
    ("names", "sent"),
    [
        (["C-c"], "\x03"),
        (["ctrl-c", "^C", "Ctrl+C"], "\x03\x03\x03"),
        (["C-a", "C-z"], "\x01\x1a"),
        (["Up", "down", "LEFT", "right"], "\x1b[A\x1b[B\x1b[D\x1b[C"),
        (["Escape", "Tab", "Backspace"], "\x1b\t\x7f"),
        (
            ["F1", "F12", "PageUp", "PageDown", "Home", "End"],
            "\x1bOP\x1b[24~\x1b[5~\x1b[6~\x1b[H\x1b[F",
        ),
    ],
)
def test_keys_send_what_an_xterm_keyboard_sends(names: list[str], sent: str) -> None:
    assert encode_keys(names, terminal=True) == sent


def test_an_unknown_key_is_refused_with_the_names_there_are() -> None:
    with pytest.raises(ValueError, match=r"unknown key 'Hyper'.*Enter, Tab"):
        encode_keys(["Enter", "Hyper"], terminal=True)


def test_every_control_letter_and_function_key_is_in_the_table() -> None:
    assert {f"c-{chr(c)}" for c in range(ord("a"), ord("z") + 1)} <= set(KEYS)
    assert {f"f{n}" for n in range(1, 13)} <= set(KEYS)
