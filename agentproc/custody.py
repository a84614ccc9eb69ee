"""Custody of everything the agent's commands start, until it is gone, even if the agent dies.

The process manager reports each command's shell as it starts and exits; custody does the
rest, by the rule of :mod:`agentproc.claims`:

- **Claims.** The shell's session is claimed (pid and start time) the moment it is spawned.
  The claim outlives the shell while anything is left in the session.
- **Scans.** While anything is claimed, a worker thread reads the process table: soon after
  a shell exits, then less often (up to every 5 s) while processes live on. A scan reaps the
  agent's zombie children that are its own (the init of many containers never would), drops
  the sessions that have emptied, and claims by identity every process of the agent's it
  finds outside them: daemons that left with ``setsid``, found below a command or among the
  orphans re-parented to the agent, which as a child subreaper adopts them all.
- **The keeper** (:mod:`agentproc.keeper`) gets every claim over a pipe and, should the pipe
  end without a release, kills everything claimed or marked within moments.
- **Records** (:mod:`agentproc.records`) keep the same claims on disk under the state
  directory, for the agent after a crash that took the keeper along; at start, custody
  sweeps what dead predecessors left there.
- **Shutdown.** :meth:`Custody.terminate` sends SIGTERM to every process of the agent's,
  :meth:`Custody.settle` waits until the claimed ones are gone, and leaving the context
  sweeps: everything of the agent's, marked ones anywhere on the system included, is stopped,
  killed and reaped; then the keeper is released and the records removed.

How one scan reads the table and reaps lives in :mod:`agentproc.orphanscan`; custody decides
when to scan and what the findings mean. It knows nothing of HTTP or the process table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import uuid
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from agentproc import claims as claims_module
from agentproc import keeper, orphanscan, procfs, records, sessions
from agentproc.claims import INSTANCE_VARIABLE, PROCESS, SESSION, Claims, claim_line, forget_line
from agentproc.keeperlink import KeeperLink
from agentproc.orphanscan import Spawning, SpawnLock
from agentproc.procfs import Identity
from agentproc.records import Records
from agentproc.settings import Settings

__all__ = ["Custody", "SpawnLock", "Spawning"]

logger = logging.getLogger(__name__)

SCAN_MIN_SECONDS = 0.05
"""First scan after a shell exits: the children it leaves die or move within moments."""

SCAN_MAX_SECONDS = 5.0
"""Slowest scan while processes live on: the bound on noticing a daemon that left."""


class Custody:
    """Keeps every process the agent's commands start until it is gone; see the module.

    Use as an async context manager; leaving it kills whatever is still the agent's.

    Args:
        settings: ``state_dir`` for the records, ``reap_orphans`` for adopting orphans,
            ``owns_process`` for claiming them all.
        keeper_env: the keeper's environment (the agent's, without its secrets).
    """

    def __init__(self, settings: Settings, keeper_env: Mapping[str, str]) -> None:
        self.instance = uuid.uuid4().hex
        self._settings = settings
        self._keeper_env = keeper_env
        self._claims = Claims(self.instance)
        # The shells not yet reaped, which the scans read under its lock.
        self._spawning = Spawning()
        # Start times read by spawning threads, for the claims made on the event loop.
        self._spawn_starts: dict[int, int] = {}
        self._foreign: frozenset[Identity] = frozenset()
        self._records: Records | None = None
        self._link: KeeperLink | None = None
        self._changed = anyio.Event()
        self._dormant = True
        self._scan_lock = anyio.Lock()
        self._survivors = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._settings.reap_orphans:
            sessions.become_subreaper()
        me = Identity(os.getpid(), procfs.start_time(os.getpid()) or 0)
        state_dir = self._settings.state_dir
        if state_dir is not None:
            await anyio.to_thread.run_sync(records.clean_up_after_predecessors, state_dir, me)
            try:
                self._records = await anyio.to_thread.run_sync(
                    Records.create, state_dir, me, self.instance
                )
            except OSError as exc:
                logger.error(
                    "keeping no records in %s (%s): if the agent and its keeper die together, "
                    "their processes survive",
                    state_dir,
                    exc,
                )
        path = None if self._records is None else self._records.path
        link = KeeperLink(keeper.command(self.instance, path), self._keeper_env, self._claims.lines)
        stack = contextlib.AsyncExitStack()
        task_group = await stack.enter_async_context(anyio.create_task_group())
        self._link, self._task_group, self._exit_stack = link, task_group, stack
        await task_group.start(link.run)
        task_group.start_soon(self._watch)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def environment(self) -> dict[str, str]:
        """What every command's environment gets, last: the instance marker."""
        return {INSTANCE_VARIABLE: self.instance}

    # -- what the manager reports ----------------------------------------------------------

    def spawning(self) -> SpawnLock:
        """Hold it while spawning a shell and reporting it with :meth:`spawned` (or
        :meth:`started`), so no scan takes the new shell, should it exit at once, for an
        orphan to reap. Spawns may hold it at once."""
        return self._spawning.lock

    def spawned(self, pid: int, start: int | None = None) -> None:
        """A command's shell was just spawned: no scan reaps it from now on, and its start
        time (``start``, when the spawn knew it) is read here, off the event loop. Call it
        under :meth:`spawning`, on any thread; :meth:`started` follows on the event loop's."""
        self._spawning.shells.add(pid)
        if start is None:
            start = procfs.start_time(pid)
        if start is not None:
            self._spawn_starts[pid] = start

    def started(self, pid: int, start: int | None = None) -> None:
        """A command's shell was spawned (and not yet reaped): claim its session.

        Call it on the event loop before anything can reap the shell. ``start`` is its start
        time when the spawn knew it. When neither it nor :meth:`spawned` did, the claim is
        made by a task that runs before any task started after this call (the one that reaps
        the shell among them): reading ``/proc`` while the shell still execs waits for the
        exec, and the request that spawned it need not. The marker in the shell's
        environment covers those moments should the agent die.
        """
        self._spawning.shells.add(pid)
        known = self._spawn_starts.pop(pid, None)
        start = known if start is None else start
        if start is not None:
            self._claim_session(pid, start)
        elif self._task_group is not None:
            self._task_group.start_soon(self._claim_started, pid)
        else:
            self._claim_started_now(pid)

    async def _claim_started(self, pid: int) -> None:
        self._claim_started_now(pid)

    def _claim_started_now(self, pid: int) -> None:
        start = procfs.start_time(pid)
        if start is None:
            logger.error("reading the start time of pid %d failed; it is not claimed", pid)
            return
        self._claim_session(pid, start)

    def _claim_session(self, pid: int, start: int) -> None:
        self._claim(SESSION, Identity(pid, start))
        if self._dormant:
            self._changed.set()

    def exited(self, pid: int) -> None:
        """A command's shell exited: its session is watched until it is empty."""
        self._spawning.shells.discard(pid)
        self._changed.set()

    # -- claims ----------------------------------------------------------------------------

    def _claim(self, kind: str, identity: Identity) -> None:
        claimed = self._claims.sessions if kind == SESSION else self._claims.processes
        claimed[identity.pid] = identity.start
        self._publish(claim_line(kind, identity))

    def _forget(self, kind: str, identity: Identity) -> None:
        claimed = self._claims.sessions if kind == SESSION else self._claims.processes
        if claimed.get(identity.pid) == identity.start:
            del claimed[identity.pid]
            self._publish(forget_line(kind, identity))

    def _publish(self, line: str) -> None:
        if self._link is not None:
            self._link.send(line)
        if self._records is not None:
            try:
                self._records.append(line, self._claims)
            except OSError as exc:
                logger.error(
                    "writing to %s failed (%s); keeping no more records", self._records.path, exc
                )
                self._close_records(keep=True)

    def _excluded(self) -> frozenset[int]:
        keeper_pid = None if self._link is None else self._link.pid
        return frozenset() if keeper_pid is None else frozenset({keeper_pid})

    # -- scans -----------------------------------------------------------------------------

    async def scan(self) -> None:
        """Reap, drop emptied sessions, and claim what left them; failures are logged."""
        async with self._scan_lock:
            try:
                result = await anyio.to_thread.run_sync(
                    orphanscan.scan,
                    self._claims.copy(),
                    frozenset(self._spawning.shells),
                    self._excluded(),
                    self._foreign,
                    self._settings.owns_process,
                    self._spawning,
                )
            except Exception:
                # A failed scan must not end the watch (and with it custody): try again later.
                logger.exception("scanning for the agent's processes failed")
                return
            for identity in result.vanished:
                self._forget(PROCESS, identity)
            for identity in result.emptied:
                if identity.pid not in self._spawning.shells:
                    self._forget(SESSION, identity)
            for identity in result.outside:
                # A shell or keeper spawned while the scan ran is claimed already, or never.
                if (
                    identity.pid not in self._spawning.shells
                    and identity.pid not in self._excluded()
                ):
                    self._claim(PROCESS, identity)
            self._foreign = result.foreign

    async def _watch(self) -> None:
        interval = SCAN_MIN_SECONDS
        while True:
            if self._claims.empty and not self._spawning.shells:
                self._dormant = True
                await self._changed.wait()
                self._dormant = False
                interval = SCAN_MIN_SECONDS
            # Let exits that come together share one scan, and keep the scan off the path of
            # the requests that are reading those exits right now.
            await anyio.sleep(SCAN_MIN_SECONDS)
            self._changed = anyio.Event()
            await self.scan()
            if not self._claims.empty:
                # Long-lived background children are common; look less often as they persist,
                # but soon again when another shell exits.
                with anyio.move_on_after(interval):
                    await self._changed.wait()
                interval = min(interval * 2, SCAN_MAX_SECONDS)

    # -- shutdown --------------------------------------------------------------------------

    async def terminate(self, skip_groups: Collection[int]) -> None:
        """SIGTERM every live process of the agent's but those in ``skip_groups``."""
        claims, exclude, skip = self._claims.copy(), self._excluded(), frozenset(skip_groups)
        try:
            await anyio.to_thread.run_sync(
                lambda: claims_module.signal_all(
                    claims, signal.SIGTERM, exclude=exclude, skip_groups=skip
                )
            )
        except Exception:
            logger.exception("sending SIGTERM to the agent's processes failed")

    async def settle(self) -> None:
        """Return once every claimed session is empty and every claimed process gone."""
        while True:
            await self.scan()
            if self._claims.empty:
                return
            await anyio.sleep(SCAN_MIN_SECONDS)  # no event tells of a grandchild's exit

    async def aclose(self) -> None:
        """Kill and reap everything of the agent's, release the keeper, close the records."""
        stack, self._exit_stack = self._exit_stack, None
        if stack is None:
            return
        with anyio.CancelScope(shield=True):
            await self._sweep()
            if self._link is not None:
                await self._link.release()
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
        await stack.aclose()
        self._close_records(keep=self._survivors)

    async def _sweep(self) -> None:
        claims, running, exclude = (
            self._claims.copy(),
            frozenset(self._spawning.shells),
            self._excluded(),
        )
        owns_process = self._settings.owns_process
        try:
            result = await anyio.to_thread.run_sync(
                lambda: claims_module.sweep(
                    claims, exclude=exclude, reap=True, waited=running, owns_process=owns_process
                )
            )
        except Exception:
            logger.exception("the final sweep of the agent's processes failed")
            self._survivors = True
            return
        if result.survivors:
            self._survivors = True
            logger.error("processes %s survived the agent's shutdown", list(result.survivors))

    def _close_records(self, *, keep: bool) -> None:
        records_file, self._records = self._records, None
        if records_file is None:
            return
        try:
            records_file.close(keep=keep)
        except OSError as exc:
            logger.error("removing %s failed: %s", records_file.path, exc)
