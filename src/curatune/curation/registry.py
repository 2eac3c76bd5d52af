"""Steps by name: ``@register("filter.min_length")`` on the class, ``build_step(name, params)`` to make one.

Registration happens at import; :func:`load_all` imports every module under
the step folders (``clean/``, ``filter/``, ``dedup/``, ...), so a new step is
found by being in the right folder, never by a list kept by hand.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from ..errors import RecipeError
from .step import Step, init_params

_REGISTRY: dict[str, type[Step]] = {}
STEP_PACKAGES = (
    "curatune.curation.clean",
    "curatune.curation.filter",
    "curatune.curation.dedup",
    "curatune.curation.score",
    "curatune.curation.select",
    "curatune.curation.pairs",
)
_loaded = False


def register(name: str) -> Callable[[type[Step]], type[Step]]:
    def wrap(cls: type[Step]) -> type[Step]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise RuntimeError(f"Two steps are registered as {name!r}: {_REGISTRY[name].__qualname__} and {cls.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def load_all() -> None:
    """Import every step module so that their @register calls run."""
    global _loaded
    if _loaded:
        return
    for pkg_name in STEP_PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ModuleNotFoundError:
            continue
        for mod in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            importlib.import_module(mod.name)
    _loaded = True


def all_steps() -> dict[str, type[Step]]:
    load_all()
    return dict(sorted(_REGISTRY.items()))


def get_step_class(name: str) -> type[Step]:
    steps = all_steps()
    if name not in steps:
        close = difflib.get_close_matches(name, steps, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise RecipeError([f"Unknown step {name!r}.{hint} List the steps with: curatune steps"])
    return steps[name]


def _param_model(cls: type[Step]) -> type[BaseModel]:
    sig = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__, include_extras=True)
    fields: dict[str, Any] = {}
    for p in init_params(cls):
        param = sig.parameters[p]
        annotation = hints.get(p, Any)
        default = param.default if param.default is not inspect.Parameter.empty else ...
        fields[p] = (annotation, default)
    return create_model(f"{cls.__name__}Params", __config__={"extra": "forbid", "arbitrary_types_allowed": True}, **fields)


def param_problems(name: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validated parameters of step ``name`` and every problem with them, phrased for the user."""
    cls = get_step_class(name)
    allowed = init_params(cls)
    problems = []
    try:
        model = _param_model(cls).model_validate(params)
        return {p: getattr(model, p) for p in allowed}, []
    except ValidationError as e:
        for err in e.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                problems.append(f"{name} has no parameter {key!r}.{hint} Its parameters: {', '.join(allowed) or 'none'}.")
            elif err["type"] == "missing":
                problems.append(f"The {key!r} parameter of {name} is required.")
            else:
                got = params.get(key, err.get("input"))
                problems.append(f"The {key!r} parameter of {name} {_must(err['msg'])}. Got {got!r} instead.")
    return {}, problems


def _must(msg: str) -> str:
    """Pydantic's "Input should be greater than 0" as "must be greater than 0"."""
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    for prefix in ("Input should be ", "Input should "):
        if msg.startswith(prefix):
            return "must " + ("be " if prefix.endswith("be ") else "") + msg[len(prefix) :]
    return "is invalid: " + msg[:1].lower() + msg[1:]


def build_step(name: str, params: dict[str, Any] | None = None) -> Step:
    """A step from its registry name and parameters, validated; raises RecipeError listing every problem."""
    values, problems = param_problems(name, params or {})
    if problems:
        raise RecipeError(problems)
    return get_step_class(name)(**values)
