"""The records under the state directory: who may touch which file, and what is kept.

The end-to-end cases (a crashed agent's leftovers, a live agent's records, a reused pid)
are in ``test_custody.py``; these are the rules that need no agent.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest

from agentproc import procfs, records
from agentproc.claims import PROCESS, SESSION, Claims, claim_line
from agentproc.procfs import Identity

NOBODY = 65534


def _me() -> Identity:
    start = procfs.start_time(os.getpid())
    assert start is not None
    return Identity(os.getpid(), start)


def _dead_agent_file(directory: Path, body: str, boot: str | None = None) -> Path:
    """A records file whose agent (this pid, another start time) is gone."""
    me = _me()
    path = directory / f"{me.pid}-{me.start + 1}-{uuid.uuid4().hex}.records"
    boot = procfs.boot_id() if boot is None else boot
    path.write_text(f"{records.HEADER}{boot}\n{body}")
    return path


def test_records_from_an_earlier_boot_are_removed_without_a_sweep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its processes died with that boot, and its start times name nothing in this one."""
    path = _dead_agent_file(tmp_path, f"+S {os.getpid()} 1\n", boot="another-boot")
    with caplog.at_level(logging.INFO, logger="agentproc.records"):
        records.clean_up_after_predecessors(tmp_path, _me())
    assert not path.exists()
    assert "ended without shutting down" not in caplog.text


def test_a_line_that_is_no_claim_is_logged_and_the_rest_is_swept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged file still has its good lines swept, and is removed once nothing is left."""
    # Claims that can match no process: this one's pid with a start time it never had.
    me = _me()
    wrong = f"{me.pid} {me.start + 1}"
    _dead_agent_file(tmp_path, f"garbage\n+P 1 1\n+S {wrong}\n+P {wrong}\n")
    with caplog.at_level(logging.INFO, logger="agentproc.records"):
        records.clean_up_after_predecessors(tmp_path, _me())
    assert "ignoring a line" in caplog.text
    assert "'garbage'" in caplog.text
    assert "'+P 1 1'" in caplog.text
    assert f"agent {os.getpid()} ended without shutting down; killed 0" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_files_that_are_no_records_are_left_alone(tmp_path: Path) -> None:
    """The state directory may hold other files: only ``<pid>-<start>-<id>.records`` count."""
    other = tmp_path / "notes.txt"
    other.write_text("+S 2 2\n")
    records.clean_up_after_predecessors(tmp_path, _me())
    assert other.read_text() == "+S 2 2\n"


def test_the_state_directory_is_made_private(tmp_path: Path) -> None:
    """Whoever can write a record can have the next agent kill one of the user's processes."""
    made = tmp_path / "state" / "agentproc"
    records.prepare(made)
    assert made.stat().st_mode & 0o777 == 0o700
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o770)  # noqa: S103 - shared with a group, as the agent must not leave it
    records.prepare(loose)
    assert loose.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_state_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    """Another user's directory could hold records naming any of this user's processes."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, NOBODY, NOBODY)
    with pytest.raises(PermissionError, match="belongs to uid"):
        records.prepare(foreign)


def test_a_records_file_is_rewritten_from_the_live_claims_once_it_has_grown(
    tmp_path: Path,
) -> None:
    """Claims come and go for as long as the agent runs; the file stays near their size."""
    claims = Claims(uuid.uuid4().hex)
    file = records.Records.create(tmp_path, _me(), claims.instance)
    try:
        claims.sessions[4000] = 40
        for start in range(records.COMPACT_LINES + 10):
            file.append(claim_line(PROCESS, Identity(5000, start)), claims)
        file.append(claim_line(SESSION, Identity(4000, 40)), claims)
        lines = file.path.read_text().splitlines()
        assert len(lines) < records.COMPACT_LINES
        assert lines[0] == f"{records.HEADER}{procfs.boot_id()}"
        assert "+S 4000 40" in lines
        assert file.path.stat().st_mode & 0o777 == 0o600
    finally:
        file.close(keep=False)
    assert not file.path.exists()
