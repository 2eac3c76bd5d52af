"""The contract every registered step keeps (scikit-learn's test_common): adding a step adds its tests.

Parametrised over ``curatune.curation.registry.all_steps()``, so steps added by anyone are picked up.
A step that cannot build from pure defaults (it needs a model or an eval set given by path) sets
``contract_params`` on its class: the parameters used here instead of the defaults.
"""

from __future__ import annotations

import inspect
import pickle

import pytest
import yaml

from curatune.curation.ledger import Event
from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import all_steps, build_step
from curatune.curation.step import Filter, GlobalStep, Mapper, Scorer, Step, init_params

STEPS = all_steps()


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
    for i, r in enumerate(recs):
        r.meta.setdefault("source", "sample")
        r.meta["line"] = i + 1
    return recs


class ListSink(Sink):
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


def params_for(cls: type[Step]) -> dict:
    return dict(getattr(cls, "contract_params", None) or {})


def make(name: str) -> Step:
    return build_step(name, params_for(STEPS[name]))


def run(step: Step, records: list[Record]) -> tuple[ListSink, object]:
    sink = ListSink()
    result = Pipeline([PipelineStep(step, on_fail="drop")], workers=1, batch_size=7).run(records, sink)
    return sink, result


names = pytest.mark.parametrize("name", list(STEPS))


def test_steps_are_registered():
    assert "filter.min_length" in STEPS and "dedup.exact" in STEPS


@names
def test_declaration(name):
    cls = STEPS[name]
    assert cls.name == name
    assert issubclass(cls, (Filter, Mapper, Scorer, GlobalStep)), "a step is a Filter, Mapper, Scorer or GlobalStep"
    assert isinstance(cls.reasons, tuple) and all(isinstance(r, str) and r for r in cls.reasons)
    assert len(set(cls.reasons)) == len(cls.reasons)
    if issubclass(cls, (Filter, Mapper)) or (issubclass(cls, GlobalStep) and cls.decide is not GlobalStep.decide):
        assert cls.reasons, f"{name} can drop, flag or modify but declares no reasons"
    assert (cls.__doc__ or "").strip(), f"{name} needs a docstring: its first line is what `curatune steps` shows"
    sig = inspect.signature(cls.__init__)
    for p in init_params(cls):
        param = sig.parameters[p]
        assert param.annotation is not inspect.Parameter.empty, f"parameter {p!r} of {name} has no type"
        if p not in params_for(cls):
            assert param.default is not inspect.Parameter.empty, f"parameter {p!r} of {name} needs a default (or contract_params)"


@names
def test_builds_and_params_round_trip_through_yaml(name):
    step = make(name)
    params = step.get_params()
    text = yaml.safe_dump(params)  # fails for values YAML cannot hold (tuples, paths, objects)
    again = build_step(name, yaml.safe_load(text))
    assert again.get_params() == params
    for key, value in build_step(name, params).get_params().items():
        assert getattr(step, key) == value, f"{name} must store parameter {key!r} unchanged"


@names
def test_picklable(name):
    step = make(name)
    clone = pickle.loads(pickle.dumps(step))
    assert type(clone) is type(step)
    assert clone.get_params() == step.get_params()


@names
def test_only_declared_reasons_and_counts_add_up(name, capsys):
    records = sample_records()
    sink, result = run(make(name), records)
    cls = STEPS[name]
    used = {e.reason for e in sink.events if e.step == name}
    assert used <= set(cls.reasons), f"{name} returned undeclared reasons {sorted(used - set(cls.reasons))}"
    assert all(e.action in ("drop", "flag", "modify") for e in sink.events)
    assert result.input == len(records) == result.kept + result.dropped
    assert len(sink.kept) == result.kept and len(sink.dropped) == result.dropped
    assert len(sink.dropped) == len(set(sink.dropped))
    kept_ids = [r["id"] for r in sink.kept]
    assert set(kept_ids).isdisjoint(sink.dropped) and set(kept_ids) | set(sink.dropped) == {r.id for r in records}
    assert kept_ids == [r.id for r in records if r.id in set(kept_ids)], "a step must not reorder records"
    out = capsys.readouterr()
    assert out.out == "", f"{name} printed to stdout; report through the pipeline instead"


@names
def test_deterministic_and_same_after_pickling(name):
    a, _ = run(make(name), sample_records())
    b, _ = run(pickle.loads(pickle.dumps(make(name))), sample_records())
    assert a.kept == b.kept
    assert a.dropped == b.dropped
    assert a.events == b.events


@names
def test_empty_in_empty_out(name):
    sink, result = run(make(name), [])
    assert (result.input, result.kept, result.dropped) == (0, 0, 0)
    assert sink.kept == [] and sink.events == []
