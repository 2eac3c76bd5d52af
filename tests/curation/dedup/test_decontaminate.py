"""dedup.decontaminate: exact drops against a planted eval set (13-gram dropped, 12-gram kept)."""

from __future__ import annotations

import json
import pickle

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP
from curatune.errors import CuratuneError

EVAL_Q = "Describe in detail how the water cycle moves water between the oceans the air and the land every single day"
W = EVAL_Q.lower().split()  # 21 words, no punctuation


@pytest.fixture
def eval_files(tmp_path):
    """Two eval files in two formats: Alpaca JSONL and OpenAI-style messages JSONL."""
    alpaca = tmp_path / "eval_alpaca.jsonl"
    rows = [
        {"id": "wc-1", "instruction": EVAL_Q, "input": "", "output": "Evaporation, condensation, precipitation."},
        {"id": "col-2", "instruction": "Name three primary colors.", "input": "", "output": "Red, yellow and blue."},
    ]
    alpaca.write_text("".join(json.dumps(r) + "\n" for r in rows))
    chat = tmp_path / "eval_chat.jsonl"
    answer = "The mitochondria is the powerhouse of the cell because it produces most of the chemical energy a cell needs"
    messages = [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": answer}]
    chat.write_text(json.dumps({"id": "bio-7", "messages": messages}) + "\n")
    return tmp_path


def chat(rid: str, user: str, answer: str = "Okay.") -> Record:
    return Record(rid, messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


def step_for(eval_files, **params):
    step = build_step("dedup.decontaminate", {"eval_paths": [str(eval_files / "*.jsonl")], **params})
    step.setup()
    return step


def test_13_gram_overlap_dropped_12_gram_kept(eval_files):
    step = step_for(eval_files)
    assert step.eval_records == 3
    # W[2:15] is 13 words; neighbours chosen so that the overlap cannot grow.
    thirteen = chat("t13", "Please, " + " ".join(W[2:15]).upper() + "!!! Thanks.")
    twelve = chat("t12", "Please " + " ".join(W[2:14]) + " thanks")
    v = step.keep(thirteen)
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "eval_ngram_overlap", 1, 1)
    assert v.detail == f"eval_file={eval_files / 'eval_alpaca.jsonl'}; eval_id=wc-1; shared=1; eval_records_matched=1; n=13"
    assert step.keep(twelve) == KEEP


def test_whole_question_copied_counts_every_shared_ngram(eval_files):
    v = step_for(eval_files).keep(chat("copy", EVAL_Q + "?"))
    assert (v.reason, v.value) == ("eval_ngram_overlap", len(W) - 13 + 1)


def test_answer_side_overlap_names_the_chat_eval_file(eval_files):
    answer = "Well: the mitochondria is the powerhouse of the cell because it produces most of the energy."
    rec = chat("bio", "Tell me about cells.", answer)
    v = step_for(eval_files).keep(rec)
    assert v.reason == "eval_ngram_overlap"
    assert v.detail.startswith(f"eval_file={eval_files / 'eval_chat.jsonl'}; eval_id=bio-7;")
    assert step_for(eval_files, fields="prompt").keep(rec) == KEEP
    assert step_for(eval_files, fields="response").keep(rec).reason == "eval_ngram_overlap"


def test_short_texts_match_exactly_when_long_enough(eval_files):
    step = step_for(eval_files)
    v = step.keep(chat("s", "name three PRIMARY colors"))
    assert (v.reason, v.value, v.detail) == ("eval_exact_match", 4, f"eval_file={eval_files / 'eval_alpaca.jsonl'}; eval_id=col-2")
    assert step.keep(chat("s2", "Name three primary colours.")) == KEEP
    assert step.keep(chat("why", "Why?")) == KEEP  # one word: below exact_min_words
    assert step_for(eval_files, short_text_exact=False).keep(chat("s", "name three PRIMARY colors")) == KEEP


def test_n_and_min_matches_are_configurable(eval_files):
    eight = chat("t8", "so " + " ".join(W[3:11]) + " ok")
    assert step_for(eval_files).keep(eight) == KEEP
    assert step_for(eval_files, n=8).keep(eight).reason == "eval_ngram_overlap"
    two = chat("t14", "so " + " ".join(W[0:14]) + " ok")  # 2 shared 13-grams
    assert step_for(eval_files, min_matches=3).keep(two) == KEEP
    assert step_for(eval_files, min_matches=2).keep(two).value == 2


def test_text_and_preference_records(eval_files):
    step = step_for(eval_files)
    assert step.keep(Record("t", text="Notes: " + EVAL_Q)).reason == "eval_ngram_overlap"
    pref = Record("p", messages=[{"role": "user", "content": "Explain."}], chosen="fine", rejected=EVAL_Q)
    assert step.keep(pref).reason == "eval_ngram_overlap"
    assert step_for(eval_files, fields="response").keep(pref) == KEEP  # rejected is not the response


def test_no_eval_paths_keeps_everything(caplog):
    step = build_step("dedup.decontaminate", {})
    step.setup()
    assert step.keep(chat("a", EVAL_Q)) == KEEP
    assert "no eval_paths" in caplog.text


def test_missing_eval_file_is_an_error_naming_it(tmp_path):
    step = build_step("dedup.decontaminate", {"eval_paths": [str(tmp_path / "nope.jsonl")]})
    with pytest.raises(CuratuneError, match="nope.jsonl"):
        step.setup()


def test_picklable_before_setup(eval_files):
    step = build_step("dedup.decontaminate", {"eval_paths": [str(eval_files / "eval_alpaca.jsonl")]})
    clone = pickle.loads(pickle.dumps(step))
    clone.setup()  # as a worker process does
    assert clone.keep(chat("c", EVAL_Q)).reason == "eval_ngram_overlap"


@pytest.mark.parametrize("text", ["plain ascii words " * 6, "café déjà vu naïve façade " * 4, "数据 清洗 " * 10])
def test_ngram_hashes_equal_hashes_of_joined_windows(text):
    import xxhash

    from curatune.curation.dedup.decontaminate import ngram_hashes, words

    ws = words(text)
    naive = [xxhash.xxh3_64_intdigest(" ".join(ws[i : i + 13]).encode()) for i in range(len(ws) - 12)]
    assert ngram_hashes(ws, 13) == naive and len(naive) == len(ws) - 12
