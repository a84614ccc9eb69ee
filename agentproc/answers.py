"""A route's answer serialized once, by the model that holds it.

A route that returns a model has FastAPI validate it against the route's response model
again, turn it into plain data, and hand that to ``json.dumps``: three passes over every
answer. The hot routes (start, run, output) return :func:`json_answer` instead, one pass in
pydantic's serializer, which also leaves out the ``null`` fields (so those routes need no
``response_model_exclude_none``); their ``response_model`` still documents the answer.
"""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

__all__ = ["json_answer"]


def json_answer(model: BaseModel) -> Response:
    """``model`` as the JSON FastAPI would have sent for it (no ``null`` fields)."""
    body = model.__pydantic_serializer__.to_json(model, exclude_none=True, by_alias=True)
    return Response(body, media_type=JSONResponse.media_type)
