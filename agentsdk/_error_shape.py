"""The one shape of every error the agent answers: a message, a cause, the fields at fault."""

from __future__ import annotations

from agentsdk._model import WireModel as _Wire

__all__ = ["ErrorResponse", "FieldValidation"]


class FieldValidation(_Wire):
    """One field that failed validation."""

    field: str
    """The field's path, dotted for nested fields."""

    detail: str
    """What is wrong with it."""


class ErrorResponse(_Wire):
    """The body of every error response."""

    message: str
    """A sentence for humans and models."""

    detail: str | None = None
    """The underlying cause, when there is one."""

    validations: list[FieldValidation] | None = None
    """Per-field failures, for a request that did not validate."""
