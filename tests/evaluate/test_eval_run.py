"""curatune eval on tiny models built here: a model trained to one answer beats its base, the numbers match a
forward pass done by hand, classifiers are scored by argmax, flagged answers are counted, the human sheet round-trips."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import orjson
import pytest
from tiny_models import build_tiny_bert, build_tiny_lm
from typer.testing import CliRunner

from curatune.cli import app
from curatune.config.recipe import parse_recipe
from curatune.errors import InputError, RecipeError
from curatune.evaluate import generate as generation
from curatune.evaluate.run import evaluate_run

METRICS = ["loss", "perplexity", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "exact_match", "token_f1"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def chat(i: int, question: str, answer: str) -> dict:
    return {"id": f"q{i}", "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "test.jsonl", [chat(i, f"what about {w}?", "OK") for i, w in enumerate("abcdef")])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, lm) -> Path:
    """A run whose model was fully fine-tuned to answer "OK" to any question."""
    from curatune.stages.train import train

    tmp = tmp_path_factory.mktemp("run")
    data = write_jsonl(tmp / "train.jsonl", [chat(i, f"question {i * 7 % 97}?", "OK") for i in range(40)])
    recipe = parse_recipe({
        "name": "ok", "runs_dir": str(tmp / "runs"), "data": {"path": str(data)},
        "train": {"model": str(lm), "method": "full", "learning_rate": 1e-2, "max_steps": 30, "per_device_train_batch_size": 8,
                  "val_set_size": 0.0, "warmup_ratio": 0.0},
    })  # fmt: skip
    train(recipe, track=False, echo=lambda s: None)
    return tmp / "runs" / "ok"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, lm) -> Path:
    """A LoRA adapter with random (not zero) weights on the tiny model: a "tuned" model that differs from its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("adapter")
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(lm),
        LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False),
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(lm).save_pretrained(folder)
    return folder


def quiet(s: str) -> None:
    pass


def test_a_model_tuned_to_the_answer_beats_its_base_and_every_file_is_written(run_dir, held_out, lm):
    report = evaluate_run(run_dir, held_out, max_new_tokens=6, echo=quiet)
    assert report.out_dir == run_dir / "eval" and report.n == 6 and report.target.base == str(lm)
    assert list(report.metrics) == METRICS
    em = report.metrics["exact_match"]
    assert (em.base.estimate, em.tuned.estimate, em.difference.difference, em.difference.low) == (0.0, 1.0, 1.0, 1.0)
    assert report.metrics["loss"].tuned.estimate < report.metrics["loss"].base.estimate - 1
    assert report.metrics["perplexity"].difference.high < 0
    written = orjson.loads((run_dir / "eval" / "metrics.json").read_bytes())
    assert written["format"] == "curatune.eval/1" and written["task"] == "sft" and list(written["metrics"]) == METRICS
    assert written["metrics"]["exact_match"]["difference"] == {"estimate": 1.0, "low": 1.0, "high": 1.0, "tuned_higher": 1.0}
    assert written["safety"]["tuned"] == {"checked": 6, "flagged": 0, "by_reason": {}, "ids": []}
    rows = [orjson.loads(line) for line in (run_dir / "eval" / "generations.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(6)]
    assert set(rows[0]) == {"id", "prompt", "reference", "base", "tuned", "metrics", "safety"}
    assert rows[0]["prompt"] == "what about a?" and rows[0]["reference"] == "OK" and rows[0]["tuned"] == "OK"
    assert rows[0]["metrics"]["tuned"]["exact_match"] == 1.0 and rows[0]["metrics"]["tuned"]["answer_tokens"] == 3  # O, K, <|im_end|>
    summary = (run_dir / "eval" / "summary.md").read_text()
    assert "| exact match | 0 [0, 0] | 1 [1, 1] | +1 [+1, +1] |" in summary
    assert "## Output safety" in summary and "## Sample generations" in summary and "- tuned: `OK`" in summary


def test_perplexity_is_exp_of_the_token_weighted_loss_of_a_forward_pass_by_hand(adapter, lm, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    examples = [chat(0, "hi", "OK"), chat(1, "tell me more", "a much longer answer, token by token")]
    data = write_jsonl(tmp_path / "two.jsonl", examples)
    report = evaluate_run(adapter, data, out_dir=tmp_path / "eval", max_new_tokens=2, echo=quiet)
    assert report.target.is_adapter and report.target.base == str(lm)
    tok = AutoTokenizer.from_pretrained(adapter)

    def by_hand(model) -> tuple[float, list[float]]:
        sums, counts = [], []
        for ex in examples:
            prompt = tok.apply_chat_template(ex["messages"][:1], tokenize=False, add_generation_prompt=True)
            answer = tok(ex["messages"][1]["content"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
            full = tok(tok.apply_chat_template(ex["messages"], tokenize=False), add_special_tokens=False)["input_ids"]
            start = len(tok(prompt, add_special_tokens=False)["input_ids"])
            assert full[start : start + len(answer)] == answer
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([full])).logits[0]
            targets = torch.tensor(answer)
            losses = torch.nn.functional.cross_entropy(logits[start - 1 : start - 1 + len(answer)], targets, reduction="none")
            sums.append(float(losses.sum()))
            counts.append(len(answer))
        return math.exp(sum(sums) / sum(counts)), [s / c for s, c in zip(sums, counts)]

    base = AutoModelForCausalLM.from_pretrained(lm).eval()
    base_ppl, _ = by_hand(base)
    tuned_ppl, tuned_means = by_hand(PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(lm), adapter).eval())
    assert report.metrics["perplexity"].base.estimate == pytest.approx(base_ppl, rel=1e-5)
    assert report.metrics["perplexity"].tuned.estimate == pytest.approx(tuned_ppl, rel=1e-5)
    assert tuned_ppl != pytest.approx(math.exp(sum(tuned_means) / 2), rel=1e-3)  # token-weighted, not a mean of examples
    assert [r["metrics"]["tuned"]["loss"] for r in report.examples] == pytest.approx(tuned_means, rel=1e-5)
    assert [r["metrics"]["tuned"]["answer_tokens"] for r in report.examples] == [3, 37]


def test_a_classifier_is_scored_by_argmax_and_its_confusion_matrix_counts_every_example(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    words = ["good", "great", "bad", "awful", "film", "plot"]
    bert = build_tiny_bert(tmp_path / "bert", words)
    torch.manual_seed(3)
    clf = AutoModelForSequenceClassification.from_pretrained(
        bert, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1}
    )
    clf.save_pretrained(tmp_path / "clf")
    AutoTokenizer.from_pretrained(bert).save_pretrained(tmp_path / "clf")
    rows = [
        {"id": f"c{i}", "text": f"{words[i % 4]} {words[4 + i % 2]} {words[(i * 3) % 4]}", "label": ["neg", "pos", "meh"][i % 3]}
        for i in range(12)
    ]
    data = write_jsonl(tmp_path / "labelled.jsonl", rows)
    report = evaluate_run(tmp_path / "clf", data, base=str(bert), echo=quiet)
    assert report.out_dir == tmp_path / "clf-eval" and report.target.task == "classification"
    assert list(report.metrics) == ["accuracy", "macro_precision", "macro_recall", "macro_f1"]
    tuned = report.classification["tuned"]
    assert tuned.labels == ["neg", "pos", "meh"] and tuned.confusion.sum() == 12 == report.classification["base"].confusion.sum()
    assert tuned.confusion[2].sum() == 4 and tuned.confusion[:, 2].sum() == 0  # "meh" was never trained: always wrong
    model, tok = (
        AutoModelForSequenceClassification.from_pretrained(tmp_path / "clf").eval(),
        AutoTokenizer.from_pretrained(tmp_path / "clf"),
    )
    with torch.inference_mode():
        by_hand = [model.config.id2label[int(model(**tok(r["text"], return_tensors="pt")).logits.argmax())] for r in rows]
    assert [r["tuned"] for r in report.examples] == by_hand
    accuracy = sum(p == r["label"] for p, r in zip(by_hand, rows)) / 12
    assert report.metrics["accuracy"].tuned.estimate == pytest.approx(accuracy) == tuned.accuracy
    assert report.metrics["macro_f1"].tuned.estimate == pytest.approx(tuned.macro_f1)
    assert any("head was created at random" in n for n in report.notes) and any("meh" in n for n in report.notes)
    written = orjson.loads((tmp_path / "clf-eval" / "metrics.json").read_bytes())
    assert written["classification"]["tuned"]["confusion"] == tuned.confusion.tolist()
    assert "| reference \\ predicted | neg | pos | meh |" in (tmp_path / "clf-eval" / "summary.md").read_text()
    with pytest.raises(RecipeError, match="--human-sheet compares written answers"):
        evaluate_run(tmp_path / "clf", data, base=str(bert), human_sheet=True, echo=quiet)


def test_an_answer_with_an_email_address_or_a_threat_is_flagged_and_counted(adapter, held_out, tmp_path, monkeypatch):
    calls = []

    def fixed_answers(model, tokenizer, conversations, *args, **kwargs):
        calls.append(len(conversations))
        if len(calls) == 1:  # the base answers first
            return ["OK"] * len(conversations)
        return ["write to jane.doe@gmail.com", "OK", "i will kill you", "OK", "OK", "mail ops@brightwave-labs.io"]

    monkeypatch.setattr(generation, "generate_answers", fixed_answers)
    report = evaluate_run(adapter, held_out, out_dir=tmp_path / "eval", echo=quiet)
    assert calls == [6, 6]
    tuned, base = report.safety["tuned"], report.safety["base"]
    assert (tuned.checked, tuned.flagged, tuned.by_reason, tuned.ids) == (6, 3, {"harmful_violence": 1, "pii_email": 2}, ["q0", "q2", "q5"])
    assert (base.flagged, report.safety["reference"].flagged) == (0, 0)
    assert [f["step"] + ":" + f["reason"] for f in report.examples[0]["safety"]["tuned"]] == ["filter.pii:pii_email"]
    assert "jane.doe" not in report.examples[0]["safety"]["tuned"][0]["detail"]  # the flag names the type, not the address
    assert report.metrics["exact_match"].base.estimate == 1.0 and report.metrics["exact_match"].tuned.estimate == 0.5
    summary = (tmp_path / "eval" / "summary.md").read_text()
    assert "| tuned | 6 | 3 | harmful_violence 1, pii_email 2 |" in summary and "- q0, tuned: pii_email" in summary


def test_the_cli_writes_a_human_sheet_that_judge_turns_into_win_rates(run_dir, held_out, tmp_path):
    runner = CliRunner()
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["eval", str(run_dir), "--data", str(held_out), "--out", str(out), "--max-new-tokens", "4", "--limit", "4", "--human-sheet"]
    )
    assert result.exit_code == 0, result.output
    assert "exact match" in result.output and "tuned − base" in result.output and "curatune judge" in " ".join(result.output.split())
    sheet, key = out / "human" / "sheet.csv", out / "human_key.json"
    assert (out / "human" / "sheet.html").is_file() and not (out / "human" / "key.json").exists()
    sides = orjson.loads(key.read_bytes())["items"]
    with sheet.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["item"] for r in rows] == ["q0", "q1", "q2", "q3"]  # --limit 4
    for r in rows:  # the tuned answer wins, except one tie
        r["judgment"] = "tie" if r["item"] == "q3" else ("1" if sides[r["item"]]["answer_1"] == "tuned" else "2")
    with sheet.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    judged = runner.invoke(app, ["judge", str(sheet), str(key), "--json"])
    assert judged.exit_code == 0, judged.output
    scores = json.loads(judged.output)
    assert (scores["judged"], scores["ties"]) == (4, 1)
    assert scores["per_system"]["tuned"]["wins"] == 3 and scores["per_system"]["tuned"]["win_rate"] == 3.5 / 4
    assert scores["per_system"]["base"]["losses"] == 3 and scores["per_system"]["base"]["win_rate"] == 0.5 / 4
    table = runner.invoke(app, ["judge", str(sheet), str(key)])
    assert table.exit_code == 0 and "87.5%" in table.output
    # Exporting again over judged sheet would lose the judgments: refused, with exit code 3.
    again = runner.invoke(app, ["eval", str(run_dir), "--data", str(held_out), "--out", str(out), "--limit", "1", "--human-sheet"])
    assert again.exit_code == 3 and "already holds 4 judgments" in " ".join(again.output.split())


def test_prompts_seen_in_training_are_noted_and_unusable_examples_listed(run_dir, tmp_path):
    rows = [
        chat(0, "question 0?", "OK"),
        chat(1, "never seen?", "OK"),
        {"id": "q2", "messages": [{"role": "user", "content": "no answer"}]},
    ]
    report = evaluate_run(run_dir, write_jsonl(tmp_path / "mixed.jsonl", rows), out_dir=tmp_path / "eval", max_new_tokens=2, echo=quiet)
    assert report.n == 2 and report.skipped == [
        {"id": "q2", "reason": "the last turn is not the assistant's, so there is no reference answer"}
    ]
    assert [n for n in report.notes if "also appear in the training data" in n] == [
        "1 of the 2 held-out prompts also appear in the training data (q0): on them the scores measure memory, not generalisation. "
        "Split with `curatune split` to keep them apart."
    ]


def test_a_folder_that_is_neither_a_run_nor_a_model_is_refused_with_what_was_looked_for(tmp_path, held_out):
    with pytest.raises(InputError, match=r"neither a run folder \(looked for train/model/ and train/summary.json\) nor a model folder"):
        evaluate_run(tmp_path, held_out, echo=quiet)
