"""Greedy answers to held-out prompts, rendered with the model's own chat template as at inference.

Each prompt is the conversation before its last (reference) answer, followed by the template's
generation prompt. Prompts are batched by length and padded on the left, so that every row's
new tokens start at the same column; generation stops at the end-of-sequence token(s) or after
``max_new_tokens``. An answer is its new tokens decoded, special tokens left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..train.examples import render

Conversation = Sequence[dict[str, Any]]


def generate_answers(model, tokenizer, conversations: Sequence[Conversation], max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
    """The model's greedy answer to each conversation, in input order."""
    import torch

    prompts = [
        tokenizer(render(tokenizer, list(c), add_generation_prompt=True), add_special_tokens=False)["input_ids"] for c in conversations
    ]
    stop = stop_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop[0]
    device = next(model.parameters()).device
    # Similar lengths together: less padding, and a row's answer does not depend on which batch it fell in by much.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(prompts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            input_ids, attention_mask = _left_padded([prompts[i] for i in rows], pad)
            out = model.generate(
                input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), max_new_tokens=max_new_tokens,
                do_sample=False, num_beams=1, pad_token_id=pad, eos_token_id=stop,
            )  # fmt: skip
            new_tokens = out[:, input_ids.shape[1] :]
            for row, tokens in zip(rows, new_tokens.tolist()):
                answers[row] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
    return answers


def stop_token_ids(model, tokenizer) -> list[int]:
    """Every token that ends an answer: the generation config's end-of-sequence ids and the tokenizer's."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = list(eos) if isinstance(eos, (list, tuple)) else [eos] if eos is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise ValueError("The model and its tokenizer name no end-of-sequence token: answers would never stop before max_new_tokens.")
    return ids


def _left_padded(rows: list[list[int]], pad: int):
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, ids in enumerate(rows):
        input_ids[b, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[b, width - len(ids) :] = 1
    return input_ids, attention_mask
