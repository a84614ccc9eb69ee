"""Wire samples shared by the sync and async SDK unit tests, so both assert the same bytes."""

from __future__ import annotations

from typing import Any

import agentsdk

__all__ = [
    "API",
    "BASE_URL",
    "CHAT_ID",
    "ERROR_STATUSES",
    "LIST_BODY",
    "NOT_RETRIED_STATUSES",
    "OUTPUT_BODY",
    "PROCESS_ID",
    "RETRIED_STATUSES",
    "SIGNAL_BODY",
    "START_BODY",
    "TOKEN",
]

BASE_URL = "http://agent.test:4"
API = f"{BASE_URL}/api/v0/processes"
TOKEN = "s3cret-token"
PROCESS_ID = "6f0d8a52-3c1e-4b7a-9f41-2d5c0a9e7b13"
CHAT_ID = "0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90"

START_BODY: dict[str, Any] = {"id": PROCESS_ID, "started": True}
LIST_BODY: dict[str, Any] = {
    "processes": [
        {
            "id": PROCESS_ID,
            "command": "sleep 300",
            "workdir": "/work",
            "background": True,
            "running": True,
            "started_at_unix": 1740650000,
        },
        {
            "id": "11111111-2222-4333-8444-555555555555",
            "command": "echo hello",
            "background": False,
            "running": False,
            "exit_code": 0,
            "started_at_unix": 1740649990,
            "exited_at_unix": 1740649991,
        },
    ]
}
OUTPUT_BODY: dict[str, Any] = {
    "output": "head\n\n... [omitted 10 bytes] ...\n\ntail",
    "truncated": {
        "original_bytes": 40,
        "retained_bytes": 30,
        "omitted_bytes": 10,
        "strategy": "head_tail",
    },
    "running": False,
    "exit_code": 2,
}
SIGNAL_BODY: dict[str, Any] = {"message": f'Signal "kill" sent to process "{PROCESS_ID}".'}

ERROR_STATUSES: list[tuple[int, type[agentsdk.APIStatusError]]] = [
    (400, agentsdk.BadRequestError),
    (401, agentsdk.AuthenticationError),
    (404, agentsdk.NotFoundError),
    (409, agentsdk.ConflictError),
    (413, agentsdk.PayloadTooLargeError),
    (429, agentsdk.RateLimitError),
    (500, agentsdk.InternalServerError),
    (502, agentsdk.InternalServerError),
    (503, agentsdk.InternalServerError),
    (418, agentsdk.APIStatusError),
]
"""Every status the API uses, plus one it does not, with the exception each must raise."""

RETRIED_STATUSES = [429, 500, 502, 503, 504]
"""Statuses that say "try again later"."""

NOT_RETRIED_STATUSES = [400, 401, 404, 409, 413]
"""Statuses that say "this request is wrong"; sending it again cannot help."""
