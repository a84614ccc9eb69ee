"""The committed openapi.json is what the app serves; regenerate with `make openapi`."""

from __future__ import annotations

import json
from pathlib import Path

from agentproc.cli import openapi_document

COMMITTED = Path(__file__).resolve().parent.parent / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    """openapi.json has not drifted from the app (run `make openapi` after API changes)."""
    assert COMMITTED.read_text() == openapi_document()


def test_every_operation_has_a_stable_id_and_no_422() -> None:
    """Generated clients get readable method names, and no status the API never sends."""
    document = json.loads(openapi_document())
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert operations == {
        "healthz",
        "start_process",
        "run_process",
        "list_processes",
        "process_output",
        "signal_process",
        "process_input",
        "stream_output",
        "resize_terminal",
        "process_screen",
    }
    assert "422" not in json.dumps(document)


def test_every_schema_field_is_described() -> None:
    """Field docstrings of the wire models become descriptions for Swagger UI users."""
    schemas = json.loads(openapi_document())["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []
