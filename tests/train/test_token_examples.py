"""Token examples and the checks before training: assistant masks from any chat template, lengths, end of turn."""

from __future__ import annotations

import pytest
from tiny_models import build_tiny_lm

from curatune.config.train import TrainConfig
from curatune.curation.record import Record
from curatune.errors import InputError
from curatune.train.examples import assistant_spans, to_example
from curatune.train.preflight import Preflight, prepare_sft


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=16, layers=1))


def chat(id_: str, *turns: str) -> Record:
    roles = ["user", "assistant"] * len(turns)
    return Record(id_, messages=[{"role": r, "content": t} for r, t in zip(roles, turns)])


def trained_text(tok, ex) -> str:
    return tok.decode([t for t, m in zip(ex.input_ids, ex.assistant_masks) if m])


def test_mask_covers_each_assistant_turn_and_its_end_of_turn_token_only(tok):
    ex = to_example(tok, chat("a", "Hi there", "Hello!", "Bye", "Goodbye."))
    assert trained_text(tok, ex) == "Hello!<|im_end|>Goodbye.<|im_end|>"
    assert ex.problems == []
    # The rendered ids are exactly the template's: nothing added or lost.
    assert tok.decode(ex.input_ids) == tok.apply_chat_template(chat("a", "Hi there", "Hello!", "Bye", "Goodbye.").messages, tokenize=False)


def test_train_on_inputs_trains_every_token(tok):
    ex = to_example(tok, chat("a", "Hi", "Hello"), train_on_inputs=True)
    assert sum(ex.assistant_masks) == len(ex.input_ids)


def test_plain_text_trains_every_token_and_ends_with_eos(tok):
    ex = to_example(tok, Record("t", text="just text"))
    assert ex.assistant_masks == [1] * len(ex.input_ids)
    assert ex.input_ids[-1] == tok.eos_token_id


def test_template_that_renders_the_prompt_differently_is_reported(tok):
    # A "thinking" template: the generation prompt opens <think>, but a finished turn is rendered without it,
    # so training on the full rendering teaches a text inference never shows the model.
    tok2 = type(tok).from_pretrained(tok.name_or_path)
    tok2.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n<think>{% endif %}"
    )
    _, spans, problems = assistant_spans(tok2, chat("a", "Hi", "Hello").messages)
    assert spans == [] and len(problems) == 1 and "turn 1" in problems[0]


def records_with_lengths() -> list[Record]:
    """20 normal pairs, 3 with an answer far over 60 tokens, 2 with a long prompt and a one-character answer."""
    recs = [chat(f"ok{i}", f"q{i}", f"answer {i}") for i in range(20)]
    recs += [chat(f"long{i}", "q", "x" * 200) for i in range(3)]
    recs += [chat(f"lowfrac{i}", "ab " * 30, "y") for i in range(2)]
    return recs


def test_too_long_examples_are_counted_and_dropped_never_silently_cut(tok):
    report = Preflight()
    kept = prepare_sft(records_with_lengths(), tok, TrainConfig(max_seq_len=150, min_trained_fraction=0.05), report)
    assert {d["id"] for d in report.too_long} == {"long0", "long1", "long2"}
    assert len(kept) == 22 and not any(e.id.startswith("long") for e in kept)
    assert {d["id"] for d in report.low_trained} == {"lowfrac0", "lowfrac1"}


def test_too_long_truncate_keeps_the_start_and_error_names_the_fix(tok):
    report = Preflight()
    kept = prepare_sft(records_with_lengths(), tok, TrainConfig(max_seq_len=150, on_too_long="truncate"), report)
    long = [e for e in kept if e.id.startswith("long")]
    assert len(long) == 3 and all(len(e.input_ids) == 150 and e.truncated_from > 150 for e in long)
    with pytest.raises(InputError, match="3 examples are longer than max_seq_len 150.*on_too_long"):
        prepare_sft(records_with_lengths(), tok, TrainConfig(max_seq_len=150, on_too_long="error"), Preflight())


def test_end_of_turn_token_is_trained_and_stops_generation(tok):
    report = Preflight()
    prepare_sft(records_with_lengths()[:5], tok, TrainConfig(), report, model_eos=[tok.eos_token_id])
    assert report.end_of_turn["token"] == "<|im_end|>"
    assert report.end_of_turn["trained"] and report.end_of_turn["stops_generation"]
    report = Preflight()
    prepare_sft(records_with_lengths()[:5], tok, TrainConfig(), report, model_eos=[0])
    assert not report.end_of_turn["stops_generation"]
    assert any("generation stops on" in w for w in report.warnings)
