"""The base of every wire model: frozen, documented by attribute docstrings, tolerant of
fields it does not know (a newer agent may add answer fields, a newer client request ones)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["WireModel"]


class WireModel(BaseModel):
    """A model of the wire: what the agent and its clients send each other."""

    # Unknown fields are ignored both ways: a newer agent may add response fields, and
    # the server must accept requests from newer clients.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore", frozen=True)
