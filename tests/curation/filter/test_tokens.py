"""filter.token_length with the packaged SmolLM2 tokenizer: counts equal the chat template's, exact verdicts."""

from __future__ import annotations

import pytest

from curatune.curation.filter.tokens import TokenLength
from curatune.curation.record import Record
from curatune.models.tokenizer import CountingTokenizer, load_tokenizer


@pytest.fixture(scope="module")
def step() -> TokenLength:
    s = TokenLength()
    s.setup()
    return s


def chat(q: str, a: str) -> Record:
    return Record("r", messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}])


def template_len(step, messages) -> int:
    """The reference: transformers' own tokenizer and apply_chat_template, not the step's light loader."""
    return len(load_tokenizer(step.tokenizer).apply_chat_template(messages, tokenize=True)["input_ids"])


CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."}],
    [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ],
    [
        {"role": "user", "content": "Write code"},
        {"role": "assistant", "content": "```python\ndef f(x):\n    return x * 2\n```"},
        {"role": "user", "content": "Thanks"},
    ],
    [{"role": "user", "content": "Ünïcödé ☃ 中文"}, {"role": "assistant", "content": ""}],
]


def test_step_loads_the_light_tokenizer_not_transformers(step):
    # Importing transformers' tokenizer classes costs seconds in every worker process.
    assert isinstance(step._tok, CountingTokenizer)


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_light_tokenizer_renders_and_encodes_like_transformers(step, messages):
    reference = load_tokenizer("default")
    assert step._tok.apply_chat_template(messages, tokenize=False) == reference.apply_chat_template(messages, tokenize=False)
    assert step._tok.apply_chat_template(messages)["input_ids"] == list(reference.apply_chat_template(messages, tokenize=True)["input_ids"])
    assert step._tok("a b", add_special_tokens=True)["input_ids"] == reference("a b", add_special_tokens=True)["input_ids"]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."}],
        [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
        ],
        [
            {"role": "user", "content": "Write code"},
            {"role": "assistant", "content": "```python\ndef f(x):\n    return x * 2\n```"},
            {"role": "user", "content": "Thanks"},
        ],
        [{"role": "user", "content": "Ünïcödé ☃ 中文"}, {"role": "assistant", "content": ""}],
    ],
)
def test_fast_count_equals_template(step, messages):
    assert step.chat_tokens(messages) == template_len(step, messages)


def test_short_clean_answers_are_kept(step):
    assert step.keep(chat("Capital of France?", "Paris.")).action == "keep"
    assert step.keep(chat("2+2?", "4")).action == "keep"


def test_empty_answer(step):
    v = step.keep(chat("Make a chart.", ""))
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "answer_too_short", 0, 1)
    assert step.keep(chat("Make a chart.", "   ")).reason == "answer_too_short"


def test_over_max_seq_len():
    s = TokenLength(max_seq_len=64)
    s.setup()
    rec = chat("Summarise: " + "the cat sat on the mat. " * 30, "A cat sat.")
    expected = template_len(s, rec.messages)
    v = s.keep(rec)
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "over_max_seq_len", expected, 64)
    # Under the byte bound the answer is kept without tokenising.
    assert s.keep(chat("Hi", "Hello there.")).action == "keep"


def test_min_answer_tokens():
    s = TokenLength(min_answer_tokens=5)
    s.setup()
    v = s.keep(chat("Capital?", "Paris."))
    assert (v.reason, v.value, v.threshold) == ("answer_too_short", 2, 5)


def test_exact_mode_agrees(step):
    exact = TokenLength(exact=True, max_seq_len=40)
    exact.setup()
    fast = TokenLength(max_seq_len=40)
    fast.setup()
    rec = chat(
        "Tell me about the solar system and the planets in it, please.",
        "There are eight planets orbiting the sun, from Mercury to Neptune.",
    )
    assert exact.keep(rec) == fast.keep(rec)
    assert exact.keep(rec).reason == "over_max_seq_len"


def test_text_labelled_and_preference_kinds(step):
    n = len(step._tok("A plain paragraph.", add_special_tokens=True)["input_ids"])
    assert step.record_tokens(Record("t", text="A plain paragraph.")) == (n, n - step._special)
    assert step.record_tokens(Record("l", text="A plain paragraph.", label="pos")) == (n, None)
    assert step.keep(Record("l", text="", label="neg")).action == "keep"
    assert step.keep(Record("t", text="")).reason == "answer_too_short"
    prompt = [{"role": "user", "content": "Best fruit?"}]
    pref = Record("p", messages=prompt, chosen="Mango.", rejected="Rocks are the best fruit of all, obviously, and here is why.")
    total, answer = step.record_tokens(pref)
    assert total == template_len(step, prompt + [{"role": "assistant", "content": pref.rejected}])
    assert answer == step.count("Mango.")
    assert step.keep(Record("p", messages=prompt, chosen="", rejected="x")).reason == "answer_too_short"


def test_template_overheads_are_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATUNE_CACHE", str(tmp_path))
    messages = CONVERSATIONS[1]
    first = TokenLength()
    first.setup()
    expected = first.chat_tokens(messages)
    assert expected == template_len(first, messages)
    assert (tmp_path / "template_overheads.json").is_file()
    # A new step (a new worker process) reads the overhead back without rendering the template.
    second = TokenLength()
    second.setup()
    monkeypatch.setattr(second, "_template_len", lambda m: pytest.fail("rendered the template again"))
    assert second.chat_tokens(messages) == expected
    # A damaged cache file is ignored and rewritten.
    (tmp_path / "template_overheads.json").write_text("{not json")
    third = TokenLength()
    third.setup()
    assert third.chat_tokens(messages) == expected
