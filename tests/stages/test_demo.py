"""curatune demo, end to end on a tiny model: the planted junk curated away, both runs trained and evaluated.

The demo is conftest's session fixture ``demo``, shared with test_compare.py and tests/report/test_report.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from curatune.stages.demo import QUICK


def truth(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_demo_curates_exactly_the_planted_junk_and_trains_both_runs(demo):
    junk = {
        t["id"] for t in truth(demo.out / "data" / "train.truth.jsonl") if t["noise"] in ("refusal", "placeholder", "empty", "duplicate")
    }
    raw, curated = demo.comparison["runs"]
    assert raw["funnel"]["dropped"] == 0
    assert curated["funnel"]["dropped"] >= len(junk)
    kept = {json.loads(line)["id"] for line in (demo.out / "runs" / "curated" / "data" / "kept.jsonl").read_text().splitlines()}
    assert not kept & junk
    for run in ("raw", "curated"):
        summary = json.loads((demo.out / "runs" / run / "train" / "summary.json").read_text())
        assert summary["steps"] == QUICK["max_steps"]
        metrics = json.loads((demo.out / "runs" / run / "eval" / "metrics.json").read_text())
        assert metrics["n"] == QUICK["n_test"] and "exact_match" in metrics["metrics"]
