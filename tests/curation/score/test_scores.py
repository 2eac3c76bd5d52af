"""score.quality on hand-written records; score.ifd against a hand computation with a tiny random Llama.

The tiny model (byte-level tokenizer, 2 layers, hidden 32) is built here in a
second; its IFD values mean nothing, but the arithmetic is the same as with a
real model. Running this file writes the even smaller model that the step's
contract test uses (``src/curatune/data/score/resources/tiny_lm``)::

    PYTHONPATH=tests .venv/bin/python tests/data/score/test_scores.py
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tiny_models import CHATML, build_tiny_lm  # noqa: F401  (tests/tiny_models.py)

from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.score.ifd import answer_pair, fit, ifd_scores, load_lm


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return str(build_tiny_lm(tmp_path_factory.mktemp("tiny_lm")))


@pytest.fixture(autouse=True)
def ifd_cache(tmp_path, monkeypatch):
    """score.ifd caches its scores on disk: each test gets its own cache, never the user's."""
    monkeypatch.setenv("CURATUNE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_lm(tiny_dir)


def chat(q: str, a: str | None, rid: str = "r", **meta) -> Record:
    msgs = [{"role": "user", "content": q}] + ([{"role": "assistant", "content": a}] if a is not None else [])
    return Record(rid, messages=msgs, meta=dict(meta))


# ---- score.quality -----------------------------------------------------------------------

CLEAN_60 = (
    "Photosynthesis is the process by which green plants, algae and some bacteria turn light into chemical energy. "
    "In the chloroplasts, chlorophyll absorbs sunlight, which drives the splitting of water into oxygen, protons and "
    "electrons. The energy is stored in ATP and NADPH, which the Calvin cycle then uses to fix carbon dioxide from the "
    "air into sugars such as glucose."
)


def quality(rec: Record, **params) -> float | None:
    step = build_step("score.quality", params)
    step.setup()
    return step.score(rec).get("quality")


def test_quality_exact_values():
    # Clean: only the length part is below 1 (0.3 * (1 - e^-n/30) + 0.3 + 0.2 + 0.2).
    n = len(CLEAN_60.split())
    assert quality(chat("Explain photosynthesis.", CLEAN_60)) == round(0.3 * (1 - math.exp(-n / 30)) + 0.7, 6)
    # A refusal of 14 words: the same base, times 1 - 0.7.
    refusal = "I'm sorry, but as an AI language model I cannot help with that request."
    assert quality(chat("Tell me a secret.", refusal)) == round((0.3 * (1 - math.exp(-14 / 30)) + 0.7) * 0.3, 6)
    # A placeholder answer scores 0 whatever its other parts.
    assert quality(chat("Q?", "TODO")) == 0.0


def test_quality_orders_good_above_bad():
    good = quality(chat("Explain photosynthesis.", CLEAN_60))
    short = quality(chat("What is the capital of France?", "The capital of France is Paris."))
    noisy = CLEAN_60.replace("some", "sorne").replace("light", "1ight").replace("splitting", "sp1itting")
    ocr = quality(chat("Explain photosynthesis.", noisy))
    loop = quality(chat("Repeat", " ".join(["the"] * 14) + "."))
    truncated = quality(chat("Explain photosynthesis.", CLEAN_60.rstrip(".") + " and"))
    refusal = quality(chat("Tell me a secret.", "I'm sorry, but as an AI language model I cannot help with that request."))
    placeholder = quality(chat("Q?", "N/A"))
    # Defects rank below the same answer clean; a longer clean answer above a short one.
    assert good > ocr > truncated
    assert good > short > loop > refusal > placeholder == 0.0
    assert all(0.0 <= q <= 1.0 for q in (good, short, ocr, loop, truncated, refusal))


def test_quality_reads_flags_and_parameters():
    rec = chat("Explain photosynthesis.", CLEAN_60)
    clean = quality(rec)
    rec.meta["flags"] = ["filter.truncated_answer:no_final_punctuation", "filter.gopher_quality:gopher_stopwords"]
    # A flag counts as the defect (x 0.5) and as a failed rule set (rules 3/4: -0.3/4).
    assert quality(rec) == round((clean - 0.3 / 4) * 0.5, 6)
    assert quality(rec, truncated_penalty=0.0) == round(clean - 0.3 / 4, 6)
    assert quality(chat("Explain photosynthesis.", CLEAN_60), w_length=0, w_rules=0, w_ocr=0) == 1.0


def test_quality_penalises_missing_inputs_duplicates_and_safety_flags():
    clean = quality(chat("Explain photosynthesis.", CLEAN_60))
    # The instruction points at a text the record does not hold: x 0.3.
    assert quality(chat("Summarize the following article.", CLEAN_60)) == pytest.approx(clean * 0.3, abs=2e-6)
    assert quality(chat("Summarize the following article.", CLEAN_60), missing_input_penalty=0.0) == clean
    # Known from flags only (a curation run that flags instead of drops): a copy, a harmful or PII finding.
    for flag in ("dedup.minhash:near_duplicate", "dedup.exact:exact_duplicate", "filter.harmful:harmful_violence", "filter.pii:pii_secret"):
        assert quality(chat("Explain photosynthesis.", CLEAN_60, flags=[flag])) == 0.0, flag
    assert quality(
        chat("Explain photosynthesis.", CLEAN_60, flags=["dedup.minhash:near_duplicate"]), duplicate_penalty=0.25
    ) == pytest.approx(clean * 0.75, abs=2e-6)


def test_quality_needs_an_answer():
    assert quality(Record("t", text="Just a paragraph of text.")) is None
    assert quality(Record("l", text="great", label="pos")) is None
    assert quality(chat("only a question", None)) is None


# ---- score.ifd ---------------------------------------------------------------------------


def hand_ifd(lm, question: str, answer: str) -> tuple[float, float]:
    """(answer_ppl, answer_ppl_alone) from full logits, one sequence at a time, no padding."""
    import torch

    tok, model = lm.tokenizer, lm.model
    rendered = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
    prompt = tok(rendered, add_special_tokens=False)["input_ids"]
    ans = tok(answer, add_special_tokens=False)["input_ids"]
    eot = tok.convert_tokens_to_ids("<|endoftext|>")  # the tiny tokenizer adds no BOS: the document separator starts the answer

    def ppl(ids: list[int], n: int) -> float:
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        nll = [-logp[i - 1, ids[i]].item() for i in range(len(ids) - n, len(ids))]
        return math.exp(sum(nll) / n)

    return ppl(prompt + ans, len(ans)), ppl([eot] + ans, len(ans))


def test_ifd_equals_hand_computation(tiny):
    q, a = "Name a primary colour.", "Red is a primary colour."
    (got,) = ifd_scores([(q, a)], tiny)
    ppl_cond, ppl_alone = hand_ifd(tiny, q, a)
    assert got["answer_ppl"] == pytest.approx(ppl_cond, rel=1e-5)
    assert got["answer_ppl_alone"] == pytest.approx(ppl_alone, rel=1e-5)
    assert got["ifd"] == pytest.approx(ppl_cond / ppl_alone, rel=1e-5)
    assert got["ifd"] != pytest.approx(1.0, abs=1e-3)  # the random model does tell the two apart


def test_device_auto_is_the_cpu_here_and_scores_equal(tiny_dir, monkeypatch):
    """``device: auto`` picks a GPU only when torch sees one; on the CPU the scores are the CPU's, and a device
    the model really moves to (here ``cpu`` named explicitly) gives the same scores as the spec loaded plainly."""
    import torch

    from curatune.curation.score.ifd import resolve_device

    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.undo()
    pairs = [("Name a primary colour.", "Red is a primary colour."), ("2+2?", "4")]
    plain = ifd_scores(pairs, load_lm(tiny_dir))
    named = ifd_scores(pairs, tiny_dir, device="cpu")
    assert load_lm(tiny_dir, "cpu").model.device.type == "cpu"
    for a, b in zip(plain, named):
        assert a == pytest.approx(b, rel=1e-6)


def test_batched_equals_unbatched(tiny):
    pairs = [
        ("Name a primary colour.", "Red."),
        ("Write a sentence about the sea.", "The sea was calm and grey under a low sky, and the boats stayed in."),
        ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}], "4"),
        ("Translate 'cat' to French.", "chat — le chat 🐈"),
        ("Empty?", ""),
    ]
    one = ifd_scores(pairs, tiny, batch_size=1)
    many = ifd_scores(pairs, tiny, batch_size=8)
    assert one[-1] is None and many[-1] is None  # no answer tokens, no score
    for a, b in zip(one[:-1], many[:-1]):
        assert a.keys() == b.keys() == {"ifd", "answer_ppl", "answer_ppl_alone"}
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-5)


def test_truncation_keeps_the_end_of_the_question_and_the_start_of_the_answer():
    q, a = list(range(100)), list(range(100, 200))
    assert fit(q[:10], a[:10], 64) == (q[:10], a[:10])
    assert fit(q, a, 64) == (q[-32:], a[:32])  # both long: half each
    assert fit(q[:10], a, 64) == (q[:10], a[:54])  # a short question leaves the rest to the answer
    assert fit(q, a[:10], 64) == (q[-54:], a[:10])


def test_answer_pair_takes_the_last_assistant_turn():
    rec = Record(
        "c",
        messages=[
            {"role": "system", "content": "S"},
            {"role": "user", "content": "U1"},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "U2"},
            {"role": "assistant", "content": "A2"},
            {"role": "tool", "content": "{}"},
        ],
    )
    prompt, answer = answer_pair(rec)
    assert answer == "A2" and [m["content"] for m in prompt] == ["S", "U1", "A1", "U2"]
    pref = Record("p", messages=[{"role": "user", "content": "Q"}], chosen="C", rejected="R")
    assert answer_pair(pref) == ([{"role": "user", "content": "Q"}], "C")
    assert answer_pair(Record("t", text="plain")) is None
    assert answer_pair(chat("Q", "   ")) is None


class ListSink(Sink):
    def __init__(self):
        self.kept, self.dropped = [], []

    def keep(self, rec):
        self.kept.append(rec)

    def drop(self, item, event):
        self.dropped.append((item, event))

    def event(self, event):
        pass


def test_step_writes_scores_and_skips_records_without_answers(tiny_dir):
    folder = tiny_dir
    records = [
        chat("Name a primary colour.", "Red is a primary colour.", "a"),
        Record("t", text="Just text."),
        chat("A question with no answer", None, "q"),
        chat("Empty answer", "  ", "e"),
        Record("p", messages=[{"role": "user", "content": "Best fruit?"}], chosen="Mango.", rejected="Rocks."),
    ]
    step = build_step("score.ifd", {"model": folder, "batch_size": 2})
    sink = ListSink()
    Pipeline([PipelineStep(step)], workers=1, batch_size=2).run(records, sink)
    scores = {r.id: r.meta.get("scores", {}) for r in sink.kept}
    assert set(scores["a"]) == set(scores["p"]) == {"ifd", "answer_ppl", "answer_ppl_alone"}
    assert scores["t"] == scores["q"] == scores["e"] == {}
    # The same numbers as the plain function.
    (direct,) = ifd_scores([("Name a primary colour.", "Red is a primary colour.")], load_lm(folder))
    assert scores["a"]["ifd"] == pytest.approx(direct["ifd"], rel=1e-6)


def test_max_ifd_drops_above_the_limit(tiny_dir):
    folder = tiny_dir
    records = [chat("Name a primary colour.", "Red is a primary colour.", "a"), chat("Say hi.", "Hello there!", "b")]
    a, b = ifd_scores([("Name a primary colour.", "Red is a primary colour."), ("Say hi.", "Hello there!")], load_lm(folder))
    ifd_a, ifd_b = a["ifd"], b["ifd"]
    limit = (ifd_a + ifd_b) / 2
    sink = ListSink()
    Pipeline([PipelineStep(build_step("score.ifd", {"model": folder, "max_ifd": limit}))], workers=1).run(records, sink)
    assert len(sink.kept) == 1 and len(sink.dropped) == 1
    dropped, event = sink.dropped[0]
    assert event.reason == "ifd_above_max" and dropped.meta["scores"]["ifd"] > limit  # a dropped record keeps its score


def test_no_model_is_loaded_without_records():
    # A model that cannot load: the step must never try on an empty input.
    sink = ListSink()
    result = Pipeline([PipelineStep(build_step("score.ifd", {"model": "/nonexistent/model"}))], workers=1).run([], sink)
    assert result.input == 0


@pytest.mark.slow
def test_packaged_smollm2_prefers_the_matching_answer():
    lm = load_lm("default")
    q = "What is the capital of France?"
    right, wrong = ifd_scores([(q, "The capital of France is Paris."), (q, "Bananas are rich in potassium and grow in bunches.")], lm)
    assert right["ifd"] < 1 and right["ifd"] < wrong["ifd"]
    assert right["answer_ppl"] < wrong["answer_ppl"]


if __name__ == "__main__":
    import shutil

    out = Path(__file__).resolve().parents[3] / "src" / "curatune" / "data" / "score" / "resources" / "tiny_lm"
    shutil.rmtree(out, ignore_errors=True)
    build_tiny_lm(out, hidden=16, layers=1)
    print(f"wrote {out}")


def test_ifd_scores_are_cached_by_content(tiny_dir):
    records = [chat("Name a primary colour.", "Red is a primary colour.", "a"), chat("Say hi.", "Hello there!", "b")]

    def run(recs):
        step = build_step("score.ifd", {"model": tiny_dir})
        sink = ListSink()
        Pipeline([PipelineStep(step)], workers=1).run(recs, sink)
        return step, {r.id: r.meta["scores"] for r in sink.kept}

    first, scores = run(records)
    again, cached = run([chat("Name a primary colour.", "Red is a primary colour.", "a2"), chat("Say hi.", "Hello!", "c")])
    assert (first.computed, again.computed) == (2, 1)  # only the changed answer is scored again
    assert cached["a2"] == scores["a"]  # float64 on disk: the same numbers
