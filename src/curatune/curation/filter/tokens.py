"""Token-length checks in the tokens the model will see: after its chat template, with its tokenizer.

``filter.token_length`` fails records longer than ``max_seq_len`` (they would
be truncated in training, usually losing the answer) and records whose answer
is shorter than ``min_answer_tokens`` (empty answers; the default of 1 keeps
"Paris.").

Speed: rendering the Jinja chat template per record runs at about 5,000
records/s here. The template's own tokens depend only on the sequence of
roles, so they are measured once per role sequence (render the template with
a one-token placeholder per message, subtract the placeholders) and each
message's content is tokenised alone with the fast tokenizer. Before any
tokenising, two bounds settle most records: a token covers at least one byte
of text (plus one per message for a SentencePiece dummy prefix), so a record
whose bytes fit is not too long; and each whitespace-separated word is at
least one token, so an answer of enough words is not too short. ``exact:
true`` renders the template for every record and skips the bounds;
``bench/bench_quality_filters.py`` measures how often the two differ.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict

_PROBE = "x"


# Rendering a chat template goes through transformers' renderer, whose import costs about a second in
# every worker process of every run; the template's tokens per role sequence are kept on disk instead,
# keyed by everything the rendering depends on (CountingTokenizer.template_key).
def _overheads_file() -> Path:
    from ...models.tokenizer import cache_dir

    return cache_dir() / "template_overheads.json"


def stored_overhead(key: str, roles: tuple[str, ...]) -> int | None:
    try:
        value = json.loads(_overheads_file().read_text(encoding="utf-8")).get(f"{key}|{','.join(roles)}")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


def store_overhead(key: str, roles: tuple[str, ...], tokens: int) -> None:
    path = _overheads_file()
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict) or len(known) > 10_000:
        known = {}
    known[f"{key}|{','.join(roles)}"] = tokens
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known), encoding="utf-8")
        os.replace(tmp, path)  # atomic: two workers writing at once leave one whole file
    except OSError:
        pass  # a read-only cache only costs the rendering next time


@register("filter.token_length")
class TokenLength(Filter):
    """Drop records over ``max_seq_len`` tokens (chat template included) or with fewer than ``min_answer_tokens`` answer tokens.

    ``tokenizer``: ``default`` (the packaged SmolLM2), a folder, a ``.gguf``
    file, or a hub id already in the local cache. Works on chat, preference
    (the longer of prompt+chosen and prompt+rejected), plain-text and
    labelled records (labelled records have no answer to measure).
    """

    reasons = ("over_max_seq_len", "answer_too_short")

    def __init__(
        self,
        tokenizer: str = "default",
        max_seq_len: Annotated[int, Field(gt=0)] = 2048,
        min_answer_tokens: Annotated[int, Field(ge=0)] = 1,
        exact: bool = False,
    ):
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.min_answer_tokens = min_answer_tokens
        self.exact = exact

    def setup(self) -> None:
        from ...models.tokenizer import load_counting_tokenizer

        self._tok = load_counting_tokenizer(self.tokenizer)
        self._fast = getattr(self._tok, "backend_tokenizer", None)
        self._has_template = bool(getattr(self._tok, "chat_template", None))
        self._overheads: dict[tuple[str, ...], int] = {}
        self._special = len(self._tok("", add_special_tokens=True)["input_ids"])

    def __getstate__(self):
        # The tokenizer is loaded again in each worker by setup(); it is not pickled with the step.
        return {k: v for k, v in self.__dict__.items() if k not in ("_tok", "_fast", "_overheads")}

    # ---- counting ----------------------------------------------------------------------------

    def count(self, text: str) -> int:
        """Tokens of a text alone, without special tokens."""
        if not text:
            return 0
        if self._fast is not None:
            return len(self._fast.encode(text, add_special_tokens=False).ids)
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def _template_len(self, messages: list[dict[str, str]]) -> int:
        out = self._tok.apply_chat_template(messages, tokenize=True)
        ids = out["input_ids"] if isinstance(out, dict) or hasattr(out, "keys") else out
        return len(ids)

    def _overhead(self, roles: tuple[str, ...]) -> int:
        cached = self._overheads.get(roles)
        if cached is None:
            key = getattr(self._tok, "template_key", None)
            cached = stored_overhead(key, roles) if key else None
            if cached is None:
                probe = [{"role": r, "content": _PROBE} for r in roles]
                cached = self._template_len(probe) - len(roles) * self.count(_PROBE)
                if key:
                    store_overhead(key, roles, cached)
            self._overheads[roles] = cached
        return cached

    def chat_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens of a conversation after the chat template (no template: the contents and special tokens)."""
        if not self._has_template:
            return self._special + sum(self.count(m.get("content") or "") for m in messages)
        if self.exact:
            return self._template_len(messages)
        roles = tuple(m.get("role", "user") for m in messages)
        return self._overhead(roles) + sum(self.count(m.get("content") or "") for m in messages)

    def chat_tokens_and_answer(self, messages: list[dict[str, str]]) -> tuple[int, int]:
        counts = [self.count(m.get("content") or "") for m in messages]
        # Answer tokens are counted on the stripped text: an answer of blanks is no answer.
        answer = sum(
            n if (m.get("content") or "") == (m.get("content") or "").strip() else self.count((m.get("content") or "").strip())
            for n, m in zip(counts, messages)
            if m.get("role") == "assistant"
        )
        if not self._has_template:
            return self._special + sum(counts), answer
        if self.exact:
            return self._template_len(messages), answer
        return self._overhead(tuple(m.get("role", "user") for m in messages)) + sum(counts), answer

    def _surely_fine(self, rec: Record) -> bool:
        """True when byte and word bounds alone show the record passes both checks."""
        kind = rec.kind
        if kind == "chat":
            messages = rec.messages or []
            if self._has_template:
                upper = self._overhead(tuple(m.get("role", "user") for m in messages))
            else:
                upper = self._special
            upper += sum(len((m.get("content") or "").encode("utf-8")) + 1 for m in messages)
            answer_words = sum(len(c.split()) for c in rec.contents("assistant"))
        elif kind == "preference":
            return False
        else:
            upper = self._special + len((rec.text or "").encode("utf-8")) + 1
            answer_words = len((rec.text or "").split()) if kind == "text" else self.min_answer_tokens
        return upper <= self.max_seq_len and answer_words >= self.min_answer_tokens

    def record_tokens(self, rec: Record) -> tuple[int, int | None]:
        """(tokens the model sees, answer tokens or None when the record has no answer)."""
        kind = rec.kind
        if kind == "chat":
            return self.chat_tokens_and_answer(rec.messages or [])
        if kind == "preference":
            prompt = list(rec.messages or [])
            sides = [ans for ans in (rec.chosen, rec.rejected) if ans is not None]  # one side for a KTO example
            longest = max(self.chat_tokens(prompt + [{"role": "assistant", "content": ans}]) for ans in sides)
            return longest, self.count(sides[0].strip())
        n = self._special + self.count(rec.text or "")
        return n, (None if kind == "labelled" else self.count((rec.text or "").strip()))

    def keep(self, rec: Record) -> Verdict:
        if not self.exact and self._surely_fine(rec):
            return KEEP
        total, answer = self.record_tokens(rec)
        if total > self.max_seq_len:
            return Drop("over_max_seq_len", total, self.max_seq_len)
        if answer is not None and answer < self.min_answer_tokens:
            return Drop("answer_too_short", answer, self.min_answer_tokens)
        return KEEP
