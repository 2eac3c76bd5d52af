"""The recipe reference, generated from the schema: every key, its type, default and meaning.

The text of each entry is the docstring under the field in the pydantic
models, so the reference cannot drift from the code; ``docs/recipe.md`` is this
module's output (a test checks it is current; regenerate it with
``curatune reference > docs/recipe.md``). Curation steps and their parameters
are listed by ``curatune steps``.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .recipe import Recipe

HEADER = """# Recipe reference

Generated from the schema by `curatune reference` (do not edit by hand). Every key is
optional unless marked required; an unknown key is an error. Curation steps and their
parameters: `curatune steps`. Axolotl's names (`num_epochs`, `micro_batch_size`,
`sequence_len`, `lr_scheduler`) are accepted for the `train:` keys they stand for.
"""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        return annotation.__name__
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    return str(annotation).replace("typing.", "")


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined:
        value = field.default_factory() if field.default_factory else None
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{value!r}`" if value is not None else "`null`"


def _description(field) -> str:
    text = " ".join((field.description or "").split())
    return re.sub(r":(mod|func|class):`([^`]+)`", r"`\2`", text).replace("``", "`").replace("|", "\\|")


def section(model: type[BaseModel], path: str) -> list[str]:
    """Markdown for one model, then for each model nested under it."""
    lines = [f"## `{path}`" if path else "## top level", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {_description(field)} |")
        for sub in _models_in(field.annotation):
            nested.append((sub, f"{path}.{name}" if path else name))
    lines.append("")
    for sub, sub_path in nested:
        lines += section(sub, sub_path)
    return lines


def recipe_reference() -> str:
    return HEADER + "\n" + "\n".join(section(Recipe, "")).rstrip() + "\n"
