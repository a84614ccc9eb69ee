"""The second line: what each agent claims, on disk, for the agent that comes after a crash.

Should an agent and its keeper die together (a container's OOM kill of both, ``kill -9`` of
the whole group), the processes they claimed live on. So every agent also appends its claim
lines (:mod:`agentproc.claims`) to a file of its own under its state directory, and every
agent that starts sweeps what a dead predecessor recorded, with every process that carries
the predecessor's instance marker, and logs how many processes that killed.

- One file per agent instance, ``<pid>-<start>-<instance>.records``: the agent's own pid and
  start time, and the instance id its commands carry. An agent whose pid still has that
  start time is alive, and its file is never touched, so two agents of one user can share
  the directory. The first line names the boot; a file from an earlier boot is removed, since
  its processes died with it and its start times mean nothing in this one.
- A dead agent's file is claimed by renaming it to the sweeper's own pid and start time, an
  atomic step: of two agents starting together only one sweeps it, and if the sweeper dies
  mid-way, the next agent finds a dead owner again.
- Lines are appended with ``O_APPEND``, one ``write`` each, far below a page, so a crash never
  leaves half a line. The page cache survives a crash of the process, so there is no fsync;
  a crash of the machine ends the processes anyway. The file is rewritten from the live
  claims (write, then an atomic rename) when it has grown well past them.
- The directory is created ``0700`` and must belong to the agent's user, the files ``0600``:
  whoever can write a record can have the next agent kill one of the user's processes.
- A graceful shutdown removes the file, unless something survived the final sweep.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from pathlib import Path
from typing import Self

from agentproc import claims as claims_module
from agentproc import procfs
from agentproc.claims import INSTANCE_PATTERN, Claims
from agentproc.procfs import Identity

__all__ = ["Records", "clean_up_after_predecessors", "prepare"]

logger = logging.getLogger(__name__)

HEADER = "agentproc records 1 boot="
"""The first line, followed by the boot id."""

NAME = re.compile(rf"^(\d+)-(\d+)-({INSTANCE_PATTERN.pattern})\.records$")
"""``<owner pid>-<owner start>-<instance>.records``."""

COMPACT_LINES = 1024
"""A file is rewritten once it has this many lines more than the live claims, times four."""

PRIVATE_MODE = 0o700
FILE_MODE = 0o600


def prepare(directory: Path) -> None:
    """Create the state directory ``0700``, or check that an existing one is the user's own.

    Raises:
        OSError: it cannot be created, is not a directory, or belongs to another user.
    """
    directory.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    status = directory.stat()
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(f"{directory} is not a directory")
    if status.st_uid != os.geteuid():
        raise PermissionError(f"{directory} belongs to uid {status.st_uid}, not to the agent's")
    if status.st_mode & 0o077:
        os.chmod(directory, PRIVATE_MODE)


def _name(owner: Identity, instance: str) -> str:
    return f"{owner.pid}-{owner.start}-{instance}.records"


def _header() -> str:
    return f"{HEADER}{procfs.boot_id()}\n"


class Records:
    """This agent's records file: open for appending until the agent shuts down."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._lines = 0

    @classmethod
    def create(cls, directory: Path, owner: Identity, instance: str) -> Self:
        """Create the records file of agent ``owner`` (itself) with instance id ``instance``.

        Raises:
            OSError: the directory or the file cannot be made.
        """
        prepare(directory)
        path = directory / _name(owner, instance)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(path, flags, FILE_MODE)
        try:
            os.write(fd, _header().encode())
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return cls(path, fd)

    def append(self, line: str, claims: Claims) -> None:
        """Append one claim line; rewrite the file from ``claims`` when it has grown large.

        Raises:
            OSError: the write failed (the file stays usable for the next line).
        """
        if self._fd is None:
            return
        os.write(self._fd, line.encode())
        self._lines += 1
        live = len(claims.sessions) + len(claims.processes)
        if self._lines > COMPACT_LINES + 4 * live:
            self._rewrite(claims)

    def _rewrite(self, claims: Claims) -> None:
        lines = claims.lines()
        partial = self.path.with_name(self.path.name + ".new")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(partial, flags, FILE_MODE)
        try:
            os.write(fd, (_header() + "".join(lines)).encode())
            os.replace(partial, self.path)
        except OSError:
            os.close(fd)
            partial.unlink(missing_ok=True)
            raise
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        self._lines = len(lines)

    def close(self, *, keep: bool) -> None:
        """Stop recording; remove the file unless ``keep`` (something survived the agent).

        Raises:
            OSError: the file could not be removed.
        """
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if not keep:
            self.path.unlink(missing_ok=True)


def clean_up_after_predecessors(directory: Path, me: Identity) -> None:
    """Sweep what every dead agent recorded in ``directory``, logging how many it killed.

    Files of agents that are alive are left alone. Failures are logged at error level: the
    agent starts either way.
    """
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return
    except OSError as exc:
        logger.error("reading the records in %s failed: %s", directory, exc)
        return
    boot = _header()
    for path in entries:
        match = NAME.match(path.name)
        if match is None:
            continue
        owner, instance = Identity(int(match[1]), int(match[2])), match[3]
        try:
            with path.open() as file:
                first = file.readline()
        except FileNotFoundError:
            continue  # another agent took it
        except OSError as exc:
            logger.error("reading the records %s failed: %s", path, exc)
            continue
        if first != boot:
            # Its processes ended with the boot it names, and its start times mean nothing now.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        if procfs.start_time(owner.pid) == owner.start:
            continue  # a live agent's (this one's included)
        taken = directory / _name(me, instance)
        try:
            path.rename(taken)
        except FileNotFoundError:
            continue  # another agent took it first
        _sweep(taken, owner, instance)


def _sweep(path: Path, owner: Identity, instance: str) -> None:
    claims = Claims(instance)
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError as exc:
        logger.error("reading the records %s failed: %s", path, exc)
        lines = []  # the instance marker alone still finds most of what it left
    for line in lines:
        try:
            claims.apply(line)
        except ValueError:
            logger.error("ignoring a line in %s that is not a claim: %r", path, line)
    result = claims_module.sweep(claims)
    log = logger.warning if result.killed else logger.info
    log(
        "agent %d ended without shutting down; killed %d process(es) it left",
        owner.pid,
        result.killed,
    )
    if result.survivors:
        logger.error(
            "processes %s left by agent %d survived SIGKILL; %s is kept for the next agent",
            list(result.survivors),
            owner.pid,
            path,
        )
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.error("removing %s failed: %s", path, exc)
