"""Audit counts against the generator's planted ground truth."""

from __future__ import annotations

from collections import Counter

import orjson

from curatune.audit import run_audit
from curatune.generate import generate_noisy


def test_audit_counts_match_planted_defects(tmp_path):
    data = tmp_path / "noisy.jsonl"
    gen = generate_noisy(data, n=1200, defect_rate=0.25, seed=11)
    truth = [orjson.loads(line) for line in gen.truth_path.read_bytes().splitlines()]
    malformed = [t for t in truth if t["defect"] == "malformed"]

    report = run_audit(str(data), tmp_path / "audit", tokenizer=None, languages=False, preview_records=0)

    # every planted malformed line, by reason and by exact line number
    assert report["parse"]["total"] == len(malformed)
    assert report["parse"]["reasons"] == dict(Counter(t["detail"] for t in malformed))
    reported_lines = {ex["line"] for examples in report["parse"]["examples"].values() for ex in examples}
    assert reported_lines == {t["line"] for t in malformed}
    # every readable line is a record
    assert report["records"] == gen.n_lines - len(malformed)
    # empty answers are exactly the planted ones
    assert report["empty_fields"]["fields"] == {"assistant": gen.counts["empty_answer"]}
    # exact duplicates of whole records are exactly the planted ones
    assert report["duplicates"]["record"]["duplicates"] == gen.counts["exact_duplicate"]
