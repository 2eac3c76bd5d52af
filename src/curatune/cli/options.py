"""Option defaults read from the config models, so that a verb and a recipe never disagree by accident."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def default_of(model: type[BaseModel], field: str) -> Any:
    """The default of ``model.field``: what a verb's option defaults to when the config section has the same key."""
    return model.model_fields[field].get_default(call_default_factory=True)
