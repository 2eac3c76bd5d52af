"""Instruction-following difficulty (IFD): how much the question helps a small model predict the answer.

From Li et al. 2023, "From Quantity to Quality: Boosting LLM Performance with
Self-Guided Data Selection for Instruction Tuning" (Cherry LLM). With a causal
language model and the answer's tokens a_1..a_N::

    answer_ppl       = exp( -1/N * sum_i log p(a_i | question, a_<i) )   # the answer after the question
    answer_ppl_alone = exp( -1/N * sum_i log p(a_i | a_<i) )             # the answer on its own
    ifd              = answer_ppl / answer_ppl_alone

(the paper writes the ratio of the two mean losses; its code, and this module,
the ratio of the perplexities: either is above 1 exactly when the other is).

- A low IFD (well below 1): the question makes the answer much easier to
  predict, i.e. the answer follows from the question; the lowest are often
  easy or formulaic pairs.
- A high IFD (near 1): the model finds the answer hard even given the question,
  the pairs Cherry LLM selects for tuning.
- IFD > 1: the question makes the answer *harder* to predict; the pair is
  incoherent or the answer does not answer it. Cherry LLM drops these
  (``max_ifd: 1.0`` here).

How the two losses are taken:

- The question is the record's messages before its last assistant turn,
  rendered through the tokenizer's chat template with the generation prompt
  (so the system prompt and earlier turns count as context); the answer is
  that last assistant turn (a preference pair's chosen answer). Only answer
  tokens are scored. A tokenizer without a chat template gets the turns
  joined by blank lines.
- Alone, the answer follows only the token a text starts with: the one the
  tokenizer adds in front of a text (Llama's BOS), else the document separator
  ``<|endoftext|>`` where the vocabulary has one (SmolLM2, Qwen, GPT-2), else
  the ``bos_token``. With none of them, the first answer token has nothing to be
  predicted from and both losses skip it.
- ``max_tokens`` caps the question + answer sequence: the question keeps up to
  half of it (its end, next to the answer), the answer the rest (its
  beginning); both losses read the same, possibly cut, answer tokens.
- Records without an answer (plain text, labelled, empty answers) get no score.

Cost: two forward passes per record, on CPU in batches padded to the longest
sequence of the batch (sequences are sorted by length first). Logits are
computed only at answer positions, in chunks, so memory does not grow with
the vocabulary times the batch. The forward passes are nearly all of the
time: with the packaged SmolLM2-135M in float32, about one Alpaca record per
second per core (batching 8 gains about 40% over one at a time; bench/bench_ifd.py),
so score a sample, or give the step more threads (OMP_NUM_THREADS). Scores are cached on disk by
content (``$CURATUNE_CACHE/ifd/<model>/``): a second run over the same records loads no model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from ...embed.cache import EmbeddingCache, text_key
from ...errors import InputError
from ...models.causal_lm import resolve_causal_lm, use_omp_threads
from ...models.packaged import smollm2_gguf
from ...models.tokenizer import DEFAULT, cache_dir, load_tokenizer
from ..phases import phase
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict

# A question as a string (one user turn) or as chat messages.
Prompt = str | list[dict[str, str]]

# Rows of hidden states turned into logits at once: 1,024 x 49,152 vocabulary x 4 bytes = 200 MB
# (twice that inside cross_entropy), whatever the batch size.
_LOGIT_ROWS = 1024
_DOC_SEPARATOR = "<|endoftext|>"
# Records scored at once: sorted by length within the chunk (less padding); the progress bar moves per chunk.
_CHUNK = 256


# ---- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CausalLM:
    """A causal language model with its tokenizer, ready for scoring (eval mode, float32, CPU)."""

    model: Any
    tokenizer: Any


def resolve_device(device: str) -> str:
    """``auto``: the first GPU when torch sees one, else ``cpu``; any other value (``cpu``, ``cuda:1``) as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=2)
def load_lm(spec: str = DEFAULT, device: str = "cpu") -> CausalLM:
    """The model for ``spec``: ``default`` (packaged SmolLM2-135M-Instruct), a .gguf file, a folder, or a cached hub id.

    On ``device`` (a torch device name), in float32 there too, so scores match the CPU's to rounding and the
    cache (keyed by model and text, not device) serves both."""
    from transformers import AutoModelForCausalLM

    folder, tok_spec = resolve_causal_lm(spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32", local_files_only=True)
    except Exception as e:
        raise InputError(
            f"Cannot load a causal language model from {spec!r} ({e}). Pass a local folder (saved with save_pretrained) "
            "or a .gguf file; curatune does not download at run time. 'default' is the packaged SmolLM2-135M-Instruct."
        ) from e
    model.eval()
    _check_head(model, spec)
    if device != "cpu":
        model.to(device)  # type: ignore[arg-type]  # transformers types .to by its wrapper
    return CausalLM(model, load_tokenizer(tok_spec))


def _check_head(model, spec: str) -> None:
    """Scoring takes logits as the output layer of the last hidden states; refuse models that change them after."""
    import torch

    ids = torch.tensor([[1, 2, 3, 4]]) % model.config.vocab_size
    with torch.inference_mode():
        full = model(input_ids=ids).logits
        ours = model.get_output_embeddings()(model.base_model(input_ids=ids).last_hidden_state)
    if not torch.allclose(full, ours, rtol=1e-4, atol=1e-4):
        raise InputError(
            f"The model {spec!r} transforms its logits after the output layer (soft-capping or scaling); "
            "score.ifd does not support it. Use a Llama-, Qwen-, Mistral- or GPT-2-style model."
        )


# ---- token sequences ------------------------------------------------------------------------


def answer_pair(rec: Record) -> tuple[list[dict[str, str]], str] | None:
    """``(question messages, answer)`` of a record: the turns before its last assistant turn and that turn.

    None when the record has no non-empty answer (plain text, labelled text, no assistant turn).
    """
    if rec.chosen is not None:
        prompt, answer = [m for m in rec.messages or () if m["role"] != "assistant"], rec.chosen
    else:
        messages = rec.messages or []
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
        if last is None:
            return None
        prompt, answer = messages[:last], messages[last]["content"]
    if not answer.strip():
        return None
    return [{"role": m["role"], "content": m["content"]} for m in prompt], answer


def _render_prompt(tok, prompt: Prompt) -> str:
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "".join(m["content"] + "\n\n" for m in messages)


def _start_ids(tok) -> list[int]:
    """What a text starts with when nothing comes before it (see the module doc)."""
    with_special = tok("a", add_special_tokens=True)["input_ids"]
    plain = tok("a", add_special_tokens=False)["input_ids"]
    if len(with_special) > len(plain) and with_special[-len(plain) :] == plain:
        return with_special[: len(with_special) - len(plain)]
    # GPT-2-style vocabularies (SmolLM2, Qwen, Phi) separate pretraining documents with <|endoftext|>:
    # after it the model expects any text. SmolLM2's bos_token <|im_start|> expects a role name
    # ("user"), which made the first answer token 2 nats less likely than after <|endoftext|>.
    eot = tok.convert_tokens_to_ids(_DOC_SEPARATOR) if _DOC_SEPARATOR in tok.get_vocab() else None
    if eot is not None:
        return [eot]
    return [tok.bos_token_id] if tok.bos_token_id is not None else []


def fit(prompt_ids: list[int], answer_ids: list[int], max_tokens: int) -> tuple[list[int], list[int]]:
    """Cut a pair to ``max_tokens``: the question keeps up to half (its end), the answer the rest (its start)."""
    if len(prompt_ids) + len(answer_ids) <= max_tokens:
        return prompt_ids, answer_ids
    answer_ids = answer_ids[: max_tokens - min(len(prompt_ids), max_tokens // 2)]
    keep = max_tokens - len(answer_ids)
    return prompt_ids[max(0, len(prompt_ids) - keep) :], answer_ids


@dataclass(frozen=True)
class Scored:
    """A token sequence whose last ``n`` tokens are scored."""

    ids: list[int]
    n: int


def encode_pairs(tok, pairs: Sequence[tuple[Prompt, str]], max_tokens: int) -> list[tuple[Scored, Scored] | None]:
    """``(with the question, alone)`` sequences for each pair; None for a pair without answer tokens."""
    prompts = tok([_render_prompt(tok, p) for p, _ in pairs], add_special_tokens=False)["input_ids"]
    answers = tok([a for _, a in pairs], add_special_tokens=False)["input_ids"]
    start = _start_ids(tok)
    out: list[tuple[Scored, Scored] | None] = []
    for p_ids, a_ids in zip(prompts, answers):
        p_ids, a_ids = fit(list(p_ids), list(a_ids), max_tokens)
        # Without a start token the first answer token is predicted from nothing when alone: skip it in both.
        n = len(a_ids) if start else len(a_ids) - 1
        out.append((Scored(p_ids + a_ids, n), Scored(start + a_ids, n)) if n > 0 and p_ids else None)
    return out


# ---- losses ---------------------------------------------------------------------------------


def mean_nll(lm: CausalLM, seqs: Sequence[Scored], batch_size: int = 8) -> list[float]:
    """Mean negative log-likelihood (nats) of each sequence's last ``n`` tokens, batched and right-padded.

    Padding sits after every real token, so causal attention never sees it; the
    hidden states of the positions that predict scored tokens go through the
    output layer in chunks of ``_LOGIT_ROWS`` rows.
    """
    import torch
    import torch.nn.functional as F

    use_omp_threads()
    model = lm.model
    device = model.device
    head = model.get_output_embeddings()
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids), reverse=True)
    out = [math.nan] * len(seqs)
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            width = len(seqs[idx[0]].ids)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            rows: list[int] = []
            cols: list[int] = []
            targets: list[int] = []
            for r, i in enumerate(idx):
                s = seqs[i]
                ids[r, : len(s.ids)] = torch.tensor(s.ids)
                mask[r, : len(s.ids)] = 1
                first = len(s.ids) - s.n  # position of the first scored token
                rows += [r] * s.n
                cols += range(first - 1, len(s.ids) - 1)  # the positions that predict them
                targets += s.ids[first:]
            hidden = model.base_model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
            picked = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
            target = torch.tensor(targets, device=device)
            nll = torch.cat(
                [
                    F.cross_entropy(head(picked[c : c + _LOGIT_ROWS]).float(), target[c : c + _LOGIT_ROWS], reduction="none")
                    for c in range(0, len(targets), _LOGIT_ROWS)
                ]
            )
            start = 0
            for i in idx:
                out[i] = nll[start : start + seqs[i].n].mean().item()
                start += seqs[i].n
    return out


def ifd_scores(
    pairs: Sequence[tuple[Prompt, str]],
    model: str | CausalLM = DEFAULT,
    max_tokens: int = 512,
    batch_size: int = 8,
    device: str = "cpu",
) -> list[dict[str, float] | None]:
    """IFD of each ``(question, answer)`` pair: ``{"ifd", "answer_ppl", "answer_ppl_alone"}``, or None without answer tokens.

    ``question`` is a string (one user turn) or chat messages; ``batch_size`` counts
    sequences per forward pass (two per pair); ``model`` is a spec
    for :func:`load_lm` (loaded on ``device``) or a loaded :class:`CausalLM`. Usable without a pipeline.
    """
    if not pairs:
        return []
    lm = model if isinstance(model, CausalLM) else load_lm(model, resolve_device(device))
    encoded = encode_pairs(lm.tokenizer, pairs, max_tokens)
    todo = [e for e in encoded if e is not None]
    # Both sequences of every pair in one list: one sort by length, fuller batches.
    nll = mean_nll(lm, [s for pair in todo for s in pair], batch_size)
    out: list[dict[str, float] | None] = []
    k = 0
    for e in encoded:
        if e is None:
            out.append(None)
            continue
        cond, alone = nll[k], nll[k + 1]
        k += 2
        scores = {"ifd": math.exp(cond - alone), "answer_ppl": math.exp(cond), "answer_ppl_alone": math.exp(alone)}
        out.append(scores if all(math.isfinite(v) for v in scores.values()) else None)
    return out


# ---- the step -------------------------------------------------------------------------------


@register("score.ifd")
class IfdScore(GlobalStep):
    """Score instruction-following difficulty (Cherry LLM's IFD) with a small LM: ``ifd``, ``answer_ppl``, ``answer_ppl_alone``.

    ``ifd`` = perplexity of the answer after the question / perplexity of the
    answer alone; above 1 the question does not help predict the answer
    (Cherry LLM drops those: ``max_ifd: 1.0``; by default nothing is dropped).
    ``model``: ``default`` (packaged SmolLM2-135M-Instruct), a folder or a .gguf
    file. ``max_tokens`` caps question + answer; ``batch_size``: sequences per
    forward pass (two per record). Records without an answer get no score.
    ``cache``: scores are kept on disk by content (model, ``max_tokens``, question
    and answer), so a rerun or another selection over the same records scores
    nothing twice. Slow on a CPU: about one record per second per core; ``device: auto`` (the default) scores
    on the first GPU when torch sees one (this step runs in the main process, never in forked workers).
    See :mod:`curatune.curation.score.ifd`.
    """

    reasons = ("ifd_above_max",)
    # The contract test runs every step on a sample; a tiny random model shipped beside this module
    # keeps that to a second (its scores mean nothing). Built by tests/data/score/test_scores.py.
    contract_params = {"model": str(Path(__file__).with_name("resources") / "tiny_lm")}

    def __init__(
        self,
        model: str = DEFAULT,
        max_tokens: Annotated[int, Field(ge=16)] = 512,
        batch_size: Annotated[int, Field(ge=1)] = 8,
        max_ifd: Annotated[float, Field(gt=0)] | None = None,
        cache: bool = True,
        device: str = "auto",
    ):
        self.model = model
        self.device = device
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.max_ifd = max_ifd
        self.cache = cache
        self._pending: list[tuple[str, int, tuple[list[dict[str, str]], str]]] = []
        self._scores: dict[str, dict[str, float]] = {}
        self._store: EmbeddingCache | None = None
        self.computed = 0  # records scored by the model (not found in the cache) by this step

    def _cache(self) -> EmbeddingCache | None:
        if self.cache and self._store is None:
            self._store = EmbeddingCache(cache_dir() / "ifd" / lm_key(self.model), dim=3, dtype=np.float64)
        return self._store

    def _key(self, pair: tuple[list[dict[str, str]], str]) -> int:
        return text_key(json.dumps([self.max_tokens, pair[0], pair[1]], ensure_ascii=False))

    # The model is loaded in finish, only when some record is not in the cache (never for an empty
    # input), and is not part of the step's state: load_lm caches it per process.
    def observe(self, rec: Record, prepared: Any) -> None:
        pair = answer_pair(rec)
        if pair is None:
            return
        key = self._key(pair)
        store = self._cache()
        if store is not None:
            found, missing = store.get([key])
            if found is not None and not missing:
                self._scores[rec.id] = _as_scores(found[0])
                return
        self._pending.append((rec.id, key, pair))

    def finish(self) -> None:
        """Score the records not in the cache, longest first within chunks, with a progress bar (``phase``)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        store = self._cache()
        with phase(f"IFD of {len(pending):,} records", total=len(pending)) as advance:
            for start in range(0, len(pending), _CHUNK):
                chunk = pending[start : start + _CHUNK]
                scores = ifd_scores([p for _, _, p in chunk], self.model, self.max_tokens, self.batch_size, self.device)
                keys, rows = [], []
                for (rid, key, _), sc in zip(chunk, scores):
                    if sc is not None:
                        self._scores[rid] = sc
                        keys.append(key)
                        rows.append([sc["ifd"], sc["answer_ppl"], sc["answer_ppl_alone"]])
                if store is not None and keys:
                    store.put(keys, np.asarray(rows, dtype=np.float64))
                self.computed += len(chunk)
                advance(len(chunk))

    def decide(self, rec: Record) -> Verdict:
        # The pipeline keeps (or drops) this very record object, so scores written here reach the output.
        scores = self._scores.pop(rec.id, None)
        if scores is None:
            return KEEP
        rec.meta.setdefault("scores", {}).update(scores)
        if self.max_ifd is not None and scores["ifd"] > self.max_ifd:
            return Drop("ifd_above_max", round(scores["ifd"], 4), self.max_ifd)
        return KEEP


def _as_scores(row: np.ndarray) -> dict[str, float]:
    return {"ifd": float(row[0]), "answer_ppl": float(row[1]), "answer_ppl_alone": float(row[2])}


def lm_key(spec: str) -> str:
    """A cache folder name for a model spec: the spec's name and a hash of its files' sizes and times."""
    path = smollm2_gguf() if spec in (DEFAULT, "", None) else Path(spec).expanduser()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
    stamp = spec + "|" + "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return f"{path.name}-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
