"""The agent's ends of a child's streams (``agentproc.childio``) on real pipes and terminals."""

from __future__ import annotations

import os
import pty
from collections.abc import Callable

import pytest

from agentproc.childio import ChildIO


@pytest.mark.parametrize("make_ends", [os.pipe, pty.openpty], ids=["pipe", "terminal"])
def test_output_is_unread_until_read_and_never_once_closed(
    make_ends: Callable[[], tuple[int, int]],
) -> None:
    """What the command wrote counts as unread until the agent reads it; nothing does once
    the agent's end is closed."""
    reader, writer = make_ends()
    io = ChildIO(os.fdopen(reader, "rb", buffering=0), pid=0)
    try:
        assert not io.output_unread()
        # Asked at once: the kernel hands a terminal's output to the agent's end from a work
        # queue, and the answer must not depend on whether that has run yet.
        os.write(writer, b">>> ")
        assert io.output_unread()
        assert os.read(reader, 100) == b">>> "
        assert not io.output_unread()
        os.write(writer, b"more")
        io.close()
        assert not io.output_unread()
    finally:
        io.close()
        os.close(writer)
