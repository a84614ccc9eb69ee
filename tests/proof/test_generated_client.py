"""A client generated from the committed openapi.json drives a real agent.

This is the proof that the document is good enough for users who never see our SDK: the
generator accepts it without a warning, and the code it writes starts, reads and signals a
process against a live server.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveAgent

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"

PACKAGE = "agentproc_generated_client"
"""A name no installed package has, so the import below cannot pick up anything else."""

GENERATOR_CONFIG = "post_hooks: []\n"
"""No formatter run: the layout of generated code does not matter, and ruff may be off PATH."""

GENERATE_TIMEOUT_SECONDS = 120.0
"""Safety net only: generation takes a second or two."""

WAIT_TIMEOUT_MS = 60_000
"""Safety net for wait=true reads of processes that exit at once or are killed."""


class Generated:
    """The generated package's modules that the tests use."""

    def __init__(self) -> None:
        self.client: Any = importlib.import_module(f"{PACKAGE}.client")
        self.models: Any = importlib.import_module(f"{PACKAGE}.models")
        self.start: Any = importlib.import_module(f"{PACKAGE}.api.processes.start_process")
        self.output: Any = importlib.import_module(f"{PACKAGE}.api.processes.process_output")
        self.signal: Any = importlib.import_module(f"{PACKAGE}.api.processes.signal_process")
        self.list: Any = importlib.import_module(f"{PACKAGE}.api.processes.list_processes")

    def authenticated(self, agent: LiveAgent) -> Any:
        """A generated client that sends the agent's bearer token."""
        return self.client.AuthenticatedClient(
            base_url=agent.base_url, token=agent.token, raise_on_unexpected_status=True
        )


def _generate(destination: Path) -> subprocess.CompletedProcess[str]:
    config = destination.parent / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(OPENAPI),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(destination),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def generation(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """Run openapi-python-client on openapi.json into a fresh directory."""
    root = tmp_path_factory.mktemp("generated")
    return _generate(root / PACKAGE)


@pytest.fixture(scope="module")
def generated(generation: subprocess.CompletedProcess[str]) -> Iterator[Generated]:
    """The generated package, importable for the duration of this module only."""
    assert generation.returncode == 0, generation.stdout + generation.stderr
    root = str(Path(generation.args[generation.args.index("--output-path") + 1]).parent)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(root)
        try:
            yield Generated()
        finally:
            for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
                del sys.modules[name]


def test_generator_accepts_the_document_without_warnings(
    generation: subprocess.CompletedProcess[str],
) -> None:
    """openapi-python-client turns openapi.json into a package and has nothing to warn about."""
    report = generation.stdout + generation.stderr
    assert generation.returncode == 0, report
    assert "warning" not in report.lower(), report
    operations = Path(generation.args[generation.args.index("--output-path") + 1], "api")
    assert sorted(p.stem for p in operations.glob("*/*.py") if p.stem != "__init__") == [
        "healthz",
        "list_processes",
        "process_input",
        "process_output",
        "process_screen",
        "resize_terminal",
        "run_process",
        "signal_process",
        "start_process",
        "stream_output",
    ]


def test_generated_client_runs_a_command_and_reads_its_complete_output(
    generated: Generated, live_agent: LiveAgent
) -> None:
    """start, then output with wait=true, returns the command's whole output and exit code."""
    models = generated.models
    with generated.authenticated(live_agent) as client:
        started = generated.start.sync(
            client=client,
            body=models.StartProcessRequest(
                command="printf 'from the generated client'; exit 3",
                env=models.StartProcessRequestEnvType0.from_dict({"UNUSED": "1"}),
            ),
        )
        assert isinstance(started, models.StartProcessResponse), started
        assert started.started is True

        output = generated.output.sync(
            started.id, client=client, wait=True, timeout_ms=WAIT_TIMEOUT_MS
        )
        assert isinstance(output, models.ProcessOutputResponse), output
        assert (output.running, output.exit_code) == (False, 3)
        assert output.output == "from the generated client"


def test_generated_client_signals_a_running_process(
    generated: Generated, live_agent: LiveAgent
) -> None:
    """signal kill through the generated client ends a running process; output then says so."""
    models = generated.models
    with generated.authenticated(live_agent) as client:
        started = generated.start.sync(
            client=client, body=models.StartProcessRequest(command="sleep 300")
        )
        assert isinstance(started, models.StartProcessResponse), started
        listed = generated.list.sync(client=client)
        assert started.id in {p.id for p in listed.processes if p.running}

        answer = generated.signal.sync(
            started.id,
            client=client,
            body=models.SignalProcessRequest(signal=models.SignalProcessRequestSignal.KILL),
        )
        assert isinstance(answer, models.SignalProcessResponse)  # the documented success shape
        assert answer.message == f'Signal "kill" sent to process "{started.id}".'

        output = generated.output.sync(
            started.id, client=client, wait=True, timeout_ms=WAIT_TIMEOUT_MS
        )
        assert isinstance(output, models.ProcessOutputResponse), output
        assert (output.running, output.exit_code) == (False, -1)


def test_generated_client_decodes_errors_into_the_error_model(
    generated: Generated, live_agent: LiveAgent
) -> None:
    """A wrong token and an unknown id come back as the generated ErrorResponse model."""
    models = generated.models
    with generated.client.AuthenticatedClient(
        base_url=live_agent.base_url, token="wrong-token"
    ) as client:
        refused = generated.list.sync_detailed(client=client)
        assert refused.status_code == 401
        assert isinstance(refused.parsed, models.ErrorResponse)
        assert refused.parsed.message == "Invalid bearer token."

    with generated.authenticated(live_agent) as client:
        missing = generated.output.sync_detailed("no-such-process", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorResponse)
        assert "not found" in missing.parsed.message
