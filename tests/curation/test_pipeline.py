"""The pipeline and run folders: a full ledger, flags, workers, skipped reruns, atomic run folders, explain."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

import curatune.stages.curate as curate_mod
from curatune.config.recipe import parse_recipe
from curatune.curation.ledger import Event
from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP, Drop, Edit, Filter, Mapper, Scorer, Verdict
from curatune.stages.curate import curate
from curatune.stages.explain import explain_record

# ---- helpers -------------------------------------------------------------------------------


class ListSink(Sink):
    def __init__(self):
        self.kept: list[Record] = []
        self.dropped: list[tuple[str, Event]] = []
        self.events: list[Event] = []

    def keep(self, rec):
        self.kept.append(rec)

    def drop(self, item, event):
        self.dropped.append((item.id, event))

    def event(self, event):
        self.events.append(event)


class Upper(Mapper):
    """Upper-cases assistant turns that contain 'shout' (a test mapper, not registered)."""

    name = "test.upper"
    reasons = ("shouted",)

    def apply(self, rec):
        if "shout" not in rec.response_text:
            return None
        new = {p: t.upper() for p, t in rec.text_fields() if p.startswith("messages[1]")}
        return Edit(rec.with_text_fields(new), "shouted")


class Length(Scorer):
    name = "test.length"

    def score(self, rec):
        return float(len(rec.all_text))


class Boom(Filter):
    """Raises on a given record, to test that a failed run leaves no trace."""

    name = "test.boom"
    reasons = ()

    def __init__(self, at: str = "d:3"):
        self.at = at

    def keep(self, rec) -> Verdict:
        if rec.id == self.at:
            raise RuntimeError("planted failure")
        return KEEP


def chat(i: int, answer: str) -> Record:
    return Record(
        f"r{i}",
        messages=[{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": answer}],
        meta={"source": "mem", "line": i},
    )


def write_alpaca(path: Path, answers: list[str]) -> Path:
    path.write_bytes(b"".join(orjson.dumps({"instruction": f"q{i % 3}", "output": a}) + b"\n" for i, a in enumerate(answers, start=1)))
    return path


def recipe(tmp_path: Path, data: Path, steps: list, **curate_kw):
    return parse_recipe(
        {
            "name": "run",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"path": str(data)},
            "curate": {"steps": steps, "workers": 1, **curate_kw},
        }
    )


def ledger(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "ledger.parquet").to_pylist()


# ---- the pipeline ----------------------------------------------------------------------------


def test_ledger_records_every_decision_with_values():
    records = [chat(1, "ok answer"), chat(2, "x"), chat(3, "please shout"), chat(4, "ok answer"), chat(5, "")]
    steps = [
        PipelineStep(Upper()),
        PipelineStep(build_step("filter.min_length", {"min_chars": 2}), on_fail="flag"),
        PipelineStep(Length()),
        PipelineStep(build_step("dedup.exact", {"fields": "response"})),
        PipelineStep(build_step("filter.min_length", {"min_chars": 3})),
    ]
    sink = ListSink()
    result = Pipeline(steps, workers=1, batch_size=2).run(records, sink)
    rows = [(e.id, e.step, e.action, e.reason, e.value, e.threshold, e.duplicate_of, e.detail) for e in sink.events]
    assert rows == [
        ("r2", "filter.min_length", "flag", "too_short", 1, 2, None, None),
        ("r3", "test.upper", "modify", "shouted", None, None, None, "messages[1].content: 12->12 chars"),
        ("r5", "filter.min_length", "flag", "too_short", 0, 2, None, None),
        # after the global step, in stream order: batch [r1, r2] runs the last filter before r4 is decided
        ("r2", "filter.min_length", "drop", "too_short", 1, 3, None, None),
        ("r4", "dedup.exact", "drop", "exact_duplicate", None, None, "r1", None),
        ("r5", "filter.min_length", "drop", "too_short", 0, 3, None, None),
    ]
    assert [r.id for r in sink.kept] == ["r1", "r3"]
    assert [d[0] for d in sink.dropped] == ["r2", "r4", "r5"]
    assert sink.kept[1].messages[1]["content"] == "PLEASE SHOUT"
    assert sink.kept[0].meta["scores"] == {"test.length": float(len("question 1\nok answer"))}
    assert (result.input, result.kept, result.dropped) == (5, 2, 3)
    by_step = [(s.name, s.seen, s.dropped, s.flagged, s.modified, dict(s.reasons)) for s in result.steps]
    assert by_step == [
        ("test.upper", 5, 0, 0, 1, {"modify:shouted": 1}),
        ("filter.min_length", 5, 0, 2, 0, {"flag:too_short": 2}),
        ("test.length", 5, 0, 0, 0, {}),
        ("dedup.exact", 5, 1, 0, 0, {"drop:exact_duplicate": 1}),
        ("filter.min_length", 4, 2, 0, 0, {"drop:too_short": 2}),
    ]


def test_on_fail_flag_keeps_and_flags():
    sink = ListSink()
    Pipeline([PipelineStep(build_step("filter.min_length", {"min_chars": 5}), on_fail="flag")]).run(
        [chat(1, "abc"), chat(2, "abcdef")], sink
    )
    assert [r.id for r in sink.kept] == ["r1", "r2"]
    assert sink.kept[0].meta["flags"] == ["filter.min_length:too_short"]
    assert "flags" not in sink.kept[1].meta
    assert [(e.id, e.action, e.value, e.threshold) for e in sink.events] == [("r1", "flag", 3, 5)]


def test_empty_input():
    sink = ListSink()
    result = Pipeline([PipelineStep(build_step("dedup.exact")), PipelineStep(build_step("filter.min_length"))]).run([], sink)
    assert (result.input, result.kept, result.dropped, sink.events) == (0, 0, 0, [])


# ---- run folders -----------------------------------------------------------------------------

STEPS = [
    {"step": "filter.min_length", "min_chars": 3},
    {"step": "dedup.exact", "fields": "response"},
    {"step": "filter.min_length", "min_chars": 5, "on_fail": "flag"},
]


def test_run_folder_ledger_and_explain(tmp_path):
    data = write_alpaca(tmp_path / "d.jsonl", ["long answer", "no", "long answer", "four", "other answer"])
    result = curate(recipe(tmp_path, data, STEPS))
    run = result.run_dir
    assert sorted(p.name for p in run.iterdir()) == ["artifacts", "data", "ledger.parquet", "recipe.yaml", "run.json", "stats.json"]
    rows = [(r["id"], r["step"], r["action"], r["reason"], r["value"], r["threshold"], r["duplicate_of"]) for r in ledger(run)]
    assert rows == [
        ("d:2", "filter.min_length", "drop", "too_short", 2.0, 3.0, None),
        ("d:3", "dedup.exact", "drop", "exact_duplicate", None, None, "d:1"),
        ("d:1", "output", "keep", None, None, None, None),
        ("d:4", "filter.min_length", "flag", "too_short", 4.0, 5.0, None),
        ("d:4", "output", "keep", None, None, None, None),
        ("d:5", "output", "keep", None, None, None, None),
    ]
    stats = result.stats
    assert (stats["input"], stats["kept"], stats["dropped"]) == (5, 3, 2)
    assert sum(1 for r in rows if r[2] in ("keep", "drop")) == stats["input"]
    kept = [orjson.loads(x) for x in (run / "data" / "kept.jsonl").read_bytes().splitlines()]
    assert [k["id"] for k in kept] == ["d:1", "d:4", "d:5"]
    assert kept[1]["meta"]["flags"] == ["filter.min_length:too_short"]
    assert (run / "artifacts" / "exact_duplicate_clusters.jsonl").read_bytes() == b'{"kept":"d:1","duplicates":["d:3"]}\n'
    assert explain_record(run, "d:3") == "\n".join(
        [
            f"d:3  (from {data}, line 3)",
            "  dedup.exact              drop    exact_duplicate duplicate of d:1",
            "  => dropped",
            f"  The whole record is in {run / 'data' / 'dropped.jsonl'}; change the recipe to keep it.",
        ]
    )
    assert explain_record(run, "d:4") == "\n".join(
        [
            f"d:4  (from {data}, line 4)",
            "  filter.min_length        flag    too_short value=4 threshold=5",
            "  output                   keep   ",
            "  => kept",
        ]
    )


def test_workers_give_identical_output(tmp_path):
    answers = [f"answer {i % 37}" if i % 5 else "no" for i in range(600)]
    data = write_alpaca(tmp_path / "d.jsonl", answers)
    one = curate(recipe(tmp_path, data, STEPS, batch_size=64))
    r2 = recipe(tmp_path, data, STEPS, batch_size=64)
    r2.curate.workers = 2
    r2.name = "run2"
    two = curate(r2)
    assert (one.run_dir / "data" / "kept.jsonl").read_bytes() == (two.run_dir / "data" / "kept.jsonl").read_bytes()
    assert (one.run_dir / "data" / "dropped.jsonl").read_bytes() == (two.run_dir / "data" / "dropped.jsonl").read_bytes()
    assert ledger(one.run_dir) == ledger(two.run_dir)
    assert one.stats["kept"] == two.stats["kept"] > 0 and one.stats["dropped"] == two.stats["dropped"] > 0


def test_rerun_is_skipped_and_changes_rerun_without_stale_files(tmp_path):
    data = write_alpaca(tmp_path / "d.jsonl", ["long answer", "long answer", "third one"])
    first = curate(recipe(tmp_path, data, STEPS))
    assert not first.skipped
    assert (first.run_dir / "artifacts" / "exact_duplicate_clusters.jsonl").is_file()
    again = curate(recipe(tmp_path, data, STEPS))
    assert again.skipped and again.stats == first.stats
    # a changed recipe reruns
    changed = curate(recipe(tmp_path, data, STEPS[:1]))
    assert not changed.skipped and changed.stats["kept"] == 3
    assert not (changed.run_dir / "artifacts" / "exact_duplicate_clusters.jsonl").exists()  # no stale artifact
    # a changed input reruns; with no duplicate left, the first run's artifact is gone
    curate(recipe(tmp_path, data, STEPS))
    assert (first.run_dir / "artifacts" / "exact_duplicate_clusters.jsonl").is_file()
    write_alpaca(data, ["long answer", "other answer", "third one"])
    rerun = curate(recipe(tmp_path, data, STEPS))
    assert not rerun.skipped and rerun.stats["kept"] == 3
    assert not (rerun.run_dir / "artifacts" / "exact_duplicate_clusters.jsonl").exists()
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["run"]
    # --force reruns an unchanged one
    assert not curate(recipe(tmp_path, data, STEPS), force=True).skipped


def test_failed_run_leaves_previous_run_and_no_partial_folder(tmp_path, monkeypatch):
    data = write_alpaca(tmp_path / "d.jsonl", ["long answer", "short", "third one", "more"])
    first = curate(recipe(tmp_path, data, STEPS))
    before = {p.relative_to(first.run_dir): p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()}
    real = curate_mod.build_pipeline_steps
    monkeypatch.setattr(curate_mod, "build_pipeline_steps", lambda r: [*real(r), PipelineStep(Boom("d:3"))])
    with pytest.raises(RuntimeError, match="planted failure"):
        curate(recipe(tmp_path, data, STEPS[:1]), force=True)
    after = {p.relative_to(first.run_dir): p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["run"]


class LoadsInSetup(Filter):
    """Holds something unpicklable after setup(), as a step holding a model or tokenizer does."""

    name = "test.loads_in_setup"
    reasons = ("odd",)

    def setup(self):
        import threading

        self._model = threading.Lock()  # cannot be pickled

    def keep(self, rec):
        assert self._model is not None
        return Drop("odd") if int(rec.id[1:]) % 2 else KEEP


def test_workers_get_steps_pickled_before_setup():
    sink = ListSink()
    result = Pipeline([PipelineStep(LoadsInSetup())], workers=2, batch_size=3, min_batches_for_workers=1).run(
        [chat(i, "answer") for i in range(10)], sink
    )
    assert [r.id for r in sink.kept] == ["r0", "r2", "r4", "r6", "r8"]
    assert (result.input, result.kept, result.dropped) == (10, 5, 5)


def test_small_input_runs_without_starting_worker_processes():
    # A pool costs seconds to start: under min_batches_for_workers batches it is never started.
    sink = ListSink()
    pipeline = Pipeline([PipelineStep(LoadsInSetup())], workers=2, batch_size=3, min_batches_for_workers=8)
    result = pipeline.run([chat(i, "answer") for i in range(10)], sink)
    assert (result.kept, result.dropped) == (5, 5) and pipeline._pool is None


def _dedup_run(recs: list[Record], chained: bool, monkeypatch, workers: int = 1) -> tuple[Pipeline, ListSink]:
    from curatune.curation.dedup.exact import ExactDedup

    if not chained:
        monkeypatch.setattr(ExactDedup, "decides_on_observe", lambda self: False)
    steps = [
        PipelineStep(build_step("filter.empty_answer", {})),
        PipelineStep(build_step("dedup.exact", {})),
        PipelineStep(build_step("dedup.minhash", {"threshold": 0.5})),
    ]
    pipeline = Pipeline(steps, workers=workers, batch_size=16, min_batches_for_workers=2)
    sink = ListSink()
    pipeline.run(recs, sink)
    monkeypatch.undo()
    return pipeline, sink


@pytest.mark.parametrize("workers", [1, 2])
def test_exact_keeping_the_first_shares_its_pass_with_minhash(monkeypatch, workers):
    # Copies (exact), near copies (one word changed) and empty answers, among distinct records.
    import random

    rng = random.Random(0)
    vocab = [f"w{j}" for j in range(400)]
    base = [" ".join(rng.sample(vocab, 20)) for _ in range(60)]
    answers = base + base[:10] + [b.rsplit(" ", 1)[0] + " changed" for b in base[10:20]] + [""] * 5
    recs = [
        Record(f"r{i}", messages=[{"role": "user", "content": "Tell me about it."}, {"role": "assistant", "content": a}])
        for i, a in enumerate(answers)
    ]
    chained, one_pass = _dedup_run(recs, True, monkeypatch, workers)
    plain, two_passes = _dedup_run(recs, False, monkeypatch, workers)
    assert [len(c) for c in chained.globals] == [2] and [len(c) for c in plain.globals] == [1, 1]
    # The same records kept and dropped, for the same reasons, pointing at the same kept twins.
    assert [r.id for r in one_pass.kept] == [r.id for r in two_passes.kept]
    assert sorted(one_pass.dropped, key=str) == sorted(two_passes.dropped, key=str)
    reasons = {}
    for _rid, ev in one_pass.dropped:
        reasons[ev.reason] = reasons.get(ev.reason, 0) + 1
    assert reasons == {"empty_answer": 5, "exact_duplicate": 10, "near_duplicate": 10}
    stats = {s.name: s for s in chained.stats.values()}
    assert stats["dedup.exact"].seen == 80 and stats["dedup.exact"].dropped == 10
    assert stats["dedup.minhash"].seen == 70 and stats["dedup.minhash"].dropped == 10


def test_ledger_kept_row_is_the_output_keep_event(tmp_path):
    from curatune.curation.ledger import LedgerWriter, read_ledger

    slow, fast = LedgerWriter(tmp_path / "slow.parquet"), LedgerWriter(tmp_path / "fast.parquet")
    slow.add(Event("r1", "a.jsonl", 3, "output", "keep"))
    fast.add_kept("r1", "a.jsonl", 3)
    slow.close()
    fast.close()
    assert read_ledger(tmp_path / "fast.parquet") == read_ledger(tmp_path / "slow.parquet")
    assert pq.read_schema(tmp_path / "fast.parquet") == pq.read_schema(tmp_path / "slow.parquet")


def test_workers_send_back_only_changed_records_and_output_is_identical(tmp_path, monkeypatch):
    # Records that a mapper edits, a filter flags or a scorer scores come back from the workers; the others
    # are the main process's own copies. Either way the output is what one process writes.
    import curatune.curation.pipeline.local as local

    answers = [f"answer number {i % 41}  " if i % 7 == 0 else (f"ok {i}" if i % 11 == 0 else f"answer number {i}") for i in range(700)]
    data = write_alpaca(tmp_path / "d.jsonl", answers)
    steps = [
        {"step": "clean.whitespace"},
        {"step": "filter.min_length", "min_chars": 8, "on_fail": "flag"},
        {"step": "dedup.exact", "fields": "response"},
    ]
    one = curate(recipe(tmp_path, data, steps, batch_size=64))
    returned = []
    real = local._worker_result

    def counting(raw, sent):
        returned.append(sum(d is not None for d in orjson.loads(raw[0])))
        return real(raw, sent)

    monkeypatch.setattr(local, "_worker_result", counting)
    r2 = recipe(tmp_path, data, steps, batch_size=64)
    r2.curate.workers = 2
    r2.name = "run2"
    two = curate(r2)
    for name in ("kept.jsonl", "dropped.jsonl"):
        assert (one.run_dir / "data" / name).read_bytes() == (two.run_dir / "data" / name).read_bytes()
    assert ledger(one.run_dir) == ledger(two.run_dir)
    modified = sum(1 for a in answers if a != a.rstrip())  # 100 trailing-space answers
    flagged = sum(1 for a in answers if a == a.rstrip() and len(a) < 8)  # "ok 11", "ok 22"... not also modified
    assert one.stats["steps"][0]["modified"] == modified
    assert sum(returned) == modified + flagged


def test_scored_records_come_back_from_workers(tmp_path):
    answers = [f"A complete answer number {i}, with a few more words in it." for i in range(600)]
    data = write_alpaca(tmp_path / "d.jsonl", answers)
    steps = [{"step": "score.quality"}]
    one = curate(recipe(tmp_path, data, steps, batch_size=64))
    r2 = recipe(tmp_path, data, steps, batch_size=64)
    r2.curate.workers = 2
    r2.name = "run2"
    two = curate(r2)
    kept = (two.run_dir / "data" / "kept.jsonl").read_bytes()
    assert kept == (one.run_dir / "data" / "kept.jsonl").read_bytes()
    assert all("quality" in orjson.loads(line)["meta"]["scores"] for line in kept.splitlines())


def test_batch_rows_carry_every_record_field():
    import dataclasses

    from curatune.curation.pipeline.local import _decode_batch, _encode_batch

    rec = Record(
        "p:1", messages=[{"role": "user", "content": "Q"}], text=None, label="x", chosen="A", rejected="B", meta={"scores": {"q": 0.5}}
    )
    assert _decode_batch(_encode_batch([rec])) == [rec]
    assert len(dataclasses.fields(Record)) == 7  # row in pipeline/rows.py lists them in this order


def test_run_gives_back_the_callers_garbage_collector_settings():
    import gc

    before = gc.get_threshold()
    pipeline = Pipeline([PipelineStep(build_step("filter.min_length", {"min_chars": 3}))])
    pipeline.run([chat(i, "answer") for i in range(10)], ListSink())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("on_fail", ["drop", "flag"])
def test_last_pass_over_an_encoded_spool_writes_what_the_decoded_pass_writes(tmp_path, monkeypatch, on_fail):
    # Exact then MinHash dedup: the last pass only asks MinHash by id, so its records are spooled encoded.
    # A kept record is written as encoded, a dropped or flagged one decoded; the run folder must not change.
    import curatune.curation.write.run_sink as runs

    base = "the quick brown fox jumps over the lazy dog near the quiet river bank at dawn"
    answers = [f"{base} {i % 40}" if i % 3 == 0 else f"{base} {i}" if i % 3 == 1 else f"distinct answer {i} of its own" for i in range(300)]
    answers += ["exact copy"] * 3
    data = write_alpaca(tmp_path / "d.jsonl", answers)
    steps = [{"step": "dedup.exact"}, {"step": "dedup.minhash", "threshold": 0.8, "on_fail": on_fail}]
    import curatune.curation.pipeline.passes as passes

    calls = []
    real = passes.PassRunner._decide_encoded
    monkeypatch.setattr(passes.PassRunner, "_decide_encoded", lambda self, *a: calls.append(1) or real(self, *a))
    encoded = curate(recipe(tmp_path, data, steps))
    assert calls == [1]
    monkeypatch.setattr(runs.RunSink, "kept_encoder", lambda self: None)
    r2 = recipe(tmp_path, data, steps)
    r2.name = "decoded"
    decoded = curate(r2)
    for name in ("kept.jsonl", "dropped.jsonl"):
        assert (encoded.run_dir / "data" / name).read_bytes() == (decoded.run_dir / "data" / name).read_bytes()
    key = lambda r: (r["id"], r["step"], r["action"])  # noqa: E731 - the row order within a batch may differ
    assert sorted(ledger(encoded.run_dir), key=key) == sorted(ledger(decoded.run_dir), key=key)
    minhash = next(s for s in encoded.stats["steps"] if s["step"] == "dedup.minhash")
    assert minhash["dropped" if on_fail == "drop" else "flagged"] > 0
    assert encoded.stats["input"] == encoded.stats["kept"] + encoded.stats["dropped"] == 303
