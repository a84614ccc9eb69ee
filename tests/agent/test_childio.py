"""The agent's ends of a child's streams (``agentproc.childio``) on real pipes and terminals."""

from __future__ import annotations

import os
import pty

from agentproc.childio import ChildIO


def test_output_in_a_pipe_is_unread_until_read() -> None:
    """Bytes the writer left in the pipe count as unread; none once read, or once closed."""
    reader, writer = os.pipe()
    io = ChildIO(os.fdopen(reader, "rb", buffering=0), pid=0)
    try:
        assert not io.output_unread()
        os.write(writer, b"Ok to proceed? ")
        assert io.output_unread()
        assert os.read(reader, 100) == b"Ok to proceed? "
        assert not io.output_unread()
        os.write(writer, b"more")
        io.close()
        assert not io.output_unread()
    finally:
        os.close(writer)


def test_output_on_a_terminal_is_unread_until_read() -> None:
    """The terminal's side: what the command wrote waits on the agent's end until read."""
    master, slave = pty.openpty()
    io = ChildIO(os.fdopen(master, "rb", buffering=0), pid=0)
    try:
        assert not io.output_unread()
        # At once: the kernel hands a terminal's output to the agent's end from a work
        # queue, and the answer must not depend on whether that has run yet.
        os.write(slave, b">>> ")
        assert io.output_unread()
        assert os.read(master, 100) == b">>> "
        assert not io.output_unread()
    finally:
        io.close()
        os.close(slave)
