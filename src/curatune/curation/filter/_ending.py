"""Does an answer end where it should? The language-model signal of ``filter.truncated_answer`` (``lm:``).

An answer cut at a word boundary ends where a language model expects more words ("... the theory that
proposes all living organisms"); a complete answer, even one whose writer left out the final full stop,
ends where it expects the end of the turn or a full stop. The signal is the probability of those tokens
right after the answer, given the prompt rendered with the model's chat template. It needs a forward pass
per answer (the packaged SmolLM2-135M-Instruct: a fraction of a second on a CPU core), so the step asks for
it only on the answers its rules leave open: those that end on a bare word that is no connector.
"""

from __future__ import annotations

# ---- the language-model signal (optional: a forward pass per answer) ----------------------------------------

# What may follow a complete answer: the end of the turn, or the punctuation its writer left out.
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "</s>", ".", "!", "?", "\n", ".\n", "\n\n", ".\n\n", '."', "!\n", "?\n")


def lm_end_probability(lm, prompt: list[dict[str, str]], answer: str, max_tokens: int = 384) -> float:
    """How likely ``lm`` (a :class:`curatune.curation.score.ifd.CausalLM`) finds the answer over right after its
    last word: the probability of the end of the turn, or of the final punctuation a writer may have left out.

    A cut answer ends where the model expects more words, so this is low; a complete one, punctuated or not,
    ends where it expects the turn to end or a full stop to come."""
    import torch

    from ..score.ifd import _render_prompt

    tok, model = lm.tokenizer, lm.model
    ids = tok(_render_prompt(tok, prompt) + answer.rstrip(), add_special_tokens=False)["input_ids"][-max_tokens:]
    end_ids = _end_ids(tok)
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
    probs = logits.float().softmax(-1)
    return float(probs[list(end_ids)].sum())


def _end_ids(tok) -> frozenset[int]:
    vocab = tok.get_vocab()
    out = {vocab[t] for t in _END_TOKENS if t in vocab}
    for t in (".", "!", "?", "\n"):
        ids = tok(t, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            out.add(ids[0])
    if tok.eos_token_id is not None:
        out.add(tok.eos_token_id)
    return frozenset(out)
