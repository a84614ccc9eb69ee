"""Where the agent listens: the socket is bound before the server starts, so that an address
it cannot have is reported as the setting at fault, not as a server's log line.

uvicorn binds its own socket after the app's startup and, failing, logs the error and exits
with status 3; a user then reads ``[Errno 98] ... address already in use`` and has to guess
which flag or variable to change. :func:`listener` binds first and raises
:class:`ListenFailed`, which names the setting (``host``, ``port`` or ``uds``); the command
line turns it into a usage error naming the flag or the variable the value came from.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from agentproc.connections import unix_listener

__all__ = ["ListenFailed", "listener", "tcp_listener"]

_PORT_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES})
"""Errors that the port causes: taken, or below 1024 for a user without the privilege."""


class ListenFailed(Exception):
    """The agent could not listen where it was told.

    Attributes:
        setting: the setting at fault: ``"host"``, ``"port"`` or ``"uds"``.
        reason: what went wrong, with the address.
    """

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(reason)
        self.setting = setting
        self.reason = reason


@contextmanager
def tcp_listener(host: str, port: int, backlog: int) -> Iterator[socket.socket]:
    """A TCP socket listening on ``host``:``port`` (a name is resolved), closed at the end.

    Raises:
        OSError: the host does not resolve, or the address cannot be bound.
    """
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.create_server(address, family=family, backlog=backlog)
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def listener(host: str, port: int, uds: Path | None, backlog: int) -> Iterator[socket.socket]:
    """The agent's listening socket: on the Unix socket ``uds`` if given, else on TCP.

    Raises:
        ListenFailed: the socket could not be had; names the setting at fault.
    """
    if uds is not None:
        setting, where, opening = "uds", str(uds), unix_listener(uds)
    else:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        setting, opening = "port", tcp_listener(host, port, backlog)
    with ExitStack() as stack:
        try:
            sock = stack.enter_context(opening)
        except OSError as exc:
            if uds is None and (isinstance(exc, socket.gaierror) or exc.errno not in _PORT_ERRORS):
                setting = "host"
            # create_server() appends the address to strerror; the message names it once.
            code = None if isinstance(exc, socket.gaierror) else exc.errno
            reason = os.strerror(code) if code else exc.strerror or str(exc)
            raise ListenFailed(setting, f"cannot listen on {where}: {reason}") from exc
        yield sock
