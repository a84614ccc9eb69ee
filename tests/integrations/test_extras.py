"""The integrations stay optional: without their packages the agent imports and serves, and
each integration says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from agentproc.cli import main

OPTIONAL = ("mcp", "mcp_types", "agents", "pydantic_ai", "langchain_core", "openai", "anthropic")
"""The packages of the extras (and the SDKs beside them), none of which the agent needs."""

WITHOUT_EXTRAS = textwrap.dedent(
    f"""
    import importlib.abc, sys

    class Missing(importlib.abc.MetaPathFinder):
        # As if `pip install agentproc` had installed none of the extras.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {OPTIONAL!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Missing())

    import chattool, chattool.adapters, agentproc.cli
    from agentproc.app import create_app
    from agentproc.testing import app_client

    with app_client(create_app()) as client:
        started = client.post("/api/v0/processes/start", json={{"command": "echo served"}})
        output = client.get(
            f"/api/v0/processes/{{started.json()['id']}}/output", params={{"wait": "true"}}
        )
        print(output.json()["output"], end="")

    for adapter, extra in [
        ("openai_agents", "openai-agents"),
        ("pydantic_ai", "pydantic-ai"),
        ("langchain", "langchain"),
    ]:
        try:
            getattr(chattool.adapters, adapter)([])
        except ImportError as exc:
            assert f"agentproc[{{extra}}]" in str(exc), exc
        else:
            raise AssertionError(f"{{adapter}} worked without its framework")
    try:
        import chattool.mcp
    except ImportError as exc:
        assert "agentproc[mcp]" in str(exc), exc
    else:
        raise AssertionError("chattool.mcp imported without the mcp SDK")
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in {OPTIONAL!r})
    assert not loaded, loaded
    """
)


def test_agent_and_chattool_work_without_any_extra() -> None:
    """Without the extras' packages, agentproc and chattool import and serve; each adapter
    and chattool.mcp raise ImportError naming the extra to install."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "served\n"


def test_serve_mcp_without_the_sdk_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agentproc serve --mcp`` without the mcp extra stops at once (status 2), naming the
    flag and the extra, rather than failing at the first request."""
    # As if the mcp SDK were not installed, whether chattool.mcp was imported before or not.
    monkeypatch.delitem(sys.modules, "chattool.mcp", raising=False)
    monkeypatch.setitem(sys.modules, "mcp.server.context", None)
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--mcp"])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("agentproc serve: error: --mcp: ")
    assert "agentproc[mcp]" in last


def test_mcp_command_needs_the_agent_url(capsys: pytest.CaptureFixture[str]) -> None:
    """``agentproc mcp`` without an agent address is a usage error naming the flag."""
    with pytest.raises(SystemExit) as stopped:
        main(["mcp"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "agentproc mcp: error: --agent-url: the agent's address is required"
    )
