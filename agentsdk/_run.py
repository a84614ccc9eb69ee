"""``run_process``: one round trip per command where the agent offers ``/run``, two where not.

An agentproc agent answers ``POST /api/v0/processes/run`` with the start's fields and the
output once the command exits (or ``timeout_ms`` passes). Coder's agent has no such route and
answers 404; there the same result takes a start and an output read with ``wait=true``.
``RunPlan`` describes both ways before any I/O, and which answer means "no such route"; the
client tries the run first, and once an agent has answered that it has no such route, goes
straight to the two calls on that connection (``BaseClient._absent_routes``, which copies
from ``with_options`` share).

A 404 from ``/run`` can only mean the route is missing: a run never looks a process up, so
it has no process to find. Nothing ran, and the two calls start the command once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from agentsdk._agent import output_call, start_call_for, start_request
from agentsdk._call import Call, encode_json, header_items
from agentsdk._exceptions import APIStatusError
from agentsdk._responses import model_parser
from agentsdk.types import (
    ProcessOutputResponse,
    RunProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import API_PREFIX, MAX_WAIT_SECONDS, RUN_PATH, WAKE_ON_INPUT

__all__ = ["ROUTE_MISSING", "RunPlan"]

ROUTE_MISSING = frozenset({404, 405})
"""What an agent without ``/run`` answers it: Coder's router says 404, and a router that
matches the path to another method would say 405."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One ``run_process`` call, described before any I/O: the run, and its fallback.

    Build it with :meth:`make`, which checks the arguments.
    """

    request: StartProcessRequest
    """The start, with the idempotency key a retry attaches with (generated if asked)."""

    wait_ms: int | None
    """How long the agent waits for the exit, at most; ``None`` for its cap (5 minutes)."""

    extra_headers: tuple[tuple[str, str], ...]
    """Headers of every request of this call."""

    wake_on_input: bool = False
    """Also end the wait as soon as the command waits for input."""

    route: str = API_PREFIX + RUN_PATH
    """The path of the run, as ``BaseClient._absent_routes`` remembers it."""

    @classmethod
    def make(
        cls,
        request: StartProcessRequest | None,
        fields: Mapping[str, object],
        *,
        wait_ms: int | None,
        generate_key: bool,
        extra_headers: Mapping[str, str] | None = None,
        wake_on_input: bool = False,
    ) -> RunPlan:
        """Check the arguments of ``run_process`` and describe the call.

        Raises:
            TypeError: A keyword that is not a field of ``StartProcessRequest``.
            ValueError: No command, bad field types, both a request and keyword fields, a
                ``wait_ms`` that is not an int >= 0, a ``wake_on_input`` that is not a bool,
                or malformed ``extra_headers``.
        """
        if not isinstance(wake_on_input, bool):
            raise ValueError(f"Expected wake_on_input to be a bool but received {wake_on_input!r}")
        if wait_ms is not None and (
            isinstance(wait_ms, bool) or not isinstance(wait_ms, int) or wait_ms < 0
        ):
            raise ValueError(f"Expected wait_ms >= 0 but received {wait_ms!r}")
        return cls(
            request=start_request(request, fields, generate_key=generate_key, method="run_process"),
            wait_ms=wait_ms,
            extra_headers=header_items(extra_headers),
            wake_on_input=wake_on_input,
        )

    def run(self) -> Call[RunProcessResponse]:
        """The one request: ``POST /run``. Safe to retry with an idempotency key, as a start."""
        wait_seconds = MAX_WAIT_SECONDS
        params: tuple[tuple[str, str], ...] = ()
        if self.wait_ms is not None:
            params = (("timeout_ms", str(self.wait_ms)),)
            wait_seconds = min(wait_seconds, self.wait_ms / 1000)
        if self.wake_on_input:
            params += ((WAKE_ON_INPUT, "true"),)
        return Call(
            method="POST",
            path=self.route,
            parse=model_parser(RunProcessResponse),
            params=params,
            body=encode_json(self.request),
            retry_safe=self.request.idempotency_key is not None,
            wait_seconds=wait_seconds,
            extra_headers=self.extra_headers,
        )

    def route_missing(self, error: APIStatusError) -> bool:
        """Whether ``error``, the answer to :meth:`run`, says the agent has no ``/run``."""
        return error.status_code in ROUTE_MISSING

    def start(self) -> Call[StartProcessResponse]:
        """The first of the two requests without ``/run``: the same start."""
        return start_call_for(self.request, self.extra_headers)

    def output(self, started: StartProcessResponse) -> Call[ProcessOutputResponse]:
        """The second: the started process's output, waiting as the run would have."""
        return output_call(
            started.id,
            wait=True,
            timeout_ms=self.wait_ms,
            wake_on_input=self.wake_on_input,
            extra_headers=httpx.Headers(list(self.extra_headers)),
        )

    @staticmethod
    def combine(started: StartProcessResponse, output: ProcessOutputResponse) -> RunProcessResponse:
        """The run's answer from the two answers (without ``total_bytes`` and ``next_offset``,
        which an agent without ``/run`` does not report with a snapshot)."""
        return RunProcessResponse(
            id=started.id,
            started=started.started,
            attached=started.attached,
            output=output.output,
            truncated=output.truncated,
            running=output.running,
            exit_code=output.exit_code,
            exit_reason=output.exit_reason,
            waiting_for_input=output.waiting_for_input,
        )
