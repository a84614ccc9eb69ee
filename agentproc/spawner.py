"""Turning a :class:`~agentproc.spec.ProcessSpec` into a running child.

The spawner resolves the working directory, builds the environment, applies the priority
the agent may give its children, and starts ``sh -c <command>`` in a new session with stdin
from /dev/null (or a pipe, when the spec asks for ``stdin``) and stdout and stderr on one
pipe, or, when the spec asks for ``tty``, with all three on a new terminal
(:mod:`agentproc.terminal`). What it returns, a :class:`Child`, is the process, the agent's
ends of its streams and the identities of its input (what a process of the command reads
when it waits for input); supervising it is the process's own business
(:mod:`agentproc.process`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from agentproc import childsignals, procfs
from agentproc.blockedreads import InputIdentity
from agentproc.childinput import ChildInput
from agentproc.childio import ChildIO
from agentproc.errors import InvalidWorkdir, SpawnFailed
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec
from agentproc.terminal import TERMINAL_TYPE, Terminal, spawn_on_terminal
from agentsdk.wire import CHAT_ID_VARIABLE, HIDDEN_VARIABLES

__all__ = [
    "PRIORITY_PROBE_SECONDS",
    "PRIORITY_SCRIPT",
    "Child",
    "Priority",
    "Spawner",
    "own_environment",
    "usable_priority",
]

logger = logging.getLogger(__name__)

PRIORITY_SCRIPT = (
    'if [ -n "$1" ]; then echo "$1" 2>/dev/null >/proc/self/oom_score_adj; fi; '
    'if [ "$2" != 0 ]; then exec nice -n "$2" sh -c "$3"; fi; exec sh -c "$3"'
)
"""Applies OOM score and niceness inside the child before it runs the command: the shell
may fork at once, and a setting applied from outside afterwards would miss its children."""

PRIORITY_PROBE_SECONDS = 10.0
"""The startup check of niceness and OOM score runs two tiny commands; this only stops a hang."""


@dataclass(frozen=True, slots=True)
class Priority:
    """What children are given besides the agent's own priority."""

    nice_delta: int = 0
    """Added to the agent's niceness (0: the agent's own)."""

    oom_score_adj: str = ""
    """Written to the child's ``oom_score_adj`` ("": the agent's own)."""


@dataclass(frozen=True, slots=True)
class Child:
    """A command just spawned: its process, the agent's ends of its streams, its directory."""

    popen: subprocess.Popen[bytes]
    io: ChildIO
    workdir: str
    """The working directory actually used."""

    inputs: frozenset[InputIdentity] = frozenset()
    """The files that are the command's input, for telling when it waits for input: its stdin
    pipe, or its terminal. Empty when stdin is /dev/null: it never waits."""

    terminal: Terminal | None = None
    """The command's terminal; ``None`` when its streams are pipes."""

    start: int | None = None
    """The shell's start time as ``/proc`` gives it, when the clock around the fork told it
    (:func:`agentproc.procfs.forked_within`); ``None``: read it from ``/proc``."""

    @property
    def pid(self) -> int:
        """The shell's pid: also its session and process group id."""
        return self.popen.pid


class Spawner:
    """Starts commands as the settings say.

    Args:
        settings: default working directory, injected environment, niceness and OOM score.
        final_env: variables every command gets last, over the request's (custody's marker).
    """

    def __init__(self, settings: Settings, *, final_env: Mapping[str, str]) -> None:
        self._settings = settings
        self._final_env = dict(final_env)
        self._priority = Priority()
        # Found once on the agent's PATH, as Go's exec.Command does: a request's own PATH is
        # for the command and must not make the shell itself unfindable.
        self._shell = shutil.which("sh") or "sh"
        self._ignored = childsignals.ignored_signals()

    async def check_priority(self) -> None:
        """Find the priority children can really be given (see :func:`usable_priority`)."""
        self._priority = await anyio.to_thread.run_sync(usable_priority, self._settings)

    def spawn(self, spec: ProcessSpec) -> Child:
        """Start ``sh -c <command>`` for ``spec``.

        Synchronous: Popen forks and execs at once (about a millisecond), which lets the
        agent reap the child itself through a pidfd instead of asyncio's watcher threads,
        and the caller relies on no await between its checks and the spawn.

        Raises:
            InvalidWorkdir: the requested working directory is missing or not a directory.
            SpawnFailed: the OS could not start the shell.
        """
        workdir = self.resolve_workdir(spec.workdir)
        tick = procfs.boot_tick()
        inherited = childsignals.inherited(self._ignored)
        if spec.tty is not None:
            try:
                started = spawn_on_terminal(
                    self.argv(spec.command),
                    spec.tty,
                    max_input_bytes=self._settings.max_input_bytes,
                    inherited=inherited,
                    executable=self._shell,
                    cwd=workdir,
                    env=self.environment(spec),
                )
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                raise SpawnFailed(f"start process on a terminal: {exc}") from exc
            start = procfs.forked_within(tick)
            terminal = started.terminal
            device = frozenset({terminal.device})
            return Child(started.popen, started.io, workdir, device, terminal, start)
        try:
            popen = subprocess.Popen(
                self.argv(spec.command),
                executable=self._shell,
                stdin=subprocess.PIPE if spec.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=self.environment(spec),
                start_new_session=True,
                close_fds=True,
                # Only when there is something to undo: any preexec_fn costs the fast vfork.
                preexec_fn=None if inherited is None else inherited.restore,
            )
        except (OSError, ValueError) as exc:
            raise SpawnFailed(f"start process: {exc}") from exc
        start = procfs.forked_within(tick)
        assert popen.stdout is not None  # noqa: S101 - Popen was given stdout=PIPE
        stdin = None
        inputs: frozenset[InputIdentity] = frozenset()
        if popen.stdin is not None:
            inputs = _identities(popen.stdin.fileno(), popen.pid)
            stdin = ChildInput(popen.stdin, popen.pid, self._settings.max_input_bytes)
        return Child(popen, ChildIO(popen.stdout, popen.pid, stdin), workdir, inputs, start=start)

    def resolve_workdir(self, requested: str | None) -> str:
        """The request's directory; else the configured one if it exists; else $HOME.

        Raises:
            InvalidWorkdir: ``requested`` is missing or not a directory.
        """
        if requested:
            path = os.path.abspath(requested)
            if not os.path.exists(path):
                raise InvalidWorkdir(requested, "does not exist")
            if not os.path.isdir(path):
                raise InvalidWorkdir(requested, "is not a directory")
            return path
        configured = self._settings.workdir
        if configured is not None and configured.is_dir():
            return str(configured.absolute())
        home = os.environ.get("HOME") or str(Path.home())
        if os.path.isdir(home):
            return home
        return os.getcwd()

    def environment(self, spec: ProcessSpec) -> dict[str, str]:
        """The command's environment, last wins: the agent's own (without its secrets), the
        configured injection, ``TERM`` for a terminal, the request's, the chat id, then the
        final variables."""
        # The chat id comes after the request, so a caller cannot impersonate another chat
        # through env; the final variables after everything, so none can hide a process
        # from the agent's custody.
        env = own_environment()
        env.update(self._settings.env)
        if spec.tty is not None:
            env["TERM"] = TERMINAL_TYPE
        env.update(spec.env)
        if spec.chat_id is not None:
            env[CHAT_ID_VARIABLE] = spec.chat_id
        env.update(self._final_env)
        return env

    def argv(self, command: str) -> list[str]:
        """``sh -c <command>``, through :data:`PRIORITY_SCRIPT` when a priority applies."""
        priority = self._priority
        if priority.nice_delta == 0 and not priority.oom_score_adj:
            return ["sh", "-c", command]
        return [
            "sh",
            "-c",
            PRIORITY_SCRIPT,
            "agentproc",
            priority.oom_score_adj,
            str(priority.nice_delta),
            command,
        ]


def _identities(fd: int, pid: int) -> frozenset[InputIdentity]:
    # Raising here would leave a spawned child without supervision; the command runs on, only
    # never seen waiting for input.
    try:
        return frozenset({InputIdentity.of_descriptor(fd)})
    except OSError as exc:
        logger.error("identifying the stdin of pid %d failed: %s", pid, exc)
        return frozenset()


def usable_priority(settings: Settings) -> Priority:
    """The niceness change and OOM score children can really be given, checked once.

    An agent without the privilege cannot lower either below its own. ``nice`` would then
    print a warning into every command's output (or, in busybox, refuse to run it), so a
    setting that cannot apply is logged once here and left off instead. Blocking: it runs
    two short commands.
    """
    delta = 0
    if settings.nice is not None:
        delta = settings.nice - os.getpriority(os.PRIO_PROCESS, 0)
        problem = _probe(["nice", "-n", str(delta), "true"]) if delta != 0 else ""
        if problem:
            logger.error(
                "cannot run processes at niceness %d (%s); they run at the agent's own",
                settings.nice,
                problem,
            )
            delta = 0
    oom_text = ""
    if settings.oom_score_adj is not None:
        oom_text = str(settings.oom_score_adj)
        script = 'echo "$1" >/proc/self/oom_score_adj'
        problem = _probe(["sh", "-c", script, "agentproc", oom_text])
        if problem:
            logger.error(
                "cannot give processes oom_score_adj %s (%s); they keep the agent's own",
                oom_text,
                problem,
            )
            oom_text = ""
    return Priority(delta, oom_text)


def _probe(argv: list[str]) -> str:
    """Run a short check command; returns what went wrong, or "" when it worked silently."""
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PRIORITY_PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if result.returncode != 0 or result.stderr.strip():
        return result.stderr.strip() or f"exit status {result.returncode}"
    return ""


def own_environment() -> dict[str, str]:
    """The agent's environment without its secrets: what children start from."""
    return {k: v for k, v in os.environ.items() if k not in HIDDEN_VARIABLES}
