"""Commands on terminals (terminals.md, "Terminal (PTY) mode"), end to end on a real server.

Real programs on real pseudo-terminals: the Python REPL, an interactive bash, ``stty``,
``less`` and ``vim``, driven through ``/input``, ``/resize`` and ``/screen`` of one agent
served by uvicorn for the whole module.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.settings import Settings
from agentsdk.types import TTY_SHAPE
from tests.conftest import TEST_TOKEN, LiveAgent, run_live_agent

from ._live_processes import PROCESSES, start
from ._terminals import Screen, finish, screen, type_in, wait_for_screen

pytestmark = pytest.mark.e2e

SCROLLBACK_LINES = 50
"""The module's agent keeps this many lines of scrollback, so a test can overflow it."""


@pytest.fixture(scope="module")
def agent() -> Iterator[LiveAgent]:
    """One agent on a real server for the module."""
    with run_live_agent(Settings(token=TEST_TOKEN, scrollback_lines=SCROLLBACK_LINES)) as live:
        yield live


@pytest.fixture
def client(agent: LiveAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the module's agent."""
    with agent.client() as c:
        yield c


def at_cursor(current: Screen) -> str:
    """The text of the screen's line where the cursor is, up to the cursor."""
    cursor = current["cursor"]
    line: str = current["lines"][cursor["row"]]
    return line.ljust(cursor["col"])[: cursor["col"]]


def kill(client: httpx.Client, process_id: str) -> None:
    """Kill the process if it still runs, and wait for its exit."""
    client.post(f"{PROCESSES}/{process_id}/signal", json={"signal": "kill"})
    finish(client, process_id)


# -- the REPL, Ctrl-C, resizes ---------------------------------------------------------------


def test_the_python_repl_evaluates_input_and_shows_a_fresh_prompt(client: httpx.Client) -> None:
    """``2+2`` typed into the REPL: the screen shows ``4`` and a new ``>>>`` at the cursor."""
    process_id = start(client, f"{sys.executable} -q", tty=True)
    try:
        wait_for_screen(client, process_id, lambda s: at_cursor(s) == ">>> ")
        type_in(client, process_id, "2+2\n")
        shown = wait_for_screen(
            client, process_id, lambda s: s["cursor"]["row"] == 2 and at_cursor(s) == ">>> "
        )
        assert shown["lines"][:3] == [">>> 2+2", "4", ">>>"]
        assert "\x1b" not in "".join(shown["lines"])
        type_in(client, process_id, close=True)
        assert finish(client, process_id)["exit_code"] == 0
    finally:
        kill(client, process_id)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ctrl_c_stops_the_foreground_job_and_the_shell_lives_on(client: httpx.Client) -> None:
    """``sleep 100`` in an interactive bash, then ``"\\u0003"``: the sleep ends by SIGINT
    (status 130), and the shell runs the next command."""
    process_id = start(
        client,
        "bash --norc --noprofile -i",
        tty={"rows": 24, "cols": 100},
        env={"PS1": "ready> "},
    )
    try:
        wait_for_screen(client, process_id, lambda s: at_cursor(s) == "ready> ")
        # The marker is printed by the foreground job itself, which then becomes the sleep.
        type_in(client, process_id, "sh -c 'echo sleeping; exec sleep 100'\n")
        wait_for_screen(client, process_id, lambda s: "sleeping" in s["lines"])
        type_in(client, process_id, "\u0003")
        type_in(client, process_id, 'echo "after $?"\n')
        shown = wait_for_screen(client, process_id, lambda s: "after 130" in s["lines"])
        assert shown["running"] is True
        type_in(client, process_id, "exit 4\n")
        assert finish(client, process_id)["exit_code"] == 4
    finally:
        kill(client, process_id)


def test_stty_size_reports_a_resize(client: httpx.Client) -> None:
    """The size starts as asked, and ``stty size`` run after a resize reports the new one."""
    process_id = start(client, "stty size; read go; stty size", tty={"rows": 10, "cols": 33})
    try:
        wait_for_screen(client, process_id, lambda s: "10 33" in s["lines"])
        response = client.post(f"{PROCESSES}/{process_id}/resize", json={"rows": 30, "cols": 100})
        assert response.status_code == 200, response.text
        assert response.json() == {"rows": 30, "cols": 100}
        type_in(client, process_id, "\n")
        answer = finish(client, process_id)
        assert answer["output"].endswith("30 100\r\n"), answer
        after = screen(client, process_id)
        assert (after["rows"], after["cols"]) == (30, 100)
    finally:
        kill(client, process_id)


def test_a_resize_sends_sigwinch_to_the_foreground_job(client: httpx.Client) -> None:
    """A program waiting for SIGWINCH gets it and reads the new size; so does the list."""
    # SIGWINCH stays blocked until the program waits for it, so it never cuts a write short.
    program = textwrap.dedent(
        """
        import os, signal
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
        print("ready", flush=True)
        signal.sigwait({signal.SIGWINCH})
        size = os.get_terminal_size()
        print(f"winch {size.columns}x{size.lines}")
        """
    )
    process_id = start(client, f"{sys.executable} -c '{program}'", tty=True)
    try:
        wait_for_screen(client, process_id, lambda s: "ready" in s["lines"])
        listed = client.get(f"{PROCESSES}/list").json()["processes"]
        assert next(p for p in listed if p["id"] == process_id)["tty"] == {"rows": 24, "cols": 80}
        response = client.post(f"{PROCESSES}/{process_id}/resize", json={"rows": 40, "cols": 120})
        assert response.status_code == 200, response.text
        listed = client.get(f"{PROCESSES}/list").json()["processes"]
        assert next(p for p in listed if p["id"] == process_id)["tty"] == {"rows": 40, "cols": 120}
        assert finish(client, process_id)["exit_code"] == 0
        shown = screen(client, process_id)
        assert "winch 120x40" in shown["lines"]
        assert (shown["rows"], shown["cols"]) == (40, 120)
    finally:
        kill(client, process_id)


# -- full-screen programs ------------------------------------------------------------------------

ESCAPE_REMNANT = re.compile(r"\x1b|\[[0-9;?]*[A-Za-z]")
"""An escape sequence, or what is left of one that lost its ESC."""

PAGERS = {
    "less": ("less {path}", "q"),
    "vim": ("vim -u NONE -N -n {path}", "\u001b:q!\r"),
}
"""How each full-screen program opens a file, and the keys that quit it."""


@pytest.mark.parametrize("program", sorted(PAGERS))
def test_a_full_screen_program_renders_the_file_as_text(
    client: httpx.Client, tmp_path: Path, program: str
) -> None:
    """``less`` or ``vim`` on a file: the screen's lines hold the file's text, not escapes."""
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    text = [f"line {number:02d} of the file, with some words" for number in range(1, 16)]
    path = tmp_path / "notes.txt"
    path.write_text("\n".join(text) + "\n")
    opens, quits = PAGERS[program]
    process_id = start(client, opens.format(path=path), tty=True)
    try:
        shown = wait_for_screen(
            client, process_id, lambda s: text[0] in s["lines"] and text[-1] in s["lines"]
        )
        assert shown["lines"][: len(text)] == text
        assert not any(ESCAPE_REMNANT.search(line) for line in shown["lines"])
        type_in(client, process_id, quits)
        assert finish(client, process_id)["exit_code"] == 0
    finally:
        kill(client, process_id)


# -- the terminal itself -------------------------------------------------------------------------


def test_the_terminal_is_stdin_stdout_stderr_and_the_controlling_terminal(
    client: httpx.Client,
) -> None:
    """All three streams are the terminal, ``/dev/tty`` opens (it is the controlling one), and
    ``TERM`` is xterm-256color."""
    process_id = start(
        client,
        'test -t 0 && test -t 1 && test -t 2 && : </dev/tty && echo "ok $TERM"; '
        'echo "to stderr" >&2',
        tty=True,
    )
    answer = finish(client, process_id)
    assert answer["exit_code"] == 0, answer
    assert answer["output"] == "ok xterm-256color\r\nto stderr\r\n"


def test_term_from_the_request_wins(client: httpx.Client) -> None:
    """A request that sets ``TERM`` keeps it."""
    process_id = start(client, 'echo "$TERM"', tty=True, env={"TERM": "vt100"})
    assert finish(client, process_id)["output"] == "vt100\r\n"


def test_the_exit_code_is_the_shell_s(client: httpx.Client) -> None:
    """The end of a terminal's output is a clean end: the exit code is the shell's own."""
    process_id = start(client, "echo bye; exit 3", tty=True)
    assert finish(client, process_id) == {
        "output": "bye\r\n",
        "running": False,
        "exit_code": 3,
        "exit_reason": "exit",
    }


def test_close_sends_end_of_file_and_the_terminal_stays_open(client: httpx.Client) -> None:
    """``close`` is Ctrl-D (twice after unfinished text, as a person would): ``cat`` ends;
    until the process exits the terminal still takes input."""
    process_id = start(client, "cat; echo done; read last; echo $last", tty=True)
    try:
        response = client.post(
            f"{PROCESSES}/{process_id}/input", json={"data": "hello", "close": True}
        )
        assert response.json() == {"queued": 7, "stdin_open": True}
        # The terminal echoes the text, cat repeats it, and no newline came between.
        wait_for_screen(client, process_id, lambda s: "hellohellodone" in s["lines"])
        listed = client.get(f"{PROCESSES}/list").json()["processes"]
        assert next(p for p in listed if p["id"] == process_id)["stdin_open"] is True
        type_in(client, process_id, "more\n")
        answer = finish(client, process_id)
        assert answer["exit_code"] == 0
        assert answer["output"].endswith("done\r\nmore\r\nmore\r\n"), answer
        response = client.post(f"{PROCESSES}/{process_id}/input", json={"data": "late"})
        assert response.status_code == 409
    finally:
        kill(client, process_id)


def test_the_last_screen_stays_readable_with_its_scrollback(client: httpx.Client) -> None:
    """After the exit the screen is still there; ``scrollback`` gives what scrolled off, at
    most what the agent keeps, oldest first."""
    process_id = start(client, "for i in $(seq 1 100); do echo row $i; done", tty=True)
    finish(client, process_id)
    shown = screen(client, process_id, scrollback=3)
    assert shown["running"] is False
    assert shown["exit_code"] == 0
    assert shown["lines"][-2:] == ["row 100", ""]
    assert shown["scrollback"] == ["row 75", "row 76", "row 77"]
    assert shown["cursor"] == {"row": 23, "col": 0}
    everything = screen(client, process_id, scrollback=10**600)["scrollback"]
    assert len(everything) == SCROLLBACK_LINES
    assert everything[0] == "row 28"
    assert everything[-1] == "row 77"
    assert "scrollback" not in screen(client, process_id)


# -- what the endpoints refuse ---------------------------------------------------------------------


def test_resize_and_screen_of_a_process_without_a_terminal_are_conflicts(
    client: httpx.Client,
) -> None:
    """No terminal: both endpoints answer 409, in the error shape, naming the process."""
    process_id = start(client, "true")
    finish(client, process_id)
    for response in (
        client.post(f"{PROCESSES}/{process_id}/resize", json={"rows": 10, "cols": 10}),
        client.get(f"{PROCESSES}/{process_id}/screen"),
    ):
        assert response.status_code == 409
        assert response.json()["message"] == f'Process "{process_id}" has no terminal.'


def test_resizing_an_exited_process_is_a_conflict(client: httpx.Client) -> None:
    """Once the process has exited its terminal is gone: 409; its screen still reads."""
    process_id = start(client, "true", tty=True)
    finish(client, process_id)
    response = client.post(f"{PROCESSES}/{process_id}/resize", json={"rows": 10, "cols": 10})
    assert response.status_code == 409
    assert response.json() == {"message": f'Process "{process_id}" is not running.'}
    assert screen(client, process_id)["running"] is False


def test_unknown_processes_are_not_found(client: httpx.Client) -> None:
    """Resize and screen of an unknown id are 404s."""
    assert client.get(f"{PROCESSES}/nope/screen").status_code == 404
    answer = client.post(f"{PROCESSES}/nope/resize", json={"rows": 1, "cols": 1})
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("tty", "field", "detail"),
    [
        ({"rows": 0, "cols": 80}, "tty.rows", "must be between 1 and 1000"),
        ({"rows": 24, "cols": 1001}, "tty.cols", "must be between 1 and 1000"),
        ({"rows": 24}, "tty", TTY_SHAPE),
        ({"rows": "24", "cols": 80}, "tty", TTY_SHAPE),
        ("yes", "tty", TTY_SHAPE),
        (1, "tty", TTY_SHAPE),
    ],
)
def test_a_bad_tty_is_refused_and_nothing_runs(
    client: httpx.Client, tty: Any, field: str, detail: str
) -> None:
    """An out-of-range side or a malformed ``tty`` is a 400 naming the field."""
    response = client.post(f"{PROCESSES}/start", json={"command": "touch /nowhere", "tty": tty})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == f'Invalid field "{field}": {detail}.'
    assert body["validations"][0] == {"field": field, "detail": detail}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rows": 0, "cols": 10}, "rows"),
        ({"rows": 10, "cols": 1001}, "cols"),
        ({"rows": 10}, "cols"),
        ({"rows": True, "cols": 10}, "rows"),
    ],
)
def test_a_bad_resize_is_refused(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    """A resize body with a side out of range, missing or not a number is a 400."""
    process_id = start(client, "read x", tty=True)
    try:
        response = client.post(f"{PROCESSES}/{process_id}/resize", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["validations"][0]["field"] == field
    finally:
        kill(client, process_id)


def test_a_malformed_scrollback_is_refused(client: httpx.Client) -> None:
    """``scrollback`` must be a whole number of lines."""
    process_id = start(client, "true", tty=True)
    finish(client, process_id)
    response = client.get(f"{PROCESSES}/{process_id}/screen", params={"scrollback": "-1"})
    assert response.status_code == 400, response.text
