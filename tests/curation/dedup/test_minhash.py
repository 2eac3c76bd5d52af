"""dedup.minhash: planted near duplicates are found and point at the right kept record; nothing else is dropped."""

from __future__ import annotations

import pickle
import random

import numpy as np
import orjson
import pytest

from curatune.curation.dedup.lsh import candidate_pairs, optimal_bands
from curatune.curation.dedup.minhash import MinHashDedup
from curatune.curation.dedup.shingle import char_shingle_hashes, chars, exact_jaccard, shingle_hashes, words
from curatune.curation.ledger import Event
from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP
from curatune.errors import RecipeError

VOCAB = [f"w{i}" for i in range(2000)]


def text(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def edit(t: str, rng: random.Random, k: int = 2) -> str:
    """``k`` words replaced by words outside the vocabulary: a near duplicate (3-gram Jaccard about 0.8)."""
    toks = t.split()
    for j, pos in enumerate(rng.sample(range(len(toks)), k)):
        toks[pos] = f"new{j}"
    return " ".join(toks)


def chat(rid: str, prompt: str, answer: str, **meta) -> Record:
    return Record(rid, messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], meta=dict(meta))


def run_step(step: MinHashDedup, recs: list[Record]) -> dict[str, object]:
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: step.decide(r) for r in recs}


def dropped(verdicts: dict) -> dict[str, str]:
    return {i: v.duplicate_of for i, v in verdicts.items() if v is not KEEP}


@pytest.fixture
def planted() -> tuple[list[Record], dict[str, str]]:
    """30 unrelated records, and after them a near copy (2 words changed) of every third one."""
    rng = random.Random(7)
    originals = [chat(f"o{i}", text(rng, 12), text(rng, 48)) for i in range(30)]
    copies, truth = [], {}
    for i in range(0, 30, 3):
        o = originals[i]
        copies.append(chat(f"c{i}", o.prompt_text, edit(o.response_text, rng)))
        truth[f"c{i}"] = o.id
    return originals + copies, truth


def test_planted_near_duplicates_are_dropped_pointing_at_their_original(planted):
    recs, truth = planted
    step = MinHashDedup(verify="signature")
    verdicts = run_step(step, recs)
    assert dropped(verdicts) == truth
    for cid in truth:
        v = verdicts[cid]
        assert v.reason == "near_duplicate" and v.threshold == 0.7
        assert 0.7 <= v.value <= 1.0
    # the estimate tracks the exact shingle Jaccard of the pair
    by_id = {r.id: r for r in recs}
    for cid, oid in truth.items():
        exact = exact_jaccard(by_id[cid].all_text, by_id[oid].all_text, 3)
        assert abs(verdicts[cid].value - exact) < 0.12


def test_unrelated_and_weakly_related_records_are_kept():
    rng = random.Random(3)
    base = text(rng, 60)
    recs = [Record(f"u{i}", text=text(rng, 60)) for i in range(40)]
    # same first half, different second half: 3-gram Jaccard about 0.45, below the threshold
    recs.append(Record("half", text=" ".join(base.split()[:30] + text(rng, 30).split())))
    recs.append(Record("base", text=base))
    assert exact_jaccard(recs[-1].text, recs[-2].text, 3) < 0.5
    assert dropped(run_step(MinHashDedup(), recs)) == {}


def _cluster() -> list[Record]:
    rng = random.Random(11)
    t = text(rng, 60)
    return [
        chat("a", "Question", t, scores={"q": 0.2}),
        chat("b", "Question", edit(t, rng) + " and two more", scores={"q": 0.9}),  # longest
        chat("c", "Question", edit(t, rng), scores={"q": 0.5}),
        chat("z", "Other", text(rng, 60), scores={"q": 1.0}),
    ]


@pytest.mark.parametrize(
    ("keep", "score_key", "expected"),
    [
        ("first", None, {"b": "a", "c": "a"}),
        ("longest", None, {"a": "b", "c": "b"}),
        ("quality", "q", {"a": "b", "c": "b"}),
        ("quality", "missing", {"b": "a", "c": "a"}),  # no record has the score: the earliest stays
    ],
)
def test_keep_policies(keep, score_key, expected):
    assert dropped(run_step(MinHashDedup(keep=keep, score_key=score_key), _cluster())) == expected


def test_quality_prefers_highest_score_even_when_later():
    recs = _cluster()
    recs[2].meta["scores"]["q"] = 5.0
    assert dropped(run_step(MinHashDedup(keep="quality", score_key="q"), recs)) == {"a": "c", "b": "c"}


def test_fields_prompt_and_response():
    rng = random.Random(5)
    p, a = text(rng, 60), text(rng, 60)  # 2 words changed in 60: 3-gram Jaccard about 0.8
    recs = [
        chat("same-prompt-1", p, a),
        chat("same-prompt-2", p, text(rng, 40)),  # same prompt, different answer
        chat("same-answer", text(rng, 40), edit(a, rng)),  # different prompt, near-same answer
    ]
    assert dropped(run_step(MinHashDedup(fields="prompt"), recs)) == {"same-prompt-2": "same-prompt-1"}
    assert dropped(run_step(MinHashDedup(fields="response"), recs)) == {"same-answer": "same-prompt-1"}
    assert dropped(run_step(MinHashDedup(fields="record"), recs)) == {}


def test_short_texts_shorter_than_the_ngram():
    recs = [
        Record("s1", text="Hello there"),
        Record("s2", text="hello,   THERE!"),  # same words after normalisation
        Record("s3", text="Hello friend"),
        Record("s4", text="Yes"),
        Record("s5", text="yes."),
        Record("e1", text=""),
        Record("e2", text="  "),
    ]
    assert dropped(run_step(MinHashDedup(ngram=5), recs)) == {"s2": "s1", "s5": "s4", "e2": "e1"}


def test_shingles():
    assert words("Hello, World!  It's   NFKC: ﬁne") == [b"hello", b"world", b"it", b"s", b"nfkc", b"fine"]
    h = shingle_hashes("a b c d e", 3)
    assert h.dtype == np.uint32 and h.shape == (3,)
    assert shingle_hashes("a b", 3).shape == (1,)
    assert exact_jaccard("a b c d", "a b c d", 3) == 1.0
    assert exact_jaccard("a b c d", "a b c x", 3) == pytest.approx(1 / 3)


def test_deterministic_and_picklable(planted):
    recs, _ = planted
    step = MinHashDedup()
    again = pickle.loads(pickle.dumps(step))
    assert all(step.prepare(r) == again.prepare(r) for r in recs)
    assert run_step(MinHashDedup(), recs) == run_step(MinHashDedup(), recs)
    # the rensa kernel finds the same duplicates
    assert dropped(run_step(MinHashDedup(backend="rensa"), recs)) == dropped(run_step(MinHashDedup(), recs))


def test_band_parameters_match_datasketch():
    # datasketch.lsh._optimal_param(threshold, 128, 0.5, 0.5)
    assert optimal_bands(0.7, 128) == (14, 9)
    assert optimal_bands(0.75, 128) == (11, 11)
    assert optimal_bands(0.8, 128) == (9, 13)
    # the step weighs misses 9 to 1, since it verifies every candidate
    assert MinHashDedup(threshold=0.7).band_params == optimal_bands(0.7, 128, 0.1, 0.9) == (20, 6)
    assert MinHashDedup(bands=16, rows=8).band_params == (16, 8)


def test_candidate_pairs_star_per_bucket():
    m = np.array([[5, 1], [7, 2], [5, 3], [5, 2], [9, 9]], dtype=np.uint64)
    a, b = candidate_pairs(m)
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 2), (0, 3), (1, 3)]


def test_bad_parameters_name_the_fix():
    with pytest.raises(RecipeError, match="score_key"):
        build_step("dedup.minhash", {"keep": "quality"})
    with pytest.raises(RecipeError, match="bands"):
        MinHashDedup(bands=10)
    with pytest.raises(RecipeError, match="num_perm"):
        MinHashDedup(bands=20, rows=10)
    with pytest.raises(RecipeError, match="threshold"):
        build_step("dedup.minhash", {"threshold": 1.5})


class ListSink(Sink):
    def __init__(self):
        self.kept: list[str] = []
        self.dropped: list[str] = []
        self.events: list[Event] = []

    def keep(self, rec):
        self.kept.append(rec.id)

    def drop(self, item, event):
        self.dropped.append(item.id)

    def event(self, event):
        self.events.append(event)


def test_pipeline_ledger_rows_and_artifact(planted, tmp_path):
    recs, truth = planted
    for i, r in enumerate(recs):
        r.meta.update(source="planted.jsonl", line=i + 1)
    step = MinHashDedup(verify="signature")
    expected_values = {}
    probe = MinHashDedup(verify="signature")
    for cid, oid in truth.items():
        a = np.frombuffer(probe.prepare(next(r for r in recs if r.id == cid))[1], dtype=np.uint16)
        b = np.frombuffer(probe.prepare(next(r for r in recs if r.id == oid))[1], dtype=np.uint16)
        expected_values[cid] = round(float((a == b).mean()), 4)

    sink = ListSink()
    result = Pipeline([PipelineStep(step, on_fail="drop")], workers=1, batch_size=4).run(
        [Record.from_dict(r.to_dict()) for r in recs], sink
    )
    assert (result.input, result.kept, result.dropped) == (40, 30, 10)
    line = {r.id: i + 1 for i, r in enumerate(recs)}
    assert sink.events == [
        Event(cid, "planted.jsonl", line[cid], "dedup.minhash", "drop", "near_duplicate", expected_values[cid], 0.7, oid, None)
        for cid, oid in truth.items()
    ]
    assert sink.kept == [f"o{i}" for i in range(30)]

    assert step.write_artifacts(tmp_path) == ["artifacts/near_duplicate_clusters.jsonl"]
    rows = [orjson.loads(x) for x in (tmp_path / "near_duplicate_clusters.jsonl").read_bytes().splitlines()]
    assert rows == [{"kept": oid, "duplicates": [cid], "jaccard": [expected_values[cid]]} for cid, oid in truth.items()]


def test_on_fail_flag_keeps_everything(planted):
    recs, truth = planted
    sink = ListSink()
    result = Pipeline([PipelineStep(MinHashDedup(), on_fail="flag")], workers=1).run(recs, sink)
    assert (result.kept, result.dropped) == (40, 0)
    assert {e.id: e.duplicate_of for e in sink.events if e.action == "flag"} == truth


def test_empty_and_single_input():
    assert run_step(MinHashDedup(), []) == {}
    assert run_step(MinHashDedup(), [Record("only", text="a b c d")]) == {"only": KEEP}


@pytest.mark.parametrize("params", [{}, {"shingle": "char", "threshold": 0.9}], ids=["word3-default", "char3-0.9"])
def test_generator_planted_near_duplicates_recall(tmp_path, params):
    generate = pytest.importorskip("curatune.generate")
    from curatune.curation.read.records import read_records

    path = tmp_path / "noisy.jsonl"
    generate.generate_noisy(path, n=2000, defect_rate=0.3, fmt="alpaca", seed=0)
    truth = [orjson.loads(x) for x in generate.truth_path_for(path).read_bytes().splitlines()]
    recs = [r for r in read_records([str(path)], "auto") if isinstance(r, Record)]
    verdicts = run_step(MinHashDedup(**params), recs)
    for kind, floor in (("near_duplicate", 0.9), ("exact_duplicate", 1.0)):
        items = [t for t in truth if t["defect"] == kind]
        hits = sum(1 for t in items if verdicts[t["id"]] is not KEEP and verdicts[t["id"]].duplicate_of == t["duplicate_of"])
        assert items and hits / len(items) >= floor, f"{kind}: {hits}/{len(items)}"
    # and no record planted as clean is taken for a duplicate
    assert [t["id"] for t in truth if t["defect"] == "clean" and verdicts[t["id"]] is not KEEP] == []


# ---- shingle: char ---------------------------------------------------------------------------------


def word_text(rng: random.Random, n: int = 60) -> str:
    """Random lowercase words (3 to 9 letters): unrelated texts share few character 3-grams."""
    return " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(n))


def typos(t: str, rng: random.Random, k: int = 6) -> str:
    """One letter changed in each of ``k`` words: a near copy for characters, not for word 3-grams."""
    toks = t.split()
    for pos in rng.sample(range(len(toks)), k):
        w = toks[pos]
        i = rng.randrange(len(w))
        toks[pos] = w[:i] + ("z" if w[i] != "z" else "y") + w[i + 1 :]
    return " ".join(toks)


@pytest.fixture
def typo_copies() -> tuple[list[Record], dict[str, str]]:
    """30 unrelated texts, and after them a copy with 6 one-letter typos of every third one."""
    rng = random.Random(13)
    originals = [Record(f"o{i}", text=word_text(rng)) for i in range(30)]
    copies, truth = [], {}
    for i in range(0, 30, 3):
        copies.append(Record(f"c{i}", text=typos(originals[i].text, rng)))
        truth[f"c{i}"] = f"o{i}"
    return originals + copies, truth


def test_char_shingles_find_copies_differing_by_a_few_characters(typo_copies):
    recs, truth = typo_copies
    by_id = {r.id: r for r in recs}
    for cid, oid in truth.items():
        a, b = by_id[cid].text, by_id[oid].text
        assert exact_jaccard(a, b, 3, "char") > 0.85  # 6 typos touch at most 18 of ~400 character 3-grams
        assert exact_jaccard(a, b, 3, "word") < 0.7  # each typo removes 3 of 58 word 3-grams
    verdicts = run_step(MinHashDedup(shingle="char"), recs)
    assert dropped(verdicts) == truth
    for cid, oid in truth.items():
        assert abs(verdicts[cid].value - exact_jaccard(by_id[cid].text, by_id[oid].text, 3, "char")) < 0.12
    # the same copies are invisible to word 3-grams at the same threshold, not to the word sets of verify: parts
    assert dropped(run_step(MinHashDedup(verify="signature"), recs)) == {}
    assert dropped(run_step(MinHashDedup(), recs)) == truth
    # and unrelated texts stay apart at the char threshold recommended for dedup (0.85)
    assert dropped(run_step(MinHashDedup(shingle="char", threshold=0.85), recs)) == truth


def test_char_shingles_count_characters_of_the_normalised_text():
    assert chars("  Hello,\tWORLD\n ﬁne ") == "hello, world fine"
    h = char_shingle_hashes("abcde", 3)
    assert h.dtype == np.uint32 and h.shape == (3,)
    # a window is n characters, not n UTF-8 bytes
    assert char_shingle_hashes("日本語テキスト", 3).shape == (5,)
    assert char_shingle_hashes("héllo", 2).shape == (4,)
    # case, Unicode form and whitespace runs do not count; punctuation does
    assert char_shingle_hashes("Hello   World", 3).tolist() == char_shingle_hashes("hello world", 3).tolist()
    assert exact_jaccard("hello world", "hello, world", 3, "char") < 1.0
    assert exact_jaccard("ﬁle", "FILE", 3, "char") == 1.0
    # shorter than the n-gram: one shingle; empty: the empty shingle, as for words
    assert char_shingle_hashes("ab", 5).shape == (1,)
    assert char_shingle_hashes("ab", 5).tolist() != char_shingle_hashes("abc", 5).tolist()
    assert char_shingle_hashes("   ", 3).tolist() == shingle_hashes("", 3).tolist() == [0]
    # a lone surrogate (a broken decoder's leftover) is a character, not an error
    assert char_shingle_hashes("a\udc80b", 3).shape == (1,)
    assert shingle_hashes("abcde", 3, shingle="char").tolist() == h.tolist()


def test_char_short_texts_shorter_than_the_ngram():
    recs = [Record("s1", text="Hi!"), Record("s2", text="hi!"), Record("s3", text="Ho!"), Record("e1", text=""), Record("e2", text=" ")]
    assert dropped(run_step(MinHashDedup(shingle="char", ngram=5), recs)) == {"s2": "s1", "e2": "e1"}


def test_hash_values_are_pinned():
    """Signatures must not change between versions or processes: a run's duplicates must be reproducible.
    The word values are those of the word-only implementation before ``shingle`` was added."""
    assert shingle_hashes("Hello, big world", 2).tolist() == [905133330, 904719028]
    assert shingle_hashes("Hello, big world", 2, shingle="word").tolist() == [905133330, 904719028]
    assert char_shingle_hashes("Hello, big world", 3)[:4].tolist() == [3205829476, 373876372, 626168762, 2481057125]
    assert char_shingle_hashes("ab", 3).tolist() == [749226375]


def test_char_deterministic_and_picklable(typo_copies):
    recs, truth = typo_copies
    step = MinHashDedup(shingle="char")
    again = pickle.loads(pickle.dumps(step))
    assert again.shingle == "char"
    assert all(step.prepare(r) == again.prepare(r) for r in recs)
    assert run_step(MinHashDedup(shingle="char"), recs) == run_step(MinHashDedup(shingle="char"), recs)
    assert dropped(run_step(MinHashDedup(shingle="char", backend="rensa"), recs)) == truth


def test_shingle_parameter_default_and_validation():
    assert MinHashDedup().shingle == "word"
    assert build_step("dedup.minhash", {"shingle": "char", "ngram": 4}).shingle == "char"
    with pytest.raises(RecipeError, match="shingle"):
        build_step("dedup.minhash", {"shingle": "chars"})


def test_batched_signatures_equal_one_text_at_a_time(monkeypatch):
    """prepare_batch (what the pipeline calls) gives exactly prepare's bytes: short, empty, non-ASCII and long texts."""
    import curatune.curation.dedup.shingle as shingle

    monkeypatch.setattr(shingle, "_BLOCK", 64)  # so that a 200-word text spans blocks and the batch several
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(50)]
    texts = ["", "one", "one two", "Straße ﬁne ÉCOLE école", "a, b. c! d?", " ".join(rng.choice(vocab) for _ in range(200))]
    texts += [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 30))) for _ in range(40)]
    rng.shuffle(texts)
    recs = [Record(f"r{i}", text=t) for i, t in enumerate(texts)]
    for ngram in (1, 3, 5):
        step = MinHashDedup(ngram=ngram, fields="record")
        assert step.prepare_batch(recs) == [step.prepare(r) for r in recs]
        sigs = shingle.word_signatures(texts, ngram, 128, 1)
        assert all((sigs[i] == shingle.minhash(shingle_hashes(t, ngram, 1), 128, 1)).all() for i, t in enumerate(texts))


# ---- verify: parts (the default for word shingles) ---------------------------------------------------


def test_parts_find_copies_with_a_sixth_of_their_words_replaced():
    """10 of 60 answer words replaced: word 3-gram Jaccard under 0.6, below the 3-gram threshold; the answer's word
    set is still about 0.7 alike and the prompt's is equal (found at part_threshold 0.65; the default, 0.75, asks for
    closer copies)."""
    rng = random.Random(3)
    originals = [chat(f"o{i}", text(rng, 12), text(rng, 60)) for i in range(30)]
    copies = [chat(f"c{i}", originals[i].prompt_text, edit(originals[i].response_text, rng, k=10)) for i in range(0, 30, 3)]
    truth = {f"c{i}": f"o{i}" for i in range(0, 30, 3)}
    recs = originals + copies
    by_id = {r.id: r for r in recs}
    assert all(exact_jaccard(by_id[c].all_text, by_id[o].all_text, 3) < 0.6 for c, o in truth.items())
    assert dropped(run_step(MinHashDedup(verify="signature"), recs)) == {}
    verdicts = run_step(MinHashDedup(part_threshold=0.65), recs)
    assert dropped(verdicts) == truth
    assert all(verdicts[c].threshold == 0.65 and verdicts[c].value >= 0.65 for c in truth)


def test_parts_do_not_merge_records_that_share_a_long_context_but_ask_and_answer_differently():
    """Dolly-style: one 120-word passage, different questions and answers. The whole records' 3-grams are over 0.7
    alike (the old rule merged them); the answers are not alike, so verify: parts keeps all."""
    rng = random.Random(5)
    passage = text(rng, 120)
    recs = [chat(f"q{i}", f"{text(rng, 8)}\n\n{passage}", text(rng, 15)) for i in range(4)]
    assert exact_jaccard(recs[0].all_text, recs[1].all_text, 3) > 0.7
    assert len(dropped(run_step(MinHashDedup(verify="signature"), recs))) >= 2
    assert dropped(run_step(MinHashDedup(), recs)) == {}


def test_parts_drop_only_members_alike_to_the_kept_record():
    """A chain a ~ b ~ c where c is not alike to a: b goes (as a's duplicate), c stays."""
    rng = random.Random(9)
    prompt = text(rng, 10)
    a_words = text(rng, 40).split()
    b_words = a_words[:28] + text(rng, 12).split()  # the last 12 of 40 replaced
    c_words = b_words[:16] + text(rng, 24).split()  # 12 more
    recs = [chat("a", prompt, " ".join(a_words)), chat("b", prompt, " ".join(b_words)), chat("c", prompt, " ".join(c_words))]
    verdicts = run_step(MinHashDedup(part_threshold=0.4), recs)
    assert exact_jaccard(recs[0].response_text, recs[2].response_text, 1) < 0.4
    assert dropped(verdicts) == {"b": "a"}


def test_batched_parts_equal_one_record_at_a_time(monkeypatch):
    """With verify: parts, prepare_batch hashes each word once (the parts' words make the record's n-grams where the
    record is its prompt and its answer): exactly prepare's bytes, for records of every shape."""
    import curatune.curation.dedup.shingle as shingle

    monkeypatch.setattr(shingle, "_BLOCK", 64)
    rng = random.Random(4)
    vocab = [f"w{i}" for i in range(50)] + ["Straße", "ﬁne", "ÉCOLE", "a,", "b.", "é\u0301", "\u0301x"]

    def t(lo: int = 0, hi: int = 30) -> str:
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi)))

    def msgs(*roles: str) -> list[dict]:
        return [{"role": r, "content": t()} for r in roles]

    recs = [
        Record("empty", messages=[]),
        Record("blank", messages=[{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]),
        Record("text", text=t(1)),
        Record("labelled", text=t(1), label="pos"),
        Record("pair", messages=msgs("user"), chosen=t(1), rejected=t(1)),
        Record("turns", messages=msgs("user", "assistant", "user", "assistant")),
        Record("system", messages=msgs("system", "user", "assistant")),
        Record("answers", messages=msgs("user", "assistant", "assistant")),
        Record("tool", messages=msgs("user", "tool", "assistant")),
        Record("long", messages=[{"role": "user", "content": t(150, 200)}, {"role": "assistant", "content": t(150, 200)}]),
    ]
    recs += [Record(f"r{i}", messages=msgs("user", "assistant")) for i in range(30)]
    rng.shuffle(recs)
    for fields in ("record", "prompt", "response"):
        for ngram in (1, 3):
            step = MinHashDedup(ngram=ngram, fields=fields)
            assert step.prepare_batch(recs) == [step.prepare(r) for r in recs], (fields, ngram)


def test_short_answers_keep_the_ngram_rule():
    """Templated tickets with the same two-word answer: their prompts' word sets are 0.83 alike, their 3-grams 0.55.
    With answers that short the parts rule would be a prompt-only word-set rule: the 3-gram rule judges instead."""
    rng = random.Random(11)
    template = text(rng, 30).split()
    recs = []
    for i in range(10):
        words_i = list(template)
        for pos in (5, 15, 25):
            words_i.insert(pos, f"slot{i}x{pos}")
        recs.append(chat(f"t{i}", " ".join(words_i), "billing / high"))
    assert exact_jaccard(recs[0].prompt_text, recs[1].prompt_text, 1) > 0.8
    assert exact_jaccard(recs[0].all_text, recs[1].all_text, 3) < 0.6
    assert dropped(run_step(MinHashDedup(), recs)) == {}
    assert len(dropped(run_step(MinHashDedup(short_answer_words=0), recs))) == 9
