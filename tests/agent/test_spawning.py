"""A scan never reaps a shell: its supervision must, to learn the exit status.

A shell reaped by anyone else reads as status 0 to ``Popen.wait``, so a killed command would
report success. The scans of custody run in a worker thread and may find a shell that exited
at once as a zombie child of the agent before the manager reported it; ``Spawning`` closes
that window.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from agentproc.custody import Spawning

SAFETY_TIMEOUT_SECONDS = 30.0


def zombie(status: int) -> subprocess.Popen[bytes]:
    """A child that has exited with ``status`` and not been reaped yet."""
    child = subprocess.Popen(["sh", "-c", f"exit {status}"])
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)  # no event tells that a child became a zombie without reaping it
    return child


def test_a_shell_is_left_for_its_supervision_to_reap() -> None:
    """A zombie the manager spawned keeps its status for Popen.wait."""
    spawning = Spawning()
    child = zombie(3)
    spawning.shells.add(child.pid)
    assert spawning.reap_unless_a_shell(child.pid) is False
    assert child.wait() == 3


def test_an_orphan_zombie_is_reaped() -> None:
    """A zombie child that is no shell (an adopted orphan) is reaped by the scan."""
    spawning = Spawning()
    child = zombie(3)
    assert spawning.reap_unless_a_shell(child.pid) is True
    assert not Path(f"/proc/{child.pid}").exists()
    child.wait()  # already reaped: Popen reads it as 0, which is why shells must be spared


def test_a_scan_waits_while_a_shell_is_being_spawned_and_reported() -> None:
    """Under the spawning lock, a shell that already exited is reported before any scan
    decides about it."""
    spawning = Spawning()
    decided: list[bool] = []
    with spawning.lock:
        child = zombie(5)
        scan = threading.Thread(
            target=lambda: decided.append(spawning.reap_unless_a_shell(child.pid))
        )
        scan.start()
        scan.join(0.05)
        assert scan.is_alive()  # the scan waits for the report
        spawning.shells.add(child.pid)
    scan.join(SAFETY_TIMEOUT_SECONDS)
    assert decided == [False]
    assert child.wait() == 5


def test_spawns_overlap_and_a_scan_waits_for_every_one_of_them() -> None:
    """Two spawns hold the lock at once; a scan decides only after both have reported."""
    spawning = Spawning()
    decided: list[bool] = []
    first, second = zombie(6), zombie(7)
    with spawning.lock, spawning.lock:
        scan = threading.Thread(
            target=lambda: decided.append(spawning.reap_unless_a_shell(second.pid))
        )
        scan.start()
        spawning.shells.add(first.pid)
        scan.join(0.05)
        assert scan.is_alive()  # one spawn still has to report
        spawning.shells.add(second.pid)
    scan.join(SAFETY_TIMEOUT_SECONDS)
    assert decided == [False]
    assert (first.wait(), second.wait()) == (6, 7)


def test_a_waiting_scan_goes_before_spawns_that_come_after_it() -> None:
    """A stream of spawns cannot hold reaping off: once a scan waits, new spawns wait for it."""
    spawning = Spawning()
    orphan = zombie(0)
    spawned_after_the_reap: list[bool] = []

    def spawn() -> None:
        with spawning.lock:
            spawned_after_the_reap.append(not Path(f"/proc/{orphan.pid}").exists())

    with spawning.lock:
        scanner = threading.Thread(target=spawning.reap_unless_a_shell, args=(orphan.pid,))
        scanner.start()
        scanner.join(0.05)  # the scan now waits for this spawn
        later = threading.Thread(target=spawn)
        later.start()
        later.join(0.05)
        assert spawned_after_the_reap == []  # the later spawn gives way to the waiting scan
    scanner.join(SAFETY_TIMEOUT_SECONDS)
    later.join(SAFETY_TIMEOUT_SECONDS)
    assert spawned_after_the_reap == [True]
    orphan.wait()  # reaped by the scan already; Popen reads it as 0
