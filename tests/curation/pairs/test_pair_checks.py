"""The pair checks on hand-labelled pairs: exact verdicts, the tricky keeps, and the global steps' decisions."""

from __future__ import annotations

import json

import pytest

from curatune.curation.pairs.contradiction import Contradiction
from curatune.curation.pairs.length import LengthBalance, drops_to_reach
from curatune.curation.record import Record
from curatune.curation.registry import build_step

ANSWER = (
    "Bring a pot of water to the boil, lower the egg in with a spoon, and keep it at a gentle boil for nine "
    "minutes. Then cool it under cold water for a minute so that the shell comes away cleanly."
)


def pair(prompt: str, chosen: str | None, rejected: str | None, rid: str = "p") -> Record:
    return Record(rid, messages=[{"role": "user", "content": prompt}], chosen=chosen, rejected=rejected)


def verdict(step: str, rec: Record, **params) -> tuple[str, str | None]:
    s = build_step(step, params)
    s.setup()
    v = s.keep(rec)
    return v.action, v.reason


# ---- pair.same_answers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chosen,rejected,reason",
    [
        ("Paris.", "Paris.", "identical_pair"),
        ("The capital is  Paris.", "the capital is paris.", "identical_pair"),  # case and spacing
        (ANSWER, ANSWER.replace(",", "").replace(".", "!"), "near_identical_pair"),  # punctuation only
        (ANSWER, ANSWER.replace("nine", "ten"), "near_identical_pair"),  # one word in 37
        ("Paris is the capital.", "Lyon is the capital.", None),  # one word in four: a real preference
        (ANSWER, "Put the egg in a microwave for two minutes.", None),
        ("", "", "identical_pair"),
    ],
)
def test_same_answers(chosen, rejected, reason):
    assert verdict("pair.same_answers", pair("How?", chosen, rejected)) == (("drop", reason) if reason else ("keep", None))


def test_same_answers_threshold_and_kto():
    almost = pair("How?", ANSWER, ANSWER.replace("nine", "ten"))
    assert verdict("pair.same_answers", almost, min_similarity=0.99) == ("keep", None)
    assert verdict("pair.same_answers", pair("How?", ANSWER, None)) == ("keep", None)


# ---- pair.shared_prefix ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chosen,rejected,reason",
    [
        (ANSWER, ANSWER[: len(ANSWER) // 2], "long_shared_prefix"),  # the rejected side is the chosen one cut in half
        (ANSWER, ANSWER + " Also, eggs are tasty and cheap.", "long_shared_prefix"),  # the same with a tail added
        (
            "Sure! Here is a function that adds two numbers: def add(a, b): return a + b",
            "Sure! Here is a function that adds two numbers: lambda a, b: a - b, which you can call as add(1, 2)",
            None,  # ten shared words, but under 80% of the shorter side
        ),
        ("Yes, it is.", "Yes, it is not.", None),  # a short pair: too few words to judge
        (ANSWER, "Microwave it.", None),
    ],
)
def test_shared_prefix(chosen, rejected, reason):
    assert verdict("pair.shared_prefix", pair("How?", chosen, rejected)) == (("drop", reason) if reason else ("keep", None))


# ---- pair.empty_side and pair.refusal ---------------------------------------------------------------------

REFUSAL = "I'm sorry, but I cannot help with that request."
HARMFUL = "Tell me how to make a bomb at home."


@pytest.mark.parametrize(
    "chosen,rejected,reason",
    [
        ("", ANSWER, "empty_chosen"),
        (ANSWER, "   ", "empty_rejected"),
        ("N/A", ANSWER, "placeholder_chosen"),
        (ANSWER, "<nooutput>", "placeholder_rejected"),
        (ANSWER, "Microwave it.", None),
        (ANSWER, "No.", None),  # a short answer is not a placeholder
    ],
)
def test_empty_side(chosen, rejected, reason):
    assert verdict("pair.empty_side", pair("How do I boil an egg?", chosen, rejected)) == (("drop", reason) if reason else ("keep", None))


@pytest.mark.parametrize(
    "prompt,chosen,rejected,reason",
    [
        ("How do I boil an egg?", REFUSAL, ANSWER, "chosen_refuses_harmless"),  # teaches over-refusal
        ("How do I boil an egg?", ANSWER, REFUSAL, None),  # helpful over refusal: how over-refusal is trained away
        (HARMFUL, REFUSAL, "First get a pipe and some powder.", None),  # the refusal is the right answer
        (HARMFUL, "First get a pipe and some powder.", REFUSAL, "rejected_refuses_harmful"),  # teaches compliance
        (HARMFUL, REFUSAL, "I cannot help with that, sorry.", None),  # both refuse: nothing wrong learnt
        ("How do I boil an egg?", ANSWER, "Microwave it for two minutes.", None),
    ],
)
def test_refusal_judged_against_the_prompt(prompt, chosen, rejected, reason):
    assert verdict("pair.refusal", pair(prompt, chosen, rejected)) == (("drop", reason) if reason else ("keep", None))


def test_sides_of_kto_examples():
    assert verdict("pair.refusal", pair("How do I boil an egg?", None, REFUSAL)) == ("keep", None)  # an undesirable refusal: right
    assert verdict("pair.refusal", pair("How do I boil an egg?", REFUSAL, None)) == ("drop", "chosen_refuses_harmless")
    assert verdict("pair.refusal", pair(HARMFUL, None, REFUSAL)) == ("drop", "rejected_refuses_harmful")
    assert verdict("pair.empty_side", pair("How do I boil an egg?", None, "")) == ("drop", "empty_rejected")


def test_refusal_names_the_side_and_reads_the_prompt_only():
    s = build_step("pair.refusal")
    s.setup()
    v = s.keep(pair("How do I boil an egg?", REFUSAL, ANSWER))
    assert v.detail.startswith("chosen: ") and "passes the harm check" in v.detail
    # Harm in an answer does not make the prompt harmful: the refusal chosen for a harmless prompt still goes.
    assert s.keep(pair("How do I boil an egg?", REFUSAL, "Make a bomb instead.")).reason == "chosen_refuses_harmless"
    # A threshold no prompt reaches: every refusal chosen is judged a refusal of a harmless prompt.
    strict = build_step("pair.refusal", {"harm_threshold": 100})
    strict.setup()
    assert strict.keep(pair(HARMFUL, REFUSAL, "First get a pipe.")).reason == "chosen_refuses_harmless"


def test_pair_checks_pass_records_that_are_not_pairs():
    chat = Record("c", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}])
    for step in ("pair.empty_side", "pair.refusal", "pair.same_answers", "pair.shared_prefix"):
        assert verdict(step, chat) == ("keep", None)


# ---- pair.contradiction -----------------------------------------------------------------------------------


def decide_all(step, recs: list[Record]) -> dict[str, tuple[str | None, str | None]]:
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: (v.reason, v.duplicate_of) for r in recs if not (v := step.decide(r)).kept}


def test_contradicting_pairs_are_dropped_both_ways():
    recs = [
        pair("Best fruit?", "Mango.", "Rock.", "a"),
        pair("best fruit?", "rock.", "mango.", "b"),  # the same pair, swapped (normalised: case)
        pair("Best fruit?", "Mango.", "Kiwi.", "c"),  # another pair for the same prompt: fine
        pair("Best stone?", "Rock.", "Mango.", "d"),  # the same answers, another prompt: fine
        pair("Best fruit?", "Mango.", "Rock.", "e"),  # agrees with a
        pair("Same?", "x", "x", "f"),  # identical sides: not a contradiction (pair.same_answers)
        pair("Hi", "Hello", None, "g"),  # KTO: desirable ...
        pair("Hi", None, "hello", "h"),  # ... and undesirable, the same completion
    ]
    got = decide_all(Contradiction(), recs)
    assert got == {
        "a": ("contradicting_pair", "b"),
        "b": ("contradicting_pair", "a"),
        "e": ("contradicting_pair", "b"),
        "g": ("contradicting_pair", "h"),
        "h": ("contradicting_pair", "g"),
    }
    majority = decide_all(Contradiction(resolve="majority"), recs)
    assert majority == {"b": ("outvoted_pair", "a"), "g": ("contradicting_pair", "h"), "h": ("contradicting_pair", "g")}


def test_contradictions_artifact(tmp_path):
    step = Contradiction()
    decide_all(step, [pair("Q", "A", "B", "a"), pair("Q", "B", "A", "b")])
    assert step.write_artifacts(tmp_path) == ["artifacts/contradicting_pairs.jsonl"]
    assert json.loads((tmp_path / "contradicting_pairs.jsonl").read_text()) == {"ids": ["a", "b"], "votes": [1, 1], "kept": []}


# ---- pair.length_balance ----------------------------------------------------------------------------------


def test_drops_to_reach():
    assert drops_to_reach(70, 100, 0.5) == 40  # (70 - 40) / (100 - 40) = 0.5
    assert drops_to_reach(70, 100, 0.7) == 0
    assert drops_to_reach(71, 100, 0.7) == 4  # 67 / 96 = 0.698
    assert drops_to_reach(5, 10, 0.0) == 5 and drops_to_reach(0, 0, 0.5) == 0


def length_set() -> list[Record]:
    # 8 pairs with the longer answer chosen (ratios 2 to 9), 2 with it rejected, 1 of equal length, 1 KTO example.
    recs = [pair("Q", "w " * (2 + i), "w", f"long{i}") for i in range(8)]
    recs += [pair("Q", "w", "w w w", f"short{i}") for i in range(2)]
    recs += [pair("Q", "a b", "c d", "same"), pair("Q", "w " * 20, None, "kto")]
    return recs


def test_length_bias_is_reported_and_nothing_dropped_by_default(tmp_path):
    step = LengthBalance()
    assert decide_all(step, length_set()) == {}
    step.write_artifacts(tmp_path)
    report = json.loads((tmp_path / "length_bias.json").read_text())
    assert {k: report[k] for k in ("pairs", "chosen_longer", "chosen_shorter", "same_length", "share_chosen_longer", "dropped")} == {
        "pairs": 11,
        "chosen_longer": 8,
        "chosen_shorter": 2,
        "same_length": 1,
        "share_chosen_longer": 0.8,
        "dropped": 0,
    }


def test_length_balance_drops_the_most_length_biased_pairs_first(tmp_path):
    step = LengthBalance(max_chosen_longer=0.5)
    got = decide_all(step, length_set())
    # (8 - k) / (10 - k) <= 0.5  ->  k = 6: the six largest chosen/rejected ratios (long7 .. long2).
    assert sorted(got) == [f"long{i}" for i in range(2, 8)] and {r for r, _ in got.values()} == {"length_bias"}
    assert step.report()["share_chosen_longer_after"] == 0.5
    chars = LengthBalance(max_chosen_longer=0.5, unit="chars")
    assert len(decide_all(chars, length_set())) == 6
