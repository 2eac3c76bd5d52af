"""Preference formats beyond the round trips of tests/curation/write: how pairs are held, read errors, the scored-pair
rule, conversions between pair formats, and conversions refused rather than written with nulls."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from curatune.cli import app
from curatune.curation.formats import FORMATS, conversation
from curatune.curation.pairs.build import PairRule, pick_pair
from curatune.curation.preference_formats import split_implicit
from curatune.curation.read.records import Reject, read_records, sniff_preference
from curatune.curation.record import Record
from curatune.curation.write.writers import row_for, write_records
from curatune.errors import RecipeError


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _read(path: Path, **kw) -> list[Record | Reject]:
    return list(read_records(path, **kw))


def test_a_trl_conversational_pair_is_held_as_prompt_messages_and_two_answer_strings(tmp_path):
    row = {
        "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}],
        "chosen": [{"role": "assistant", "content": "Hello, friend."}],
        "rejected": [{"role": "assistant", "content": "Go away."}],
    }
    (rec,) = _read(_jsonl(tmp_path / "p.jsonl", [row]))
    assert isinstance(rec, Record)
    assert rec.messages == row["prompt"] and (rec.chosen, rec.rejected) == ("Hello, friend.", "Go away.")
    assert rec.kind == "preference" and not rec.unpaired
    assert rec.side_messages("rejected") == [*row["prompt"], {"role": "assistant", "content": "Go away."}]


def test_kto_examples_hold_one_side(tmp_path):
    rows = [{"prompt": "Hi", "completion": "Hello!", "label": True}, {"prompt": "Hi", "completion": "Go.", "label": "False"}]
    good, bad = _read(_jsonl(tmp_path / "k.jsonl", rows))
    assert (good.chosen, good.rejected, good.unpaired, good.kind) == ("Hello!", None, True, "preference")
    assert (bad.chosen, bad.rejected, bad.unpaired) == (None, "Go.", True)
    assert conversation(bad) is None and conversation(good)[-1] == {"role": "assistant", "content": "Hello!"}


@pytest.mark.parametrize(
    "row,reason,field",
    [
        (
            {"prompt": "Hi", "chosen": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], "rejected": "c"},
            "multi_turn_answer",
            "chosen",
        ),
        ({"prompt": "Hi", "chosen": "a", "rejected": [{"role": "user", "content": "b"}]}, "multi_turn_answer", "rejected"),
        ({"prompt": "Hi", "completion": "a", "label": "maybe"}, "wrong_type", "label"),
        (
            {"conversations": [{"from": "human", "value": "Hi"}], "chosen": "a", "rejected": {"from": "gpt", "value": "b"}},
            "wrong_type",
            "chosen",
        ),
        ({"chosen": "text", "rejected": [{"role": "assistant", "content": "b"}]}, "wrong_type", "rejected"),
        ({"prompt": "Q", "responses": ["a", "b"], "scores": [2, 2]}, "no_pair", None),
        ({"prompt": "Q", "responses": ["a", "b"], "scores": [2, None]}, "no_pair", None),
        (
            {
                "chosen": [{"role": "user", "content": "A"}, {"role": "assistant", "content": "x"}],
                "rejected": [{"role": "assistant", "content": "y"}],
            },
            "multi_turn_answer",
            "chosen",
        ),
    ],
)
def test_rows_that_cannot_be_a_pair_are_read_drops_with_the_fix(tmp_path, row, reason, field):
    (item,) = _read(_jsonl(tmp_path / "bad.jsonl", [row]))
    assert isinstance(item, Reject) and item.reason == reason, item
    assert "Fix:" in item.detail and (field is None or f"'{field}" in item.detail)


def test_implicit_prompt_split():
    assert split_implicit("The cat sat.", "The car sat.") == 4  # at the word, not inside it ("The ca")
    hh_c, hh_r = "\n\nHuman: Hi\n\nAssistant: Hello there.", "\n\nHuman: Hi\n\nAssistant: Hello? No."
    assert hh_c[: split_implicit(hh_c, hh_r)] == "\n\nHuman: Hi\n\nAssistant:"
    assert split_implicit("same", "same") == 0 and split_implicit("a b", "a b") == 2


def test_implicit_messages_prompt_is_the_shared_turns(tmp_path):
    u = {"role": "user", "content": "2+2?"}
    row = {"chosen": [u, {"role": "assistant", "content": "4"}], "rejected": [u, {"role": "assistant", "content": "4"}]}
    (rec,) = _read(_jsonl(tmp_path / "i.jsonl", [row]))
    # Identical conversations: the prompt stops before the last turn, so the pair is there for pair.same_answers to drop.
    assert rec.messages == [u] and rec.chosen == rec.rejected == "4"


# ---- the rule that makes pairs of scored completions ---------------------------------------------------------


def test_best_vs_random_picks_the_best_and_a_lower_one_deterministically():
    scores = [5.0, 9.0, 9.0, 2.0, None, 7.0]
    rule = PairRule()
    picks = {pick_pair(scores, rule, f"r{i}") for i in range(200)}
    assert {c for c, _ in picks} == {1}  # the best, the first of a tie; never the other 9.0
    assert {r for _, r in picks} == {0, 3, 5}  # every lower-scored one drawn, never the tie nor the unscored
    assert pick_pair(scores, rule, "r7") == pick_pair(scores, rule, "r7")
    assert len({pick_pair(scores, PairRule(seed=s), "r7") for s in range(30)}) > 1


def test_margin_and_worst_rule():
    scores = [5.0, 9.0, 8.5, 2.0]
    assert {pick_pair(scores, PairRule(min_margin=2.0), f"r{i}") for i in range(100)} == {(1, 0), (1, 3)}
    assert pick_pair(scores, PairRule(min_margin=7.5), "r") is None
    assert pick_pair(scores, PairRule(rule="best_vs_worst"), "r") == (1, 3)
    assert pick_pair([3.0, 3.0], PairRule(), "r") is None


def test_the_pair_rule_is_a_setting(tmp_path):
    row = {"id": "u1", "prompt": "Q", "completions": [{"text": t, "rating": s} for t, s in (("a", 1), ("b", 5), ("c", 3))]}
    path = _jsonl(tmp_path / "s.jsonl", [row])
    (worst,) = _read(path, pair_rule=PairRule(rule="best_vs_worst"))
    assert (worst.chosen, worst.rejected) == ("b", "a")
    (item,) = _read(path, pair_rule=PairRule(min_margin=5))
    assert isinstance(item, Reject) and item.reason == "no_pair"


# ---- conversions ------------------------------------------------------------------------------------------------

PROMPT = [{"role": "user", "content": "Name a fruit."}]
KINDS = {
    "chat": Record("c", messages=[*PROMPT, {"role": "assistant", "content": "Mango."}], meta={"source": "in.jsonl", "line": 3}),
    "chat_no_answer": Record("q", messages=PROMPT, meta={"source": "in.jsonl", "line": 4}),
    "pair": Record("p", messages=PROMPT, chosen="Mango.", rejected="Rock.", meta={"source": "in.jsonl", "line": 5}),
    "kto_good": Record("k1", messages=PROMPT, chosen="Mango.", meta={"source": "in.jsonl", "line": 6}),
    "kto_bad": Record("k2", messages=PROMPT, rejected="Rock.", meta={"source": "in.jsonl", "line": 7}),
    "labelled": Record("l", text="great film", label="pos", meta={"source": "in.jsonl", "line": 8}),
    "text": Record("t", text="Once upon a time.", meta={"source": "in.jsonl", "line": 9}),
}
PAIR_FORMATS = ("preference", "preference_implicit", "argilla", "intel", "alpaca_pairs", "sharegpt_pairs")


def _has_null(value) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_writes_a_record_whole_or_refuses_it(fmt, kind):
    """Never a null where a field should be: either a full row, or a refusal naming the record, what it lacks and the fix."""
    rec = KINDS[kind]
    try:
        row = row_for(rec, fmt)
    except RecipeError as e:
        message = e.problems[0]
        assert message.startswith(f"Cannot write in.jsonl line {rec.meta['line']} (id '{rec.id}') as {fmt}: it is ")
        assert "Fix: " in message
        return
    assert not _has_null(row), (fmt, kind, row)
    if fmt == "unpaired":
        assert kind in ("kto_good", "kto_bad")
    elif FORMATS[fmt].preference:
        assert kind == "pair"


@pytest.mark.parametrize("fmt", [*PAIR_FORMATS, "scored"])
def test_pair_formats_refuse_what_is_not_a_pair(fmt):
    for kind in ("chat", "chat_no_answer", "kto_good", "kto_bad", "labelled", "text"):
        with pytest.raises(RecipeError, match="Cannot write"):
            row_for(KINDS[kind], fmt)


def test_answer_formats_refuse_records_without_an_answer():
    for fmt in ("alpaca", "prompt_completion"):
        for kind in ("chat_no_answer", "kto_bad", "text"):
            with pytest.raises(RecipeError, match="no (assistant )?answer"):
                row_for(KINDS[kind], fmt)
    for fmt in ("messages", "sharegpt"):
        with pytest.raises(RecipeError, match="no answer to learn"):
            row_for(KINDS["kto_bad"], fmt)
    with pytest.raises(RecipeError, match="two KTO examples"):
        row_for(KINDS["pair"], "unpaired")


@pytest.mark.parametrize("target", PAIR_FORMATS)
@pytest.mark.parametrize("source", ["preference", "argilla", "intel", "alpaca_pairs", "sharegpt_pairs", "preference_implicit"])
def test_pairs_convert_between_pair_formats(tmp_path, source, target):
    """A pair read from one pair format, written as another and read back: the same prompt and answers."""
    rows = {
        "preference": {"prompt": "Name a fruit.", "chosen": "Mango.", "rejected": "Rock."},
        "argilla": {"instruction": "Name a fruit.", "chosen_response": "Mango.", "rejected_response": "Rock."},
        "intel": {"system": "", "question": "Name a fruit.", "chosen": "Mango.", "rejected": "Rock."},
        "alpaca_pairs": {"instruction": "Name a fruit.", "input": "", "chosen": "Mango.", "rejected": "Rock."},
        "sharegpt_pairs": {
            "conversations": [{"from": "human", "value": "Name a fruit."}],
            "chosen": {"from": "gpt", "value": "Mango."},
            "rejected": {"from": "gpt", "value": "Rock."},
        },
        "preference_implicit": {
            "chosen": [*PROMPT, {"role": "assistant", "content": "Mango."}],
            "rejected": [*PROMPT, {"role": "assistant", "content": "Rock."}],
        },
    }
    (rec,) = _read(_jsonl(tmp_path / "in.jsonl", [rows[source]]))
    write_records([rec], tmp_path / "out.jsonl", fmt=target)
    (back,) = _read(tmp_path / "out.jsonl")
    assert back.meta["format"] == target
    assert (back.messages, back.chosen, back.rejected) == (PROMPT, "Mango.", "Rock.")


def test_a_multi_turn_prompt_is_refused_where_a_format_holds_one_question():
    rec = Record(
        "m",
        messages=[*PROMPT, {"role": "assistant", "content": "Mango."}, {"role": "user", "content": "Another?"}],
        chosen="Kiwi.",
        rejected="No.",
    )
    for fmt in ("argilla", "intel", "alpaca_pairs"):
        with pytest.raises(RecipeError, match="its prompt is 3 turns"):
            row_for(rec, fmt)
    assert row_for(rec, "preference")["prompt"] == rec.messages  # TRL's lists hold it


def test_convert_to_preference_from_instruction_data_is_refused_and_leaves_no_file(tmp_path):
    src = _jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Name a fruit.", "output": "Mango."}])
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(app, ["convert", str(src), "--out", str(out), "--to", "preference"])
    assert result.exit_code == 2
    assert "has no 'chosen' and no 'rejected' answer" in result.output and "Fix:" in result.output
    assert not out.exists()


def test_convert_builds_pairs_of_scored_completions_and_reads_its_own_output(tmp_path):
    rows = [{"id": f"u{i}", "prompt": f"Q{i}", "responses": ["a", "b", "c"], "scores": [1, 3 if i % 2 else 1, 2]} for i in range(4)] + [
        {"id": "tie", "prompt": "Q", "responses": ["a", "b"], "scores": [1, 1]}
    ]
    src = _jsonl(tmp_path / "scored.jsonl", rows)
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(app, ["convert", str(src), "--out", str(out), "--to", "preference", "--pair-rule", "best_vs_worst"])
    assert result.exit_code == 0, result.output
    assert "Wrote 4 records" in result.output and "no_pair" in result.output
    back = _read(out)
    assert [(r.id, r.chosen, r.rejected) for r in back] == [("u0", "c", "a"), ("u1", "b", "a"), ("u2", "c", "a"), ("u3", "b", "a")]
    bad = CliRunner().invoke(app, ["convert", str(src), "--out", str(out), "--pair-rule", "best"])
    assert bad.exit_code == 2 and "--pair-rule" in bad.output


def test_sniffing_preference_data(tmp_path):
    assert sniff_preference(_jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}]))
    assert sniff_preference(_jsonl(tmp_path / "k.jsonl", [{"prompt": "a", "completion": "b", "label": True}]))
    assert not sniff_preference(_jsonl(tmp_path / "a.jsonl", [{"instruction": "a", "output": "b"}]))
    assert not sniff_preference(tmp_path / "missing.jsonl")
