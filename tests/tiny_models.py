"""Tiny models built in a second, for tests: no download, no packaged weights.

- :func:`build_tiny_lm`: a random Llama with a byte-level tokenizer (one token
  per byte) and a ChatML template;
- :func:`build_tiny_bert`: a random BERT classifier body with a word-level
  tokenizer over a given vocabulary.

Imported by tests as ``from tiny_models import ...`` (tests/ is on the path
through its conftest.py).
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_lm(folder: Path, hidden: int = 32, layers: int = 2, seed: int = 0, initializer_range: float = 0.5) -> Path:
    """A random Llama with a byte-level tokenizer (one token per byte) and a ChatML template, saved to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens(specials)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>", unk_token="<|endoftext|>"
    )
    tok.chat_template = CHATML
    torch.manual_seed(seed)
    # A wide initialisation by default, so that the random model's predictions differ from token to token.
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, initializer_range=initializer_range, bos_token_id=1, eos_token_id=2,
        pad_token_id=2, tie_word_embeddings=True,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_tiny_bert(folder: Path, words: list[str], hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random BERT (no head: the classifier is added when training) with a word-level tokenizer over ``words``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(specials + sorted(set(words)))}
    wl = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    wl.normalizer = normalizers.Lowercase()
    wl.pre_tokenizer = pre_tokenizers.Whitespace()
    wl.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=wl, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# ---- small datasets the tiny models learn --------------------------------------------------


def arithmetic(n: int, seed: int = 0) -> list[dict]:
    """Learnable chat pairs (``"3+4"`` -> ``"7"``): the answer follows from the question."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randrange(10), rng.randrange(10)
        out.append({"id": f"r{i}", "messages": [{"role": "user", "content": f"{a}+{b}"}, {"role": "assistant", "content": str(a + b)}]})
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
