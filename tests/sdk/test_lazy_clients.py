"""The half of agentsdk that needs an HTTP client loads on first use, and only then.

The agent shares the wire models and facts with the SDK; importing those must not import
httpx and the clients, which would add a tenth of a second to every agent's start. Each
check runs in a fresh interpreter, since this one has loaded everything long ago.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import agentsdk

HTTP_CLIENT_MODULES = ("httpx", "httpcore", "agentsdk._client", "agentsdk._exceptions")


def _loaded_after(statement: str) -> set[str]:
    """Which of :data:`HTTP_CLIENT_MODULES` a fresh interpreter holds after ``statement``."""
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split()) & set(HTTP_CLIENT_MODULES)


@pytest.mark.parametrize(
    "statement",
    [
        "import agentsdk",
        "from agentsdk import CHAT_ID_HEADER, ProcessOutputResponse, chat_id_from_headers",
        "import agentsdk.wire, agentsdk.types",
        "import agentproc.cli, agentproc.app, agentproc.server",
    ],
)
def test_the_wire_half_and_the_agent_load_no_http_client(statement: str) -> None:
    assert _loaded_after(statement) == set()


def test_naming_a_client_loads_the_client_half() -> None:
    assert _loaded_after("from agentsdk import AgentConn") == set(HTTP_CLIENT_MODULES)


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in agentsdk.__all__:
        assert getattr(agentsdk, name) is not None, name
    assert set(agentsdk.__all__) <= set(dir(agentsdk))


def test_every_error_of_the_tree_is_public() -> None:
    """``__all__`` names the errors without importing them; it cannot miss one."""
    from agentsdk import _exceptions

    assert set(_exceptions.__all__) <= set(agentsdk.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchClient"):
        agentsdk.NoSuchClient  # type: ignore[attr-defined]  # noqa: B018


def test_an_error_a_client_raises_is_named_by_its_public_path_though_never_named() -> None:
    probe = (
        "import httpx, agentsdk\n"
        "gone = httpx.Response(404, json={'message': 'gone'})\n"
        "transport = httpx.MockTransport(lambda request: gone)\n"
        "try:\n"
        "    agentsdk.AgentConn('http://agent', transport=transport).list_processes()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__module__, type(exc).__qualname__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["agentsdk", "NotFoundError"]
