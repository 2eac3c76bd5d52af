"""The plan alone: which steps run in which pass, and which global steps share one."""

from __future__ import annotations

import pytest

from curatune.config.recipe import default_steps
from curatune.curation.pipeline.plan import PipelineStep, plan_passes
from curatune.curation.registry import build_step
from curatune.curation.step import GlobalStep, Verdict


def steps(*specs: str | tuple[str, dict]) -> list[PipelineStep]:
    out = []
    for spec in specs:
        name, params = spec if isinstance(spec, tuple) else (spec, {})
        out.append(PipelineStep(build_step(name, params)))
    return out


def names(pss) -> list[str]:
    return [ps.step.name for ps in pss]


def test_default_recipe_runs_in_two_passes_with_both_dedup_steps_in_the_first():
    recipe = [PipelineStep(build_step(sc.step, sc.params), sc.on_fail) for sc in default_steps()]
    streaming = [ps for ps in recipe if not isinstance(ps.step, GlobalStep)]
    first, last = plan_passes(recipe).passes
    # Exact dedup keeping the first copy decides on observing, so MinHash observes the survivors in the same pass.
    assert names(first.segment) == names(streaming)
    assert names(first.chain) == ["dedup.exact", "dedup.minhash"] and first.decided_by is None
    # The last pass only asks MinHash, by id: the first pass may spool its survivors encoded.
    assert (last.segment, last.chain, last.decided_by) == ((), (), first.chain[-1])
    assert first.next_decides_by_id and not last.has_record_work()


def test_exact_dedup_keeping_the_longest_takes_a_pass_of_its_own():
    plan = plan_passes(steps("filter.empty_answer", ("dedup.exact", {"keep": "longest"}), "dedup.minhash"))
    assert [(names(p.segment), names(p.chain)) for p in plan.passes] == [
        (["filter.empty_answer"], ["dedup.exact"]),
        ([], ["dedup.minhash"]),
        ([], []),
    ]
    assert [names([p.decided_by]) if p.decided_by else None for p in plan.passes] == [None, ["dedup.exact"], ["dedup.minhash"]]
    # Only the pass before the last spools encoded; a pass between two global steps has per-record work only
    # when the second one prepares state in the workers (MinHash signatures).
    assert [p.next_decides_by_id for p in plan.passes] == [False, True, False]
    assert [p.has_record_work() for p in plan.passes] == [True, True, False]


def test_a_streaming_step_between_global_steps_starts_a_new_pass():
    plan = plan_passes(steps("dedup.exact", "filter.empty_answer", "dedup.minhash", "filter.min_length"))
    assert [(names(p.segment), names(p.chain)) for p in plan.passes] == [
        ([], ["dedup.exact"]),
        (["filter.empty_answer"], ["dedup.minhash"]),
        (["filter.min_length"], []),
    ]
    # The last pass runs a filter, so nothing is spooled encoded.
    assert not any(p.next_decides_by_id for p in plan.passes)
    assert plan.segments == [[], [plan.steps[1]], [plan.steps[3]]] and plan.globals == [[plan.steps[0]], [plan.steps[2]]]


def test_a_recipe_without_global_steps_is_one_pass():
    plan = plan_passes(steps("filter.empty_answer", "filter.min_length"))
    (only,) = plan.passes
    assert names(only.segment) == ["filter.empty_answer", "filter.min_length"] and only.chain == () and only.decided_by is None
    assert plan.globals == [] and plan.global_steps == []


class Tally(GlobalStep):
    """A global step with no prepare of its own, deciding by more than the id."""

    name = "test.tally"

    def observe(self, rec, prepared):
        pass

    def decide(self, rec):
        return Verdict("keep")


@pytest.mark.parametrize("by_id", [False, True])
def test_encoded_spool_only_when_the_last_step_decides_by_id(monkeypatch, by_id):
    monkeypatch.setattr(Tally, "decides_by_id", by_id)
    first, last = plan_passes([*steps("filter.empty_answer"), PipelineStep(Tally())]).passes
    assert first.next_decides_by_id is by_id
    # Between two passes with nothing to run per record, the batches stay in the main process.
    assert first.has_record_work() and not last.has_record_work()
    assert [g.name for g in first.prepare] == ["test.tally"] and last.prepare == []
