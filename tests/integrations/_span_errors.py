"""A trace processor of the OpenAI Agents SDK that keeps the errors its spans record."""

from __future__ import annotations

from typing import Any

from agents.tracing import Span, Trace, TracingProcessor

__all__ = ["SpanErrors"]


class SpanErrors(TracingProcessor):
    """Keeps the errors the Agents SDK records on its spans, and exports nothing."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def on_trace_start(self, trace: Trace) -> None:
        """Nothing to keep."""

    def on_trace_end(self, trace: Trace) -> None:
        """Nothing to keep."""

    def on_span_start(self, span: Span[Any]) -> None:
        """Nothing to keep."""

    def on_span_end(self, span: Span[Any]) -> None:
        """Keep the span's error, if it has one."""
        if span.error is not None:
            self.errors.append(dict(span.error))

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self) -> None:
        """Nothing buffered."""
