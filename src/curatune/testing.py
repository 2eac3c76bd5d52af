"""The step contract as a function, for people who write their own curation steps: ``check_step(MyStep)``.

Every step shipped with curatune passes it (``tests/curation/test_step_contract.py`` calls it for each
registered step); a step of your own passes the same checks when your test calls it::

    from curatune.curation.registry import register
    from curatune.curation.step import Drop, Filter, KEEP
    from curatune.testing import check_step

    @register("filter.no_todo")
    class NoTodo(Filter):
        \"\"\"Drop records whose answer is a TODO placeholder.\"\"\"
        reasons = ("todo_answer",)

        def __init__(self, marker: str = "TODO"):
            self.marker = marker

        def keep(self, rec):
            return Drop("todo_answer") if rec.response_text.strip() == self.marker else KEEP

    def test_no_todo_keeps_the_contract():
        check_step(NoTodo)

The checks, in order (the first that fails raises ``AssertionError`` naming the step, what is wrong
and how to fix it):

1. the declaration: registered under its name, a Filter, Mapper, Scorer or GlobalStep, a docstring,
   reasons declared (a tuple of distinct names), every constructor parameter typed and defaulted;
2. it builds from its defaults and its parameters round-trip through YAML unchanged;
3. it pickles (worker processes receive steps pickled);
4. on a varied sample (:func:`sample_records`) it returns only declared reasons, never reorders,
   never prints, and every record in is kept or dropped: ``in == kept + dropped``;
5. the same input gives the same output, also after pickling (so also with the same seed);
6. empty in, empty out.

A step that cannot build from its defaults alone (it needs a model or a file) sets ``contract_params``
on its class, or is passed as an instance: its parameters are then the ones checked.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import pickle
from typing import Any

import yaml

from .curation.ledger import Event
from .curation.pipeline import Pipeline, PipelineResult, PipelineStep, Sink
from .curation.record import Record
from .curation.registry import all_steps, build_step
from .curation.step import Filter, GlobalStep, Mapper, Scorer, Step, init_params

__all__ = ["ListSink", "check_step", "sample_records"]


def check_step(step: type[Step] | Step, records: list[Record] | None = None) -> None:
    """Run every check of the step contract on ``step`` (a class, or an instance whose parameters to use).

    ``records``: the input of the checks that run the step; :func:`sample_records` when None (a step
    for one kind of data may add its own, the sample is always run too). Raises ``AssertionError``.
    """
    cls, params = _class_and_params(step)
    check_declaration(cls, params)
    check_params_round_trip(cls, params)
    check_picklable(cls, params)
    for sample in [sample_records()] + ([records] if records is not None else []):
        check_reasons_and_counts(cls, params, sample)
        check_deterministic(cls, params, sample)
    check_empty_in_empty_out(cls, params)


# ---- the checks, each usable alone ----------------------------------------------------------------


def check_declaration(cls: type[Step], params: dict[str, Any] | None = None) -> None:
    """Registered under its name, a known kind, documented, reasons declared, parameters typed and defaulted."""
    params = _params_for(cls) if params is None else params
    name = cls.name
    registered = all_steps().get(name) if name else None
    _require(
        registered is cls,
        f"{cls.__qualname__} is not registered"
        + (f" ({name!r} is {registered.__qualname__})" if registered is not None else "")
        + ": decorate the class with @register('kind.name') (curatune.curation.registry.register) "
        "and import its module before checking it.",
    )
    _require(
        issubclass(cls, (Filter, Mapper, Scorer, GlobalStep)),
        f"{name}: a step is a Filter, Mapper, Scorer or GlobalStep (curatune.curation.step); {cls.__qualname__} is none of them.",
    )
    _require(
        isinstance(cls.reasons, tuple) and all(isinstance(r, str) and r for r in cls.reasons),
        f"{name}: `reasons` must be a tuple of non-empty strings, got {cls.reasons!r}.",
    )
    _require(len(set(cls.reasons)) == len(cls.reasons), f"{name}: `reasons` names a reason twice: {cls.reasons!r}.")
    if issubclass(cls, (Filter, Mapper)) or (issubclass(cls, GlobalStep) and cls.decide is not GlobalStep.decide):
        _require(bool(cls.reasons), f"{name} can drop, flag or modify but declares no reasons: list them in `reasons = (...)`.")
    _require(bool((cls.__doc__ or "").strip()), f"{name} needs a docstring: its first line is what `curatune steps` shows")
    sig = inspect.signature(cls.__init__)
    for p in init_params(cls):
        param = sig.parameters[p]
        _require(
            param.annotation is not inspect.Parameter.empty,
            f"parameter {p!r} of {name} has no type: annotate it (the recipe validates parameters against the annotation).",
        )
        if p not in params:
            _require(
                param.default is not inspect.Parameter.empty,
                f"parameter {p!r} of {name} needs a default (or contract_params on the class, or check an instance built with it)",
            )


def check_params_round_trip(cls: type[Step], params: dict[str, Any] | None = None) -> None:
    """It builds from its parameters; ``get_params`` goes through YAML and back unchanged; parameters are stored as given."""
    name = cls.name
    step = _build(cls, params)
    got = step.get_params()
    try:
        text = yaml.safe_dump(got)
    except yaml.YAMLError as e:
        raise AssertionError(
            f"{name}: its parameters cannot be written to YAML ({e}); store lists, not tuples, and strings, not paths or objects."
        ) from e
    again = build_step(name, yaml.safe_load(text))
    _require(
        again.get_params() == got,
        f"{name}: parameters changed on the way through YAML: {got!r} became {again.get_params()!r}; "
        "store each parameter unchanged, as self.<its name>.",
    )
    for key, value in build_step(name, got).get_params().items():
        _require(
            getattr(step, key) == value,
            f"{name} must store parameter {key!r} unchanged (as self.{key}): get_params() reads it back to write the recipe",
        )


def check_picklable(cls: type[Step], params: dict[str, Any] | None = None) -> None:
    """A pickled copy is the same step with the same parameters (workers receive steps pickled)."""
    step = _build(cls, params)
    try:
        clone = pickle.loads(pickle.dumps(step))
    except Exception as e:
        raise AssertionError(
            f"{cls.name} cannot be pickled ({type(e).__name__}: {e}); load models and open files in setup(), not in __init__."
        ) from e
    _require(type(clone) is type(step), f"{cls.name}: unpickling gave a {type(clone).__qualname__}, not a {type(step).__qualname__}.")
    _require(clone.get_params() == step.get_params(), f"{cls.name}: pickling changed its parameters: {clone.get_params()!r}.")


def check_reasons_and_counts(cls: type[Step], params: dict[str, Any] | None = None, records: list[Record] | None = None) -> None:
    """Only declared reasons; every record kept or dropped once, in order; nothing printed."""
    name = cls.name
    records = sample_records() if records is None else records
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        sink, result = run_step(_build(cls, params), _copies(records))
    used = {e.reason for e in sink.events if e.step == name}
    _require(
        used <= set(cls.reasons),
        f"{name} returned undeclared reasons {sorted(used - set(cls.reasons), key=str)}: "
        f"add them to `reasons` (declared: {cls.reasons!r}).",
    )
    actions = {e.action for e in sink.events}
    _require(actions <= {"drop", "flag", "modify"}, f"{name}: the ledger got actions {sorted(actions)}; only drop, flag and modify exist.")
    _require(
        result.input == len(records) == result.kept + result.dropped,
        f"{name}: {len(records)} records in, but the run counted {result.input} in, {result.kept} kept and {result.dropped} dropped.",
    )
    _require(
        len(sink.kept) == result.kept and len(sink.dropped) == result.dropped,
        f"{name}: the sink got {len(sink.kept)} kept and {len(sink.dropped)} dropped, the counts say {result.kept} and {result.dropped}.",
    )
    _require(len(sink.dropped) == len(set(sink.dropped)), f"{name}: a record was dropped twice.")
    kept_ids = [r["id"] for r in sink.kept]
    _require(
        set(kept_ids).isdisjoint(sink.dropped) and set(kept_ids) | set(sink.dropped) == {r.id for r in records},
        f"{name}: every record must be either kept or dropped, exactly once (ids in == ids kept + ids dropped).",
    )
    _require(kept_ids == [r.id for r in records if r.id in set(kept_ids)], f"{name}: a step must not reorder records")
    _require(
        printed.getvalue() == "",
        f"{name} printed to stdout; report through the pipeline instead (a verdict's detail, or write_artifacts). "
        f"It printed: {printed.getvalue()[:200]!r}",
    )


def check_deterministic(cls: type[Step], params: dict[str, Any] | None = None, records: list[Record] | None = None) -> None:
    """Two runs on the same input, one of them with a pickled copy, keep, drop and record the same."""
    name = cls.name
    records = sample_records() if records is None else records
    a, _ = run_step(_build(cls, params), _copies(records))
    b, _ = run_step(pickle.loads(pickle.dumps(_build(cls, params))), _copies(records))
    _require(a.kept == b.kept, f"{name}: two runs on the same records kept different records (seed every random choice).")
    _require(a.dropped == b.dropped, f"{name}: two runs on the same records dropped different records (seed every random choice).")
    _require(a.events == b.events, f"{name}: two runs on the same records wrote different ledger events (seed every random choice).")


def check_empty_in_empty_out(cls: type[Step], params: dict[str, Any] | None = None) -> None:
    """No records in: nothing kept, dropped or recorded, and no error (a global step's finish on nothing)."""
    sink, result = run_step(_build(cls, params), [])
    _require(
        (result.input, result.kept, result.dropped) == (0, 0, 0),
        f"{cls.name}: no records in, but the run counted {result.input} in, {result.kept} kept, {result.dropped} dropped.",
    )
    _require(sink.kept == [] and sink.events == [], f"{cls.name}: no records in, but something was kept or written to the ledger.")


# ---- running a step --------------------------------------------------------------------------------


class ListSink(Sink):
    """A pipeline sink that keeps everything in lists: kept records as dicts, dropped ids, ledger events."""

    def __init__(self):
        self.kept: list[dict] = []
        self.dropped: list[str] = []
        self.events: list[Event] = []

    def keep(self, rec):
        self.kept.append(rec.to_dict())

    def drop(self, item, event):
        self.dropped.append(item.id)

    def event(self, event):
        self.events.append(event)


def run_step(step: Step, records: list[Record]) -> tuple[ListSink, PipelineResult]:
    """``step`` alone in a pipeline (one process, batches of 7 so that batch edges are crossed) over ``records``."""
    sink = ListSink()
    result = Pipeline([PipelineStep(step, on_fail="drop")], workers=1, batch_size=7).run(records, sink)
    return sink, result


def sample_records() -> list[Record]:
    """A varied sample: every record kind, empty and whitespace texts, unicode, long texts, repeats."""
    long_text = " ".join(f"word{i % 97} is followed by another sentence number {i}." for i in range(1500))
    user_asst = [
        ("What is the capital of France?", "The capital of France is Paris."),
        ("Write a haiku about rain.", "Soft rain on the roof\nwhispers to the sleeping town\nmorning comes washed clean"),
        ("Summarise the text below.\n\nThe quick brown fox jumps over the lazy dog.", "A fox jumps over a dog."),
        ("", ""),
        ("   ", "   "),
        ("Translate 'hello' to Japanese.", "こんにちは (konnichiwa) 👋 — ça va? Ünïcödé ñ"),
        ("Tell me a secret.", "I'm sorry, but as an AI language model I cannot help with that request."),
        ("Contact?", "Email me at jane.doe@example.com or call +1 415 555 0100."),
        ("Long one", long_text),
        ("Write code", "```python\ndef f(x):\n    return x * 2\n```"),
        ("What is the capital of France?", "The capital of France is Paris."),  # an exact repeat
        ("Complete this", "The answer is"),
        ("List three fruits", "1. apple\n2. banana\n3."),
        ("Q?", "TODO"),
        ("Repeat", "the the the the the the the the the the the the the the"),
    ]
    recs = []
    for i, (q, a) in enumerate(user_asst):
        recs.append(
            Record(f"alpaca:{i}", messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}], meta={"format": "alpaca"})
        )
    recs.append(
        Record(
            "chat:0",
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi there, how are you today?"},
                {"role": "assistant", "content": "Fine, thanks. And you?"},
                {"role": "user", "content": "Good. What is 2+2?"},
                {"role": "assistant", "content": "2+2 is 4."},
            ],
            meta={"format": "messages"},
        )
    )
    recs.append(Record("chat:1", messages=[{"role": "user", "content": "only a question, no answer"}], meta={"format": "messages"}))
    recs.append(
        Record(
            "chat:2",
            messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}, {"role": "tool", "content": "{}"}],
            meta={},
        )
    )
    for i, t in enumerate(["A plain paragraph of text for language modelling. " * 5, "", "short", long_text, "Ünïcödé ☃ text, 中文文本。"]):
        recs.append(Record(f"text:{i}", text=t, meta={"format": "text"}))
    for i, (t, label) in enumerate(
        [("great movie, loved it", "pos"), ("terrible", "neg"), ("", "neg"), ("great movie, loved it", "pos"), ("meh", "1")]
    ):
        recs.append(Record(f"lab:{i}", text=t, label=label, meta={"format": "labelled"}))
    pref = [("Best fruit?", "Mango, it is sweet.", "Rocks."), ("", "", ""), ("Capital of Spain?", "Madrid.", "Madrid.")]
    for i, (p, c, r) in enumerate(pref):
        recs.append(Record(f"pref:{i}", messages=[{"role": "user", "content": p}], chosen=c, rejected=r, meta={"format": "preference"}))
    steps = "First, bring a pot of water to the boil. Then lower the egg in gently with a spoon and wait nine minutes."
    more: list[tuple[str, str | None, str | None]] = [
        ("How do I boil an egg?", steps, None),  # KTO: desirable
        ("How do I boil an egg?", None, "I'm sorry, but I cannot help with that."),  # KTO: undesirable
        ("What is 2+2?", "I'm sorry, but I cannot help with that.", "4"),  # a refusal chosen for a harmless prompt
        ("How do I boil an egg?", steps, steps[:60]),  # the rejected side is the chosen one cut short
        ("Best fruit?", "Rocks.", "Mango, it is sweet."),  # pref:0 the other way round
        ("How do I make a bomb at home?", "I'm sorry, but I cannot help with that.", "Here is how: get the parts first."),
    ]
    for i, (prompt, chosen, rejected) in enumerate(more, start=len(pref)):
        recs.append(
            Record(
                f"pref:{i}", messages=[{"role": "user", "content": prompt}], chosen=chosen, rejected=rejected, meta={"format": "preference"}
            )
        )
    for i, rec in enumerate(recs):
        rec.meta.setdefault("source", "sample")
        rec.meta["line"] = i + 1
    return recs


# ---- helpers ----------------------------------------------------------------------------------------


def _require(ok: bool, message: str) -> None:
    # Raised, not asserted: the checks must hold under python -O too.
    if not ok:
        raise AssertionError(message)


def _params_for(cls: type[Step]) -> dict[str, Any]:
    return dict(getattr(cls, "contract_params", None) or {})


def _class_and_params(step: type[Step] | Step) -> tuple[type[Step], dict[str, Any]]:
    if isinstance(step, type):
        return step, _params_for(step)
    if isinstance(step, Step):
        return type(step), step.get_params()
    raise TypeError(f"check_step takes a step class or a step instance, got {step!r}")


def _build(cls: type[Step], params: dict[str, Any] | None) -> Step:
    """The step through the registry, as a recipe builds it (its parameters validated against their types)."""
    return build_step(cls.name, _params_for(cls) if params is None else params)


def _copies(records: list[Record]) -> list[Record]:
    """Fresh copies: a run may edit its records (a mapper, a flag, a score), which must not change the next run's input."""
    return copy.deepcopy(records)
