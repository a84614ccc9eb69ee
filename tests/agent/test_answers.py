"""The hot routes' answers are the JSON FastAPI would have written for the same model."""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse

from agentproc.answers import json_answer
from agentsdk.types import ProcessOutputResponse, RunProcessResponse


def _as_fastapi_writes(model: ProcessOutputResponse) -> bytes:
    content = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def test_an_answer_leaves_out_null_fields_and_keeps_text_as_utf8() -> None:
    model = ProcessOutputResponse(output="héllo ✓\n\x1b[0m", truncated=None, running=True)

    answer = json_answer(model)

    assert answer.body == _as_fastapi_writes(model)
    assert b"null" not in answer.body
    assert "✓".encode() in answer.body
    assert answer.media_type == JSONResponse.media_type
    assert answer.headers["content-length"] == str(len(answer.body))


def test_an_answer_with_every_field_set_matches_fastapi() -> None:
    model = RunProcessResponse(
        id="p",
        started=True,
        attached=True,
        output="x" * 3,
        running=False,
        exit_code=3,
        total_bytes=3,
        next_offset=3,
    )

    assert json_answer(model).body == _as_fastapi_writes(model)
