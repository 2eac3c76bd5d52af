"""dedup.exact: repeats after normalisation are dropped, pointing at the record kept by the keep policy."""

from __future__ import annotations

import orjson
import pytest

from curatune.curation.dedup.exact import ExactDedup, dedup_text, normalise
from curatune.curation.ledger import Event
from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP
from curatune.errors import RecipeError


def chat(rid: str, prompt: str, answer: str, **scores) -> Record:
    return Record(
        rid,
        messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
        meta={"scores": scores} if scores else {},
    )


def run_step(step: ExactDedup, recs: list[Record]) -> dict[str, str]:
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: v.duplicate_of for r in recs if (v := step.decide(r)) is not KEEP}


def test_normalise():
    assert normalise("  Hello\u00a0World\n\tAGAIN ") == "hello world again"
    assert normalise("ﬁne Straße") == "fine strasse"
    assert normalise("") == ""


def test_dedup_text_fields():
    r = chat("a", "Q", "A")
    assert dedup_text(r, "prompt") == "Q"
    assert dedup_text(r, "response") == "A"
    assert dedup_text(r, "record") == "Q\nA"
    assert dedup_text(Record("l", text="t", label="pos"), "record") == "t\x00pos"


RECS = [
    chat("a", "What is 2+2?", "4", q=0.1),
    chat("b", "what is  2+2?", "4", q=0.9),  # same after normalisation
    chat("c", "What is 2+2?", "Four.", q=0.5),  # same prompt, other answer
    chat("d", "WHAT IS 2+2?", "4 "),  # unscored
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"b": "a", "d": "a"}),
        ({"normalize": False}, {}),
        ({"fields": "prompt"}, {"b": "a", "c": "a", "d": "a"}),
        ({"fields": "response"}, {"b": "a", "d": "a"}),  # "4 " normalises to "4"; "Four." differs
        ({"keep": "longest"}, {"b": "a", "d": "a"}),  # equal once normalised: on a tie the first stays
        ({"keep": "quality", "score_key": "q"}, {"a": "b", "d": "b"}),
        ({"keep": "quality", "score_key": "q", "fields": "prompt"}, {"a": "b", "c": "b", "d": "b"}),
        ({"keep": "quality", "score_key": "absent"}, {"b": "a", "d": "a"}),
    ],
)
def test_policies_and_fields(params, expected):
    assert run_step(build_step("dedup.exact", params), RECS) == expected


def test_longest_on_a_tie_keeps_the_first():
    recs = [Record("s", text="same text"), Record("l", text="Same   text"), Record("x", text="other")]
    assert run_step(ExactDedup(keep="longest"), recs) == {"l": "s"}
    recs = [Record("s", text="a"), Record("l", text="A"), Record("m", text="a")]
    assert run_step(ExactDedup(keep="longest", normalize=False), recs) == {"m": "s"}


def test_quality_needs_score_key():
    with pytest.raises(RecipeError, match="score_key"):
        build_step("dedup.exact", {"keep": "quality"})


class ListSink(Sink):
    def __init__(self):
        self.kept, self.events = [], []

    def keep(self, rec):
        self.kept.append(rec.id)

    def drop(self, item, event):
        pass

    def event(self, event):
        self.events.append(event)


def test_pipeline_ledger_and_artifact(tmp_path):
    recs = [Record.from_dict(r.to_dict()) for r in RECS]
    for i, r in enumerate(recs):
        r.meta.update(source="f.jsonl", line=i + 1)
    step = ExactDedup(keep="quality", score_key="q")
    sink = ListSink()
    result = Pipeline([PipelineStep(step)], workers=1, batch_size=2).run(recs, sink)
    assert (result.input, result.kept, result.dropped) == (4, 2, 2)
    assert sink.kept == ["b", "c"]
    assert sink.events == [
        Event("a", "f.jsonl", 1, "dedup.exact", "drop", "exact_duplicate", None, None, "b", None),
        Event("d", "f.jsonl", 4, "dedup.exact", "drop", "exact_duplicate", None, None, "b", None),
    ]
    assert step.write_artifacts(tmp_path) == ["artifacts/exact_duplicate_clusters.jsonl"]
    rows = [orjson.loads(x) for x in (tmp_path / "exact_duplicate_clusters.jsonl").read_bytes().splitlines()]
    assert rows == [{"kept": "b", "duplicates": ["a", "d"]}]
