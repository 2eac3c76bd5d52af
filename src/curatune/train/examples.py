"""Records into token ids and a loss mask, rendered exactly as the model will see them at inference.

For a conversation, the text is the tokenizer's own chat template applied to
all its messages. The tokens trained are each assistant turn's, found without
``{% generation %}`` markers (few templates have them): for assistant turn
*i*, the template renders the messages before it with the generation prompt
(what the model is given at inference) and the messages up to and including
it; the characters between the two are the turn, end-of-turn token included.
Both must be prefixes of the whole rendering, or training would teach a text
the model never sees at inference: that is :func:`template_problems`' check.

Plain-text records train on every token (with the tokenizer's BOS and an EOS
appended so the model learns where a document ends).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from ..curation.record import Record


@dataclass(slots=True)
class TokenExample:
    """One training example: its token ids, which of them carry loss, and where it came from."""

    id: str
    input_ids: list[int]
    assistant_masks: list[int]
    truncated_from: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def trained_tokens(self) -> int:
        return sum(self.assistant_masks)

    @property
    def trained_fraction(self) -> float:
        return self.trained_tokens / len(self.input_ids) if self.input_ids else 0.0


def render(tokenizer, messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_spans(tokenizer, messages: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]], list[str]]:
    """The rendered conversation, the character spans of its assistant turns, and any mismatch found.

    A span runs from the end of the generation prompt to the end of the turn's
    end-of-turn token (trailing whitespace the template adds between turns is
    not trained: the model never has to produce it).
    """
    full = render(tokenizer, messages)
    spans, problems = [], []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1])
        if not upto.startswith(prompt) or not full.startswith(upto):
            problems.append(f"turn {i}: the chat template renders the conversation differently up to this turn than in full")
            continue
        end = len(upto.rstrip())
        if end > len(prompt):
            spans.append((len(prompt), end))
    return full, spans, problems


def chat_example(tokenizer, record: Record, train_on_inputs: bool = False) -> TokenExample:
    """A conversation through the chat template; loss on the assistant turns (every token with ``train_on_inputs``)."""
    messages = [{"role": m["role"], "content": m["content"]} for m in record.messages or ()]
    text, spans, problems = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    if train_on_inputs:
        return TokenExample(record.id, ids, [1] * len(ids), problems=problems)
    return TokenExample(record.id, ids, _mask_from_spans(enc["offset_mapping"], spans), problems=problems)


def _mask_from_spans(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for every token that starts inside a span (a token straddling a span's start belongs to the prompt)."""
    starts = [s for s, _ in spans]
    mask = []
    for tok_start, tok_end in offsets:
        j = bisect.bisect_right(starts, tok_start) - 1
        mask.append(int(j >= 0 and tok_start < spans[j][1] and tok_end > tok_start))
    return mask


def text_example(tokenizer, record: Record) -> TokenExample:
    ids = tokenizer(record.text or "", add_special_tokens=True)["input_ids"]
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids = [*ids, tokenizer.eos_token_id]
    return TokenExample(record.id, ids, [1] * len(ids))


def to_example(tokenizer, record: Record, train_on_inputs: bool = False) -> TokenExample:
    if record.messages is not None:
        if tokenizer.chat_template is None:
            raise ValueError("no chat template")
        return chat_example(tokenizer, record, train_on_inputs)
    return text_example(tokenizer, record)


def truncate(example: TokenExample, max_len: int) -> TokenExample:
    """Keep the first ``max_len`` tokens, remembering the original length."""
    return TokenExample(
        example.id, example.input_ids[:max_len], example.assistant_masks[:max_len], len(example.input_ids), example.problems
    )
