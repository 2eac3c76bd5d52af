"""Every training example's loss under the trained model, highest first.

After training, the examples the model still cannot fit are disproportionately
the wrong ones: mislabelled classes, wrong answers, answers to another
question. ``losses.jsonl`` lists every training example with its mean loss per
trained token, highest first; the curation step ``filter.train_loss`` reads it
to flag or drop the worst on the next pass.
"""

from __future__ import annotations

from pathlib import Path

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


def write_losses(ids: list[str], losses: list[float], path: Path) -> list[dict]:
    """``losses.jsonl``, highest loss first, with rank; the ranked rows."""
    ranked = sorted(zip(ids, losses), key=lambda t: -t[1])
    rows = [{"rank": i + 1, "id": id_, "loss": round(loss, 5)} for i, (id_, loss) in enumerate(ranked)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return rows
