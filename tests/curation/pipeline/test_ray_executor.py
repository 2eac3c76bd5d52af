"""The Ray executor gives the local executor's answer, record for record (issue 19).

A local Ray cluster of 2 CPUs is started once for the module (about 4 s); the executor joins it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from curatune.config.recipe import parse_recipe
from curatune.curation.pipeline import Pipeline, PipelineStep
from curatune.curation.pipeline.ray_executor import RayExecutor
from curatune.curation.registry import build_step
from curatune.generate import generate_noisy
from curatune.stages.curate import curate

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def _rows(path: Path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines())


def _ledger(run_dir: Path) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in pq.read_table(run_dir / "ledger.parquet").to_pylist())


def _recipe(tmp_path: Path, data: Path, executor: str, steps: list[dict] | None, global_steps: str = "driver") -> object:
    curate_section: dict = {"executor": executor, "workers": 2, "batch_size": 128}
    if executor == "ray":
        curate_section["global_steps"] = global_steps
    if steps is not None:
        curate_section["steps"] = steps
    return parse_recipe({"name": executor, "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "curate": curate_section})


def _assert_same_answer(local: Path, on_ray: Path, n_input: int) -> None:
    for f in ("data/kept.jsonl", "data/dropped.jsonl"):
        assert _rows(local / f) == _rows(on_ray / f), f
    assert _ledger(local) == _ledger(on_ray)
    # input == kept + dropped, from the ledger alone: one output row or one drop per record
    rows = pq.read_table(on_ray / "ledger.parquet").to_pylist()
    final = Counter(r["id"] for r in rows if r["action"] == "drop" or r["step"] == "output")
    assert len(final) == n_input and set(final.values()) == {1}
    kept = len((on_ray / "data/kept.jsonl").read_bytes().splitlines())
    dropped = len((on_ray / "data/dropped.jsonl").read_bytes().splitlines())
    assert kept + dropped == n_input


# Light steps (tasks), a mapper that changes records, and both dedup steps sharing a pass on the driver.
LIGHT_STEPS = [
    {"step": "clean.whitespace"},
    {"step": "filter.empty_answer"},
    {"step": "filter.min_length", "min_chars": 20, "on_fail": "flag"},
    {"step": "dedup.exact"},
    {"step": "dedup.minhash", "threshold": 0.7},
]


def test_ray_executor_equals_local_on_generated_records(tmp_path, ray_cluster):
    data = tmp_path / "in.jsonl"
    summary = generate_noisy(data, n=3000, seed=7)
    local = curate(_recipe(tmp_path, data, "local", LIGHT_STEPS))
    on_ray = curate(_recipe(tmp_path, data, "ray", LIGHT_STEPS))
    n_input = on_ray.stats["input"]
    assert n_input == summary.n_lines == 3000
    assert on_ray.stats["kept"] == local.stats["kept"] and on_ray.stats["dropped"] == local.stats["dropped"]
    # the planted duplicates were found (not a run that dropped nothing)
    reasons = Counter(r["reason"] for r in pq.read_table(on_ray.run_dir / "ledger.parquet").to_pylist() if r["action"] == "drop")
    assert reasons["exact_duplicate"] > 0 and reasons["near_duplicate"] > 0
    _assert_same_answer(local.run_dir, on_ray.run_dir, n_input)
    assert (on_ray.run_dir / "artifacts/near_duplicate_clusters.jsonl").read_bytes() == (
        local.run_dir / "artifacts/near_duplicate_clusters.jsonl"
    ).read_bytes()


@pytest.mark.slow
def test_ray_executor_equals_local_with_the_default_recipe(tmp_path, ray_cluster):
    """The default recipe: steps with a costly setup (language id, PII) run in an actor pool."""
    data = tmp_path / "in.jsonl"
    generate_noisy(data, n=3000, seed=11)
    local = curate(_recipe(tmp_path, data, "local", None))
    on_ray = curate(_recipe(tmp_path, data, "ray", None))
    assert on_ray.stats["kept"] == local.stats["kept"] and on_ray.stats["dropped"] == local.stats["dropped"] > 0
    _assert_same_answer(local.run_dir, on_ray.run_dir, on_ray.stats["input"])


class _ListSink:
    def __init__(self):
        self.kept, self.dropped, self.events = [], [], []

    def keep(self, rec):
        self.kept.append(rec.id)

    def drop(self, item, event):
        self.dropped.append((item.id, event.reason))

    def event(self, event):
        self.events.append(event)

    def kept_encoder(self):
        return None


def test_ray_executor_runs_every_window_in_input_order(ray_cluster):
    """Many small windows: results still come back in input order (exact dedup keeps the first copy)."""
    from curatune.curation.record import Record

    recs = [Record(f"r{i}", text=f"text number {i % 50} " + "word " * (i % 7)) for i in range(400)]
    steps = [PipelineStep(build_step("filter.min_length", {"min_chars": 15})), PipelineStep(build_step("dedup.exact", {}))]
    local, on_ray = _ListSink(), _ListSink()
    Pipeline(steps, batch_size=16).run(recs, local)
    steps = [PipelineStep(build_step("filter.min_length", {"min_chars": 15})), PipelineStep(build_step("dedup.exact", {}))]
    Pipeline(steps, batch_size=16, executor=RayExecutor(workers=2, window=3, global_on_cluster=True)).run(recs, on_ray)
    assert on_ray.kept == local.kept and on_ray.dropped == local.dropped
    assert [(e.id, e.reason, e.duplicate_of) for e in on_ray.events] == [(e.id, e.reason, e.duplicate_of) for e in local.events]
    assert len(local.kept) + len(local.dropped) == 400 and any(r == "exact_duplicate" for _, r in local.dropped)


def _planted_file(path: Path, n_orig: int, n_exact: int, n_near: int, seed: int) -> tuple[set[str], set[str]]:
    """Chat records with planted exact copies (case and spacing changed) and near copies (one answer word of 60 changed)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from test_cluster import planted

    recs, exact, near = planted(n_orig, n_exact, n_near, seed)
    with open(path, "wb") as f:
        for r in recs:
            f.write(orjson.dumps({"id": r.id, "messages": r.messages}) + b"\n")
    return exact, near


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([{"step": "clean.whitespace"}, {"step": "dedup.exact"}, {"step": "dedup.minhash"}], id="first"),
        pytest.param(
            [{"step": "dedup.exact", "keep": "longest"}, {"step": "dedup.minhash", "keep": "longest", "verify": "signature"}],
            id="longest",
            marks=pytest.mark.slow,
        ),
        pytest.param([{"step": "dedup.exact", "on_fail": "flag"}, {"step": "dedup.minhash"}], id="exact-flags", marks=pytest.mark.slow),
    ],
)
def test_dedup_on_the_cluster_equals_local_on_planted_duplicates(tmp_path, ray_cluster, steps):
    """Exact and MinHash dedup finished on the Ray cluster (hash shuffle, band buckets): the local answer, record for
    record, and exactly the planted copies."""
    import curatune.stages.curate as stage

    data = tmp_path / "in.jsonl"
    exact, near = _planted_file(data, 2000, 200, 150, seed=13)
    made: list[RayExecutor] = []
    real = stage.build_executor

    def keep_ref(r):
        ex = real(r)
        made.append(ex)
        return ex

    stage.build_executor = keep_ref
    try:
        local = curate(_recipe(tmp_path, data, "local", steps))
        on_ray = curate(_recipe(tmp_path, data, "ray", steps, global_steps="cluster"))
    finally:
        stage.build_executor = real
    assert made[-1].global_on_cluster and made[-1].finished_on_cluster == ["dedup.exact", "dedup.minhash"]
    n_input = on_ray.stats["input"]
    assert n_input == 2000 + 200 + 150
    _assert_same_answer(local.run_dir, on_ray.run_dir, n_input)
    for name in ("exact_duplicate_clusters.jsonl", "near_duplicate_clusters.jsonl"):
        assert (on_ray.run_dir / "artifacts" / name).read_bytes() == (local.run_dir / "artifacts" / name).read_bytes()
    rows = pq.read_table(on_ray.run_dir / "ledger.parquet").to_pylist()
    drops = Counter(r["reason"] for r in rows if r["action"] == "drop")
    flags = Counter(r["reason"] for r in rows if r["action"] == "flag")
    if steps[0].get("on_fail") == "flag":
        # exact copies flagged, then dropped by MinHash as near duplicates of their originals
        assert flags["exact_duplicate"] == len(exact) and drops == {"near_duplicate": len(exact) + len(near)}
    else:
        assert drops == {"exact_duplicate": len(exact), "near_duplicate": len(near)}
    if steps[0].get("keep") is None and steps[0].get("on_fail") is None:
        dropped_ids = {r["id"]: r["reason"] for r in rows if r["action"] == "drop"}
        assert {i for i, r in dropped_ids.items() if r == "exact_duplicate"} == exact
        assert {i for i, r in dropped_ids.items() if r == "near_duplicate"} == near
