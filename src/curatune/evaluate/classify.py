"""A classifier's label for each held-out text: the argmax of its logits, named by the model's ``id2label``."""

from __future__ import annotations

from collections.abc import Sequence

_MAX_TOKENS = 512  # encoders curatune trains have 512 positions at most; longer texts are cut, as training cuts them


def predict_labels(model, tokenizer, texts: Sequence[str], batch_size: int = 32) -> list[str]:
    """The predicted label of each text, in input order."""
    import torch

    config = model.config
    id2label = {int(i): str(label) for i, label in config.id2label.items()}
    max_length = min(getattr(config, "max_position_embeddings", _MAX_TOKENS) or _MAX_TOKENS, _MAX_TOKENS)
    device = next(model.parameters()).device
    out: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(device)
            logits = model(**encoded).logits
            out.extend(id2label[i] for i in logits.argmax(-1).tolist())
    return out
