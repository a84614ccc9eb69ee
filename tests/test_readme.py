"""The README's Python examples run as they are written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

IN_PROCESS_MARKER = "<!-- in-process example"
"""The comment right above the README's in-process example."""


def python_block_after(marker: str) -> str:
    """The text of the first fenced ``python`` block after ``marker`` in the README."""
    text = README.read_text()
    _, found, after = text.partition(marker)
    assert found, f"{marker!r} is not in README.md"
    block = re.search(r"^```python\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert block is not None, f"no python block after {marker!r} in README.md"
    return block.group(1)


def test_in_process_example_runs_a_command_without_a_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The in-process recipe starts `echo hi` through agentproc.testing and prints its output."""
    code = compile(python_block_after(IN_PROCESS_MARKER), str(README), "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - the README's own example
    assert capsys.readouterr().out == "hi\n"
