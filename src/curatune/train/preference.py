"""Preference training (``task: dpo``, ``kto``, ``orpo``, ``simpo``) through TRL's trainers, and the rewards after.

The pairs come checked from :func:`curatune.train.preflight.prepare_pairs` and go to TRL in its
conversational preference format (``prompt`` turns, ``chosen`` and ``rejected`` one assistant turn
each; KTO's ``prompt``/``completion``/``label``), so TRL renders them through the same chat template
the preflight measured. TRL does the rest: ``DPOTrainer`` and ``KTOTrainer`` (stable), ``ORPOTrainer``
and ``CPOTrainer`` with SimPO's loss (``trl.experimental``: their API may change with TRL).

With ``method: lora`` the adapter goes to the trainer as a ``peft_config``: the reference is then the
model with the adapter disabled, no second copy. With ``full`` or ``freeze`` the reference is a frozen
copy of the starting model, given to the trainer explicitly (TRL would otherwise reload it by name,
which is the wrong model after ``start_from``).

After training, every training pair's implicit reward margin under the final model
(:func:`pair_rewards`): ``beta * ((log p(chosen) - log p_ref(chosen)) - (log p(rejected) - log p_ref(rejected)))``,
the DPO reward whichever loss trained it, lowest first in ``pair_rewards.jsonl``. Pairs the model still
ranks the wrong way after training are, like the highest-loss examples of supervised training,
disproportionately mislabelled or swapped.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

import orjson

from ..config.train import TrainConfig
from .loss_rank import example_losses
from .preflight import PairExample, render_ids

# task -> (module, config class, trainer class)
TRAINERS = {
    "dpo": ("trl", "DPOConfig", "DPOTrainer"),
    "kto": ("trl", "KTOConfig", "KTOTrainer"),
    "orpo": ("trl.experimental.orpo", "ORPOConfig", "ORPOTrainer"),
    "simpo": ("trl.experimental.cpo", "CPOConfig", "CPOTrainer"),
}
REFERENCE_FREE = ("orpo", "simpo")
"""Tasks whose loss has no reference model (the reward margins reported after are still measured against the start)."""


def trl_rows(examples: list[PairExample], task: str) -> list[dict[str, Any]]:
    """The examples in TRL's conversational format: pairs, or (``kto``) one row per side, a pair making two."""
    rows = []
    for ex in examples:
        if task == "kto":
            for side, answer in ex.answers.items():
                rows.append({"prompt": ex.prompt, "completion": [_assistant(answer)], "label": side == "chosen"})
        else:
            rows.append(
                {"prompt": ex.prompt, "chosen": [_assistant(ex.answers["chosen"])], "rejected": [_assistant(ex.answers["rejected"])]}
            )
    return rows


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def task_arguments(config: TrainConfig, task: str) -> dict[str, Any]:
    """The task's own arguments to its TRL config, from the recipe's keys."""
    args: dict[str, Any] = {
        "beta": config.beta,
        "max_length": config.max_seq_len,
        # TRL turns dropout off by default (the policy and the reference must see the same network); a recipe that
        # sets train.dropout asks for it, LoRA's own dropout included.
        "disable_dropout": config.dropout is None,
        "dataset_num_proc": None,
    }
    if task == "simpo":
        args.update(loss_type="simpo", cpo_alpha=0.0, simpo_gamma=config.simpo_gamma)
    return args


def trainer_classes(task: str) -> tuple[Any, Any]:
    module, config_class, trainer_class = TRAINERS[task]
    loaded = importlib.import_module(module)
    return getattr(loaded, config_class), getattr(loaded, trainer_class)


def build_preference_trainer(task: str, config: TrainConfig, loaded, train_rows: list[dict], val_rows: list[dict], common: dict, callbacks):
    """TRL's trainer for ``task``, with the reference chosen as the module says."""
    from datasets import Dataset

    config_class, trainer_class = trainer_classes(task)
    args = config_class(**common, **task_arguments(config, task))
    kwargs: dict[str, Any] = {}
    reference = None
    if loaded.peft_config is not None:
        kwargs["peft_config"] = loaded.peft_config
    elif task in REFERENCE_FREE:
        reference = frozen_copy(loaded.model)  # not the loss's, but the rewards after training are measured against it
    else:
        kwargs["ref_model"] = frozen_copy(loaded.model)
    trainer = trainer_class(
        model=loaded.model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        processing_class=loaded.tokenizer,
        callbacks=callbacks,
        **kwargs,
    )
    trainer.curatune_reference = reference
    return trainer


def frozen_copy(model):
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad = False
    return ref


# ---- the rewards after training ---------------------------------------------------------------


def side_rows(tokenizer, examples: list[PairExample], max_len: int) -> dict[str, list[dict]]:
    """Per side, each pair's whole sequence and labels on its answer only (cut at ``max_len`` as training cut it)."""
    out: dict[str, list[dict]] = {"chosen": [], "rejected": []}
    for ex in examples:
        for side in ("chosen", "rejected"):
            ids = render_ids(tokenizer, [*ex.prompt, _assistant(ex.answers[side])], False)[:max_len]
            out[side].append({"input_ids": ids, "labels": [-100] * ex.prompt_tokens + ids[ex.prompt_tokens :]})
    return out


def sequence_logps(model, rows: list[dict], pad_id: int, batch_size: int = 8) -> list[float]:
    """Summed log-probability of each row's labelled tokens (its answer) given what precedes them."""
    means = example_losses(model, rows, pad_id, batch_size)
    counts = [sum(1 for t in r["labels"][1:] if t != -100) for r in rows]
    return [-m * n for m, n in zip(means, counts)]


def pair_rewards(model, reference, tokenizer, examples: list[PairExample], beta: float, max_len: int) -> list[dict[str, Any]]:
    """Each pair's implicit rewards under ``model`` against ``reference`` (a context manager giving the reference model)."""
    pairs = [ex for ex in examples if "chosen" in ex.answers and "rejected" in ex.answers]
    if not pairs:
        return []
    rows = side_rows(tokenizer, pairs, max_len)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    policy = {side: sequence_logps(model, rows[side], pad) for side in rows}
    with reference() as ref:
        ref_logps = {side: sequence_logps(ref, rows[side], pad) for side in rows}
    out = []
    for i, ex in enumerate(pairs):
        chosen = beta * (policy["chosen"][i] - ref_logps["chosen"][i])
        rejected = beta * (policy["rejected"][i] - ref_logps["rejected"][i])
        out.append({"id": ex.id, "margin": chosen - rejected, "chosen_reward": chosen, "rejected_reward": rejected})
    return out


def write_pair_rewards(rewards: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """``pair_rewards.jsonl``, lowest margin first (the pairs the model ranks the wrong way lead), with rank."""
    ranked = sorted(rewards, key=lambda r: r["margin"])
    rows = [{"rank": i + 1, **{k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}} for i, r in enumerate(ranked)]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return rows


def reward_summary(rewards: list[dict[str, Any]]) -> dict[str, float | int | None]:
    """Mean margin and the share of pairs with a positive one (TRL's ``rewards/accuracies``)."""
    if not rewards:
        return {"pairs": 0, "reward_margin": None, "reward_accuracy": None}
    margins = [r["margin"] for r in rewards]
    return {
        "pairs": len(margins),
        "reward_margin": round(sum(margins) / len(margins), 5),
        "reward_accuracy": round(sum(m > 0 for m in margins) / len(margins), 4),
    }
