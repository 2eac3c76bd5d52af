"""Where a causal language model's weights are, for any model spec curatune accepts.

``default`` is the packaged SmolLM2-135M-Instruct GGUF; a ``.gguf`` file (or a
folder holding only one) is dequantised once to float32 safetensors in the
cache, since transformers loads a GGUF file in about 50 s and a converted copy
in under one; a folder with ``config.json`` and a hub id are used as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from .packaged import smollm2_gguf
from .tokenizer import DEFAULT, cache_dir, gguf_cache_key, save_atomically


def converted_gguf(gguf: Path) -> Path:
    """A folder holding the GGUF model dequantised to float32 safetensors, converting it the first time."""
    from transformers import AutoModelForCausalLM

    cached = cache_dir() / "models" / gguf_cache_key(gguf)
    if (cached / "config.json").is_file():
        return cached
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    # transformers refuses to save a model it loaded from GGUF; the weights are plain float32
    # tensors by now, so dropping the quantisation marks makes it an ordinary model.
    model.config.__dict__.pop("quantization_config", None)
    model.hf_quantizer = None  # type: ignore[assignment]  # declared through nn.Module's __getattr__ (Tensor | Module)
    save_atomically(cached, model.save_pretrained)
    return cached


def resolve_causal_lm(spec: str = DEFAULT) -> tuple[str, str]:
    """``(weights, tokenizer)``: what ``from_pretrained`` and ``load_tokenizer`` should be given for ``spec``."""
    path = Path(spec).expanduser() if spec not in (DEFAULT, "", None) else None
    if path is None:
        return str(converted_gguf(smollm2_gguf())), DEFAULT
    if path.is_file() and path.suffix == ".gguf":
        return str(converted_gguf(path)), str(path)
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs and not (path / "config.json").is_file():
            return str(converted_gguf(ggufs[0])), str(path)
        return str(path), str(path)
    return spec, spec


def use_omp_threads() -> None:
    """Give torch the threads OMP_NUM_THREADS allows: worker processes and a shared machine set it to 1 on purpose."""
    import torch

    n = os.environ.get("OMP_NUM_THREADS", "")
    if n.isdigit() and int(n) > 0 and torch.get_num_threads() != int(n):
        torch.set_num_threads(int(n))
