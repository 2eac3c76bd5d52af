"""Every training example's loss under the trained model, highest first.

After training, the examples the model still cannot fit are disproportionately
the wrong ones: mislabelled classes, wrong answers, answers to another
question. ``losses.jsonl`` lists every training example, worst first; the
curation step ``filter.train_loss`` reads it to flag or drop the worst on the
next pass.

The mean loss per token is not comparable across lengths: the first tokens of an
answer are the hardest to predict, so a short correct answer ("cmptr" ->
"computer": a few tokens, all of them uncertain) has a higher mean than a long
one whose many later tokens are easy, and ranking by it would flag short good
answers first. For generation the rank is by ``score``: how far the example's loss is
above those of examples of about its length (its length decile of trained
tokens), in robust standard deviations ((loss - median) / (1.4826 x MAD)).
Each row: ``rank``, ``id``, ``score``, ``loss`` (mean per trained token), ``tokens``
(trained tokens), ``expected`` (the median loss at that length). A classifier's
examples are all one label long: there ``score`` is the loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson


def example_losses(model, rows: list[dict], pad_id: int, batch_size: int = 8) -> list[float]:
    """Mean loss per trained token of each row (``input_ids`` and ``labels``, -100 where untrained)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    out = [0.0] * len(rows)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(rows[i]["input_ids"]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            labels = torch.full((len(idx), width), -100, dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            for b, i in enumerate(idx):
                n = len(rows[i]["input_ids"])
                ids[b, :n] = torch.tensor(rows[i]["input_ids"])
                labels[b, :n] = torch.tensor(rows[i]["labels"])
                attn[b, :n] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
            shift_logits, shift_labels = logits[:, :-1], labels[:, 1:].to(device)
            loss = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=-100, reduction="none")
            counts = (shift_labels != -100).sum(1).clamp(min=1)
            for b, i in enumerate(idx):
                out[i] = float(loss[b].sum() / counts[b])
    return out


def classifier_losses(model, rows: list[dict], pad_id: int, batch_size: int = 32) -> list[float]:
    """Cross-entropy of each labelled row under the classifier."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out = [0.0] * len(rows)
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            width = max(len(r["input_ids"]) for r in chunk)
            ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            attn = torch.zeros_like(ids)
            for b, r in enumerate(chunk):
                ids[b, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
                attn[b, : len(r["input_ids"])] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
            labels = torch.tensor([r["labels"] for r in chunk], device=device)
            loss = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
            out[start : start + len(chunk)] = loss.tolist()
    return out


LENGTH_BINS = 10  # length deciles
MIN_PER_BIN = 20  # fewer examples than this per bin: fewer bins (one bin below 2 x MIN_PER_BIN examples)


def trained_tokens(rows: list[dict]) -> list[int]:
    """How many tokens of each row the loss is taken over (the labels that are not -100, after the shift)."""
    return [max(1, sum(1 for t in r["labels"][1:] if t != -100)) for r in rows]


def length_adjusted(losses: list[float], tokens: list[int]) -> tuple[list[float], list[float]]:
    """Each loss's robust z-score among examples of about its length (quantile bins of ``tokens``); and the bins' medians."""
    loss, length = np.asarray(losses, dtype=float), np.asarray(tokens, dtype=float)
    bins = max(1, min(LENGTH_BINS, len(loss) // MIN_PER_BIN))
    edges = np.quantile(length, np.linspace(0, 1, bins + 1)[1:-1]) if bins > 1 else np.array([])
    which = np.searchsorted(edges, length, side="right")
    scores, expected = np.zeros_like(loss), np.zeros_like(loss)
    for b in np.unique(which):
        members = which == b
        median = float(np.median(loss[members]))
        spread = 1.4826 * float(np.median(np.abs(loss[members] - median)))
        scores[members] = (loss[members] - median) / max(spread, 1e-6)
        expected[members] = median
    return scores.tolist(), expected.tolist()


def write_losses(ids: list[str], losses: list[float], path: Path, tokens: list[int] | None = None) -> list[dict]:
    """``losses.jsonl``, worst first (by length-adjusted ``score`` where ``tokens`` are given, else by loss); the rows."""
    scores, expected = (list(losses), list(losses)) if tokens is None else length_adjusted(losses, tokens)
    order = sorted(range(len(ids)), key=lambda i: -scores[i])
    rows = []
    for rank, i in enumerate(order, 1):
        row: dict = {"rank": rank, "id": ids[i], "score": round(scores[i], 4), "loss": round(losses[i], 5)}
        if tokens is not None:
            row.update(tokens=tokens[i], expected=round(expected[i], 5))
        rows.append(row)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return rows
