"""Checks before the first step, which fine-tuning frameworks leave to luck.

1. **Length**: how many examples the tokenizer makes longer than ``max_seq_len``
   (never cut silently: dropped, truncated or an error, as the recipe says, and
   every one listed by id).
2. **Trained tokens**: the share of each example's tokens that carries loss
   after masking; examples with almost none (a long prompt, a one-word answer)
   are listed, and examples with none are left out (they would only cost time).
3. **Template**: the text trained on is the text the model sees at inference:
   the generation prompt tokenises to the same ids alone as inside the whole
   conversation (a BPE merge across the boundary would teach a token sequence
   inference never produces), and each assistant turn's end-of-turn token is
   trained and is one generation stops on.
4. **Budget**: tokens per epoch, steps, and an estimate of time and memory.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config.train import TrainConfig
from ..curation.pairs.similar import shared_start
from ..curation.record import Record
from ..errors import InputError
from .examples import TokenExample, render, to_example, truncate

TEMPLATE_SAMPLE = 200  # examples whose prompt tokenisation is checked (each costs a few encodes)


@dataclass
class Preflight:
    examples: int = 0
    too_long: list[dict] = field(default_factory=list)
    too_long_action: str = "drop"
    low_trained: list[dict] = field(default_factory=list)
    no_trained: list[str] = field(default_factory=list)
    template_problems: list[dict] = field(default_factory=list)
    end_of_turn: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    read_problems: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The summary a user reads before training starts."""
        b = self.budget
        out = [
            f"examples: {self.examples}; over max_seq_len: {len(self.too_long)} ({self.too_long_action}); "
            f"almost no trained tokens: {len(self.low_trained)}; none: {len(self.no_trained)}",
        ]
        if b:
            out.append(
                f"budget: {b['train_tokens_per_epoch']:,} tokens/epoch ({b['trained_tokens_per_epoch']:,} trained), "
                f"{b['total_steps']} steps; estimated {_duration(b['estimated_seconds'])}"
                + (f", {b['estimated_memory_gib']:.1f} GiB" if b.get("estimated_memory_gib") else "")
            )
        eot = self.end_of_turn
        if eot:
            out.append(
                f"end-of-turn token {eot.get('token')!r}: trained {eot.get('trained')}, stops generation {eot.get('stops_generation')}"
            )
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


# ---- causal LM ----------------------------------------------------------------------------


def prepare_sft(
    records: list[Record], tokenizer, config: TrainConfig, report: Preflight, model_eos: list[int] | None = None
) -> list[TokenExample]:
    """Token examples ready for training, with every check's findings added to ``report``."""
    examples = []
    for r in records:
        try:
            examples.append(to_example(tokenizer, r, config.train_on_inputs))
        except Exception as e:  # a template that raises on this conversation (e.g. a system turn it forbids)
            report.template_problems.append({"id": r.id, "problem": f"the chat template fails on this record: {e}"})
    for ex in examples:
        for p in ex.problems:
            report.template_problems.append({"id": ex.id, "problem": p})
    report.examples += len(examples)
    _check_prompt_tokens(records[:TEMPLATE_SAMPLE], tokenizer, report)
    if model_eos is not None:
        report.end_of_turn = end_of_turn_check(examples[:TEMPLATE_SAMPLE], tokenizer, model_eos)
        if report.end_of_turn and not report.end_of_turn["trained"]:
            report.warnings.append("the end-of-turn token is not trained: the model will not learn to stop")
        elif report.end_of_turn and not report.end_of_turn["stops_generation"]:
            report.warnings.append(
                f"generation stops on {report.end_of_turn['generation_stops_on']} but the turns end with {report.end_of_turn['token']!r}: "
                "set generation_config.eos_token_id"
            )
    return _apply_length_and_mask_rules(examples, config, report)


def _apply_length_and_mask_rules(examples: list[TokenExample], config: TrainConfig, report: Preflight) -> list[TokenExample]:
    kept = []
    report.too_long_action = config.on_too_long
    for ex in examples:
        if len(ex.input_ids) > config.max_seq_len:
            report.too_long.append({"id": ex.id, "tokens": len(ex.input_ids)})
            if config.on_too_long == "drop":
                continue
            ex = truncate(ex, config.max_seq_len)
        if ex.trained_tokens == 0:
            report.no_trained.append(ex.id)
            continue
        if ex.trained_fraction < config.min_trained_fraction:
            report.low_trained.append({"id": ex.id, "trained_tokens": ex.trained_tokens, "tokens": len(ex.input_ids)})
        kept.append(ex)
    if report.too_long and config.on_too_long == "error":
        first = report.too_long[0]
        raise InputError(
            f"{len(report.too_long)} examples are longer than max_seq_len {config.max_seq_len} (first: {first['id']}, {first['tokens']} "
            "tokens). "
            "Raise train.max_seq_len, drop them in curation (filter.max_tokens), or set train.on_too_long: drop or truncate."
        )
    return kept


def _check_prompt_tokens(records: list[Record], tokenizer, report: Preflight) -> None:
    """The generation prompt must tokenise alone as it does inside the whole conversation."""
    for r in records:
        msgs = [{"role": m["role"], "content": m["content"]} for m in r.messages or ()]
        for i, m in enumerate(msgs):
            if m["role"] != "assistant" or i == 0:
                continue
            try:
                prompt = render(tokenizer, msgs[:i], add_generation_prompt=True)
                full = render(tokenizer, msgs)
            except Exception:
                continue  # reported by prepare_sft already
            alone = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            inside = tokenizer(full, add_special_tokens=False)["input_ids"][: len(alone)]
            if alone != inside:
                report.template_problems.append(
                    {
                        "id": r.id,
                        "problem": f"turn {i}: the generation prompt tokenises differently alone than inside the conversation "
                        "(a merge across the boundary)",
                    }
                )
                break


def end_of_turn_check(examples: list[TokenExample], tokenizer, generation_eos: list[int]) -> dict:
    """Which token ends the trained assistant turns, whether it is trained, and whether generation stops on it."""
    last_tokens = []
    for ex in examples:
        m = ex.assistant_masks
        for j in range(len(m)):
            if m[j] and (j + 1 == len(m) or not m[j + 1]):
                last_tokens.append(ex.input_ids[j])
    if not last_tokens:
        return {}
    token_id, _ = Counter(last_tokens).most_common(1)[0]
    special = set(tokenizer.all_special_ids)
    return {
        "token": tokenizer.convert_ids_to_tokens(token_id),
        "token_id": token_id,
        "trained": token_id in special,
        "share_of_turns": round(last_tokens.count(token_id) / len(last_tokens), 3),
        "stops_generation": token_id in generation_eos,
        "generation_stops_on": [tokenizer.convert_ids_to_tokens(t) for t in generation_eos],
    }


# ---- classification -------------------------------------------------------------------------


def prepare_classification(
    records: list[Record], tokenizer, config: TrainConfig, label2id: dict[str, int], report: Preflight
) -> list[dict]:
    rows = []
    report.too_long_action = config.on_too_long
    for r in records:
        ids = tokenizer(r.text or "", add_special_tokens=True)["input_ids"]
        if len(ids) > config.max_seq_len:
            report.too_long.append({"id": r.id, "tokens": len(ids)})
            if config.on_too_long == "drop":
                continue
            ids = ids[: config.max_seq_len - 1] + ids[-1:]  # keep the closing [SEP]
        rows.append({"id": r.id, "input_ids": ids, "labels": label2id[str(r.label)]})
    report.examples += len(records)
    if report.too_long and config.on_too_long == "error":
        raise InputError(
            f"{len(report.too_long)} texts are longer than max_seq_len {config.max_seq_len} tokens (first: {report.too_long[0]['id']}). "
            "Raise train.max_seq_len or set train.on_too_long: truncate."
        )
    return rows


# ---- budget ------------------------------------------------------------------------------------


def measured_flops_per_second() -> float:
    """Floating-point operations per second of a float32 matmul on this device, measured in about 0.2 s."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(512, 512, device=device)
    b = torch.randn(512, 512, device=device)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        a @ b
        n += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return n * 2 * 512**3 / (time.perf_counter() - t0)


def budget(
    train_lengths: list[int],
    *,
    trained_tokens: int,
    val_tokens: int,
    total_params: int,
    trainable_params: int,
    steps_per_epoch: int,
    total_steps: int,
    evaluations: int,
) -> dict[str, Any]:
    """Tokens, steps, and a rough time estimate: 6 FLOPs per parameter per trained-through token for full
    fine-tuning, 4 when the base weights are frozen (no weight gradients), 2 per evaluated token;
    at two thirds of the device's measured matmul rate (attention, optimizer and data loading eat the rest)."""
    tokens_per_epoch = sum(train_lengths)
    epochs = total_steps / steps_per_epoch if steps_per_epoch else 0
    per_token = 6 if trainable_params >= 0.5 * total_params else 4
    flops = per_token * total_params * tokens_per_epoch * epochs + 2 * total_params * val_tokens * evaluations
    rate = measured_flops_per_second() / 1.5
    return {
        "train_examples": len(train_lengths),
        "train_tokens_per_epoch": tokens_per_epoch,
        "trained_tokens_per_epoch": trained_tokens,
        "val_tokens": val_tokens,
        "longest_example": max(train_lengths, default=0),
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
        "evaluations": evaluations,
        "estimated_seconds": round(flops / rate, 1),
        "total_params": total_params,
        "trainable_params": trainable_params,
    }


def steps_for(n_train: int, config: TrainConfig, packed_rows: int | None = None) -> tuple[int, int]:
    """(optimizer steps per epoch, total steps) as the Trainer will count them.

    The Trainer takes an optimiser step on the last, short group of batches too: ceil(batches / accumulation).
    Rounding that down made the budget line promise fewer steps than were run.
    """
    rows = packed_rows if packed_rows is not None else n_train
    batches = math.ceil(rows / config.per_device_train_batch_size)
    per_epoch = max(1, math.ceil(batches / config.gradient_accumulation_steps))
    total = config.max_steps if config.max_steps > 0 else math.ceil(per_epoch * config.num_train_epochs)
    return per_epoch, total


# ---- preference pairs ------------------------------------------------------------------------


@dataclass
class PairExample:
    """One preference record through the chat template: the prompt's tokens and each side's answer tokens.

    The answer starts where the prompt rendered with the generation prompt stops being a prefix of the
    prompt and answer rendered together (as TRL's trainers find it), so the lengths here are theirs.
    """

    id: str
    prompt: list[dict[str, str]]
    answers: dict[str, str]  # side (chosen, rejected) -> answer; one side for an unpaired KTO example
    prompt_tokens: int
    answer_tokens: dict[str, int]
    prompt_alone_tokens: int  # the prompt rendered with the generation prompt; more than prompt_tokens when the template differs

    def tokens(self, side: str) -> int:
        return self.prompt_tokens + self.answer_tokens[side]

    @property
    def longest(self) -> int:
        return max(self.tokens(side) for side in self.answers)


def prepare_pairs(records: list[Record], tokenizer, config: TrainConfig, report: Preflight) -> list[PairExample]:
    """Each preference record rendered through the chat template on both sides, checked for length and for a
    template that renders the prompt differently alone than before an answer; the usable ones, findings in ``report``.

    Over ``max_seq_len``: ``drop`` leaves the pair out; ``truncate`` keeps its start (TRL's ``keep_start``), and a pair
    whose prompt alone fills ``max_seq_len`` keeps no answer token, so it is left out and listed (TRL would drop it
    without a word); ``error`` stops. Every one is listed by id with its tokens per side.
    """
    report.too_long_action = config.on_too_long
    kept = []
    for r in records:
        try:
            ex = pair_example(tokenizer, r)
        except Exception as e:  # a template that raises on this prompt (a system turn it forbids, a role order)
            report.template_problems.append({"id": r.id, "problem": f"the chat template fails on this record: {e}"})
            continue
        report.examples += 1
        if ex.prompt_tokens < ex.prompt_alone_tokens:
            report.template_problems.append(
                {"id": r.id, "problem": "the prompt renders differently alone than before the answer: the answer's start is trained"}
            )
        if ex.longest > config.max_seq_len:
            report.too_long.append(
                {"id": ex.id, "tokens": {side: ex.tokens(side) for side in ex.answers}, "prompt_tokens": ex.prompt_tokens}
            )
            if config.on_too_long == "drop":
                continue
            if ex.prompt_tokens >= config.max_seq_len:
                report.no_trained.append(ex.id)
                continue
        if not all(ex.answer_tokens.values()):
            report.no_trained.append(ex.id)
            continue
        kept.append(ex)
    if report.too_long and config.on_too_long == "error":
        first = report.too_long[0]
        raise InputError(
            f"{len(report.too_long)} preference records have a side longer than max_seq_len {config.max_seq_len} (first: {first['id']}, "
            f"{first['tokens']} tokens). Raise train.max_seq_len, drop them in curation (filter.token_length), or set "
            "train.on_too_long: drop or truncate."
        )
    return kept


def pair_example(tokenizer, record: Record) -> PairExample:
    prompt = [{"role": m["role"], "content": m["content"]} for m in record.messages or ()]
    prompt_ids = render_ids(tokenizer, prompt, True)
    answers = {side: a for side, a in (("chosen", record.chosen), ("rejected", record.rejected)) if a is not None}
    prompt_len, full_lengths = len(prompt_ids), {}
    for side, answer in answers.items():
        full = render_ids(tokenizer, [*prompt, {"role": "assistant", "content": answer}], False)
        prompt_len = min(prompt_len, shared_start(prompt_ids, full))
        full_lengths[side] = len(full)
    return PairExample(record.id, prompt, answers, prompt_len, {side: n - prompt_len for side, n in full_lengths.items()}, len(prompt_ids))


def render_ids(tokenizer, messages: list[dict[str, str]], add_generation_prompt: bool) -> list[int]:
    return tokenizer(render(tokenizer, messages, add_generation_prompt=add_generation_prompt), add_special_tokens=False)["input_ids"]
