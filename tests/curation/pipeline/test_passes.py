"""The pass runner against the Executor interface: another executor plugs in, and gets what the interface promises."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from curatune.curation.pipeline import Pipeline, PipelineStep, Sink, run_segment
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP, Drop, Filter


class ListSink(Sink):
    def __init__(self):
        self.kept, self.dropped, self.events = [], [], []

    def keep(self, rec):
        self.kept.append(rec.id)

    def drop(self, item, event):
        self.dropped.append((item.id, event.step, event.reason))

    def event(self, event):
        self.events.append((event.id, event.step, event.action, event.reason))


class InOrder:
    """An executor of its own: every batch in this process, in order, with a log of what it was asked."""

    def __init__(self, log: list):
        self.log = log

    def start(self, plan):
        self.log.append("start")
        for p in plan.passes:
            for ps in p.segment:
                ps.step.setup()

    def map_pass(self, p, batches):
        self.log.append(f"pass {p.index}")
        for batch in batches:
            yield run_segment(p.segment, batch, p.prepare)

    def finishes_chain(self, p):
        return False

    def finish_chain_step(self, p, j):
        raise AssertionError("not asked when finishes_chain says False")

    def close(self):
        self.log.append("close")


class OddOut(Filter):
    name = "test.odd_out"
    reasons = ("odd",)

    def __init__(self, log: list | None = None, fail_at: str | None = None):
        self.log = log
        self.fail_at = fail_at

    def setup(self):
        if self.log is not None:
            self.log.append("setup odd_out")

    def keep(self, rec):
        if rec.id == self.fail_at:
            raise RuntimeError("planted failure")
        return Drop("odd") if int(rec.id[1:]) % 2 else KEEP


def records() -> list[Record]:
    # Even ids pass the filter; among them copies (exact) and a near copy (one word changed).
    rng = random.Random(0)
    vocab = [f"w{j}" for j in range(400)]
    base = [" ".join(rng.sample(vocab, 20)) for _ in range(30)]
    answers = [*base, *base[:6], *(b.rsplit(" ", 1)[0] + " changed" for b in base[6:10])]
    return [
        Record(f"r{2 * i}", messages=[{"role": "user", "content": "Tell me."}, {"role": "assistant", "content": a}])
        for i, a in enumerate(answers)
    ] + [Record(f"r{2 * i + 1}", messages=[{"role": "user", "content": "Odd."}, {"role": "assistant", "content": "odd"}]) for i in range(5)]


def recipe(log: list | None = None, fail_at: str | None = None) -> list[PipelineStep]:
    return [
        PipelineStep(OddOut(log, fail_at)),
        PipelineStep(build_step("dedup.exact", {})),
        PipelineStep(build_step("dedup.minhash", {"threshold": 0.5})),
        PipelineStep(build_step("filter.min_length", {"min_chars": 3})),
    ]


def test_another_executor_gives_the_local_executors_decisions():
    log: list = []
    local, other = ListSink(), ListSink()
    one = Pipeline(recipe(), batch_size=4).run(records(), local)
    two = Pipeline(recipe(log), batch_size=4, executor=InOrder(log)).run(records(), other)
    assert (other.kept, other.dropped, other.events) == (local.kept, local.dropped, local.events)
    assert (two.input, two.kept, two.dropped) == (one.input, one.kept, one.dropped) == (45, 30, 15)
    assert Counter(reason for _, _, reason in other.dropped) == {"odd": 5, "exact_duplicate": 6, "near_duplicate": 4}
    # Started before any step was set up here, one map_pass per pass in order, closed at the end.
    assert log == ["start", "setup odd_out", "pass 0", "pass 1", "close"]


def test_the_executor_is_closed_after_a_failure():
    log: list = []
    with pytest.raises(RuntimeError, match="planted failure"):
        Pipeline(recipe(log, fail_at="r8"), batch_size=4, executor=InOrder(log)).run(records(), ListSink())
    assert log[-1] == "close"
