"""The chat-template token shortcut equals the real template's token count, exactly."""

from __future__ import annotations

import random

import pytest

from curatune.audit.tokens import TokenStats
from curatune.curation.record import Record
from curatune.models.tokenizer import load_tokenizer

TRICKY = [
    "",
    " ",
    "\n\nleading newlines",
    "trailing spaces and newlines  \n\n",
    "\ttab first",
    "contains <|im_end|> and <|im_start|>user inside",
    "unicode: é ß 你好 😀 — “quotes”",
    "numbers 1234567890 and code: def f(x):\n    return x**2\n",
    "user\nassistant\n",
]


def conversations(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    words = "the cat sat on a mat while Paris , . ! ? \n \n\n  é 你 <|im_end|> 42 x".split(" ")
    out = []
    for _ in range(n):
        roles = rng.choice(
            [
                ["user", "assistant"],
                ["system", "user", "assistant"],
                ["user", "assistant", "user", "assistant"],
                ["assistant"],
                ["user", "user"],
                ["system"],
            ]
        )
        out.append(
            [
                {"role": r, "content": rng.choice(TRICKY) if rng.random() < 0.3 else " ".join(rng.choices(words, k=rng.randint(0, 30)))}
                for r in roles
            ]
        )
    return out


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("default")


def real_count(tok, conv) -> int:
    return len(tok(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)["input_ids"])


def test_shortcut_is_exact_for_smollm2(tok):
    stats = TokenStats(tok, 2048)
    records = [Record(f"r{i}", messages=m) for i, m in enumerate(conversations(300))]
    stats.calibrate(records)
    assert stats.mode == "shortcut"
    plans, pieces = stats.plan(records)
    assert len(pieces) == sum(len(r.messages) for r in records)  # one piece per message: no second tokenisation
    counts = stats.encode(pieces)
    for p, rec in zip(plans, records):
        _, total, _ = stats.measure(p, counts)
        assert total == real_count(tok, rec.messages), rec.messages


class TrimmingTemplate:
    """The SmolLM2 tokenizer with a template that strips contents, which the shortcut cannot follow."""

    chat_template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}"

    def __init__(self, tok):
        self._tok = tok

    def __getattr__(self, name):
        return getattr(self._tok, name)

    def __call__(self, *args, **kwargs):
        return self._tok(*args, **kwargs)

    def apply_chat_template(self, conv, tokenize=False):
        return self._tok.apply_chat_template(conv, chat_template=self.chat_template, tokenize=tokenize)


def test_falls_back_when_the_template_changes_contents(tok):
    wrapped = TrimmingTemplate(tok)
    stats = TokenStats(wrapped, 2048)
    records = [Record("a", messages=[{"role": "user", "content": "  padded  "}, {"role": "assistant", "content": "\n\nok\n"}])]
    records += [Record(f"r{i}", messages=m) for i, m in enumerate(conversations(40, seed=1))]
    stats.calibrate(records)
    assert stats.mode == "template"
    assert stats.check["render_equal"] < stats.check["records"]
    pref = Record("pref", messages=[{"role": "user", "content": " Which? "}], chosen=" This one. ", rejected="That one, surely.")
    records.append(pref)
    plans, pieces = stats.plan(records)
    counts = stats.encode(pieces)
    for p, rec in zip(plans, records):
        roles, total, _ = stats.measure(p, counts)
        assert total == real_count(wrapped, TokenStats.conversation(rec))
    assert roles["rejected"] == len(tok(pref.rejected, add_special_tokens=False)["input_ids"])


def test_text_and_preference_records(tok):
    stats = TokenStats(tok, 8)
    text = Record("t", text="one two three four five six seven eight nine ten")
    pref = Record("p", messages=[{"role": "user", "content": "Which?"}], chosen="This one.", rejected="That one, surely.")
    plans, pieces = stats.plan([text, pref])
    counts = stats.encode(pieces)
    stats.fold(plans, counts, [text, pref])
    n_text = len(tok(text.text, add_special_tokens=False)["input_ids"])
    n_pref = real_count(tok, pref.messages + [{"role": "assistant", "content": pref.chosen}])
    d = stats.to_dict()
    assert d["per_role"]["text"]["max"] == n_text
    assert d["per_role"]["rejected"]["max"] == len(tok(pref.rejected, add_special_tokens=False)["input_ids"])
    assert sorted([d["total"]["min"], d["total"]["max"]]) == sorted([n_text, n_pref])
    assert d["over_max_seq_len"]["records"] == 2


class RefusingTemplate(TrimmingTemplate):
    """ChatML without trimming, refusing conversations that start with the assistant."""

    chat_template = (
        "{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('must start with the user') }}{% endif %}"
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    )


def test_conversations_the_template_refuses_are_counted_apart(tok):
    wrapped = RefusingTemplate(tok)
    stats = TokenStats(wrapped, 2048)
    ok = Record("ok", messages=[{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}])
    refused = Record("refused", messages=[{"role": "assistant", "content": "I start."}, {"role": "user", "content": "Fine."}])
    stats.calibrate([ok, refused])
    assert stats.mode == "shortcut" and stats.check["records"] == 1
    plans, pieces = stats.plan([ok, refused])
    stats.fold(plans, stats.encode(pieces), [ok, refused])
    d = stats.to_dict()
    assert d["template_errors"] == 1
    assert d["total"]["count"] == 1 and d["total"]["max"] == real_count(wrapped, ok.messages)
    assert d["per_role"]["assistant"]["count"] == 2  # per-role counts do not need the template
