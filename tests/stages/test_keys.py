"""Stage keys: what a stage depends on (settings, input bytes, its code) decides whether it runs again."""

from __future__ import annotations

from pathlib import Path

from curatune.config.recipe import parse_recipe
from curatune.generate import generate_noisy
from curatune.run_folder import RunFolder, TuneFolder
from curatune.stages import keys
from curatune.stages.curate import curate
from curatune.stages.keys import StageKey


def key_of(tmp_path: Path, settings, data: Path, **kw) -> StageKey:
    return StageKey.compute("s", settings, inputs=[data], code=("split",), key_file=tmp_path / "key.json", **kw)


def test_a_key_changes_with_settings_input_bytes_and_code(tmp_path, monkeypatch):
    data = tmp_path / "d.txt"
    data.write_text("one")
    base = key_of(tmp_path, {"a": 1}, data)
    assert key_of(tmp_path, {"a": 1}, data).key == base.key
    assert key_of(tmp_path, {"a": 2}, data).key != base.key
    data.write_text("two")
    assert key_of(tmp_path, {"a": 1}, data).key != base.key
    data.write_text("one")
    real = keys.package_fingerprint
    monkeypatch.setattr(keys, "package_fingerprint", lambda p: real(p) + "-edited")
    assert key_of(tmp_path, {"a": 1}, data).key != base.key


def test_a_recorded_key_is_finished_only_with_its_outputs_and_unforced(tmp_path):
    data = tmp_path / "d.txt"
    data.write_text("one")
    out = tmp_path / "out.txt"
    key = key_of(tmp_path, {}, data, outputs=[out])
    assert key.stored() is None and not key.finished()
    key.record(extra=1)
    assert key.matches() and not key.finished()  # the output is missing
    out.write_text("done")
    assert key.finished() and not key.finished(force=True)
    assert not key_of(tmp_path, {"other": True}, data, outputs=[out]).finished()


def test_the_code_fingerprint_follows_the_source_files_not_the_bytecode(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "step.py").write_text("x = 1\n")
    (pkg / "words.txt").write_text("a\n")
    monkeypatch.setattr(keys, "_PACKAGE_ROOT", tmp_path)
    fingerprint = keys.package_fingerprint.__wrapped__  # uncached: once per process is the real rule
    before = fingerprint("pkg")
    (pkg / "__pycache__" / "step.cpython-311.pyc").write_bytes(b"\0")
    assert fingerprint("pkg") == before
    (pkg / "words.txt").write_text("b\n")
    assert fingerprint("pkg") != before


def test_an_unchanged_curation_is_skipped_and_a_change_of_the_engine_reruns_it(tmp_path, monkeypatch):
    data = tmp_path / "d.jsonl"
    generate_noisy(data, n=60, seed=0)
    raw = {"name": "k", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "curate": {"workers": 1}}
    first = curate(parse_recipe(raw))
    assert not first.skipped and curate(parse_recipe(raw)).skipped
    real = keys.package_fingerprint
    monkeypatch.setattr(keys, "package_fingerprint", lambda p: real(p) + ("-edited" if p == "curation" else ""))
    assert not curate(parse_recipe(raw)).skipped


def test_the_run_folder_layout_is_the_documented_one(tmp_path):
    run = RunFolder.of(tmp_path / "runs", "r")
    root = tmp_path / "runs" / "r"
    assert (run.kept, run.dropped, run.done, run.ledger) == (
        root / "data" / "kept.jsonl",
        root / "data" / "dropped.jsonl",
        root / "run.json",
        root / "ledger.parquet",
    )
    assert (run.split_key, run.split.split("val"), run.split.report) == (
        root / "split_key.json",
        root / "splits" / "val.jsonl",
        root / "split_report.json",
    )
    assert (run.train.key, run.eval.key, run.lr_find.result) == (
        root / "train" / "key.json",
        root / "eval" / "key.json",
        root / "lr_find" / "lr_find.json",
    )
    # A tune trial is a run folder of its own under tune/, holding its train/.
    assert run.tune.trial(3).train.summary == root / "tune" / "trial-3" / "train" / "summary.json"
    assert TuneFolder(root / "tune").study == root / "tune" / "study.db"
