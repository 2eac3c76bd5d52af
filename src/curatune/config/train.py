"""The ``train:`` section of a recipe: transformers' names, axolotl's accepted as aliases.

```yaml
name: support-lora
data:
  path: runs/support/splits          # a split folder (train.jsonl + val.jsonl), a curate run, or any data file
train:
  model: default                     # packaged SmolLM2-135M-Instruct; a folder, a .gguf file, a cached hub id
  method: lora                       # lora | full | freeze (train the top `train_top_layers` layers only)
  learning_rate: 2.0e-4
  num_train_epochs: 3                # axolotl: num_epochs
  per_device_train_batch_size: 8     # axolotl: micro_batch_size
  max_seq_len: 1024                  # axolotl: sequence_len
  eval_steps: 20
  early_stopping_patience: 3
```

Every field keeps transformers' ``TrainingArguments`` name where one exists, so
a value copied from a tutorial means what it meant there. The resolved section,
every default written out, is saved in the training folder as ``train.yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

# axolotl's key -> ours. Accepted on input; the resolved recipe is written with our names.
# (``val_set_size`` and ``train_on_inputs`` are the same in both.)
AXOLOTL_ALIASES = {
    "num_epochs": "num_train_epochs",
    "micro_batch_size": "per_device_train_batch_size",
    "sequence_len": "max_seq_len",
    "lr_scheduler": "lr_scheduler_type",
}


# What `curatune hw` (--seq-len, --batch-size) and `curatune audit` (--max-seq-len) assume when not told: the
# commands' defaults since they were written, kept here beside the train: defaults they differ from
# (max_seq_len 1024, per_device_train_batch_size 8) so the difference is in one place and on purpose.
COMMAND_SEQ_LEN = 2048
"""Tokens per example that ``curatune hw`` estimates memory for and ``curatune audit`` counts records over."""
COMMAND_BATCH_SIZE = 1
"""Examples per forward pass that ``curatune hw`` estimates memory for."""


PREFERENCE_TASKS = ("dpo", "kto", "orpo", "simpo")
"""The tasks that train on preference records, through TRL's trainers."""


def _alias(name: str, *others: str):
    return AliasChoices(name, *others)


class TrainConfig(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_default=True, populate_by_name=True, protected_namespaces=(), use_attribute_docstrings=True
    )

    # ---- what to train -----------------------------------------------------------------
    model: str = "default"
    """The base model: ``default`` (the packaged SmolLM2-135M-Instruct for chat, all-MiniLM-L6-v2 for classification), a folder
    saved with ``save_pretrained``, a ``.gguf`` file, or a hub id already in the local cache."""
    task: Literal["auto", "sft", "classification", "dpo", "kto", "orpo", "simpo"] = "auto"
    """``sft`` (causal-LM fine-tuning on chat or text records), ``classification`` (labelled records), a preference task on
    preference records (``dpo``; ``kto`` for unpaired examples, or pairs split into one desirable and one undesirable example;
    ``orpo`` and ``simpo``, reference-free, from TRL's experimental trainers), or ``auto`` from the records (pairs: ``dpo``;
    only unpaired examples: ``kto``)."""
    method: Literal["lora", "full", "freeze"] = "lora"
    """``lora`` (PEFT adapters), ``full`` (every weight), or ``freeze`` (only the top ``train_top_layers`` layers and the head)."""
    train_top_layers: int | None = Field(None, ge=1)
    """With ``method: freeze``: how many of the top transformer layers train (2 when absent)."""
    start_from: str | None = None
    """A supervised run to start from: its folder (``runs/NAME``) or its ``train/`` folder. Its trained model (an adapter merged
    into its base) is the model trained here and, for ``dpo`` and ``kto``, the reference the rewards are measured against. Give
    this or ``model``, not both."""
    trust_remote_code: bool = False
    """Run model code shipped in the model folder. Off unless you trust the folder."""

    # ---- the data ------------------------------------------------------------------------
    val_data: str | None = None
    """A validation file; when absent, ``val.jsonl`` beside ``train.jsonl`` in a split folder, else ``val_set_size`` of the training
    data."""
    val_set_size: float = Field(0.1, ge=0.0, lt=1.0)
    """Fraction of the training data held out for validation when there is no validation file (0 turns evaluation off)."""
    max_seq_len: int = Field(1024, ge=8, validation_alias=_alias("max_seq_len", "sequence_len", "max_length"))
    """Longest example in tokens, after the chat template. Longer ones are handled by ``on_too_long``, never cut silently."""
    on_too_long: Literal["drop", "truncate", "error"] = "drop"
    """Examples over ``max_seq_len``: dropped (listed in ``preflight.json``), truncated (keeping the start), or an error."""
    train_on_inputs: bool = False
    """Train on every token instead of the assistant's turns only (axolotl's name)."""
    packing: bool = False
    """Pack short examples into one row of ``max_seq_len`` (no attention across examples: position ids restart per example)."""
    min_trained_fraction: float = Field(0.05, ge=0.0, le=1.0)
    """Flag examples whose trained (assistant) tokens are below this share of their tokens."""

    # ---- TrainingArguments names -----------------------------------------------------------
    learning_rate: float | Literal["auto"] = 2e-4
    """Peak learning rate; ``auto`` runs the range test first (``curatune lr-find``) and uses its suggestion."""
    num_train_epochs: float = Field(3.0, gt=0, validation_alias=_alias("num_train_epochs", "num_epochs"))
    """Passes over the training data (ignored when ``max_steps`` is set)."""
    max_steps: int = -1
    """Optimiser steps to run; -1 runs ``num_train_epochs``."""
    per_device_train_batch_size: int = Field(8, ge=1, validation_alias=_alias("per_device_train_batch_size", "micro_batch_size"))
    """Examples per forward pass."""
    per_device_eval_batch_size: int | None = Field(None, ge=1)
    """Examples per evaluation pass; the training batch size when absent."""
    gradient_accumulation_steps: int = Field(1, ge=1)
    """Forward passes per optimiser step (the effective batch is this times the batch size)."""
    weight_decay: float = Field(0.0, ge=0.0)
    """AdamW weight decay."""
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    """Share of the steps spent warming the learning rate up."""
    lr_scheduler_type: str = Field("cosine", validation_alias=_alias("lr_scheduler_type", "lr_scheduler"))
    """linear, cosine, constant, constant_with_warmup, ... (transformers' SchedulerType)."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    eval_steps: int | None = Field(None, ge=1)
    """Evaluate (and log train and validation loss) every this many steps; about 10 times per run when absent."""
    logging_steps: int | None = Field(None, ge=1)
    """Log the training loss every this many steps; ``eval_steps`` when absent."""
    early_stopping_patience: int | None = Field(3, ge=1)
    """Stop after this many evaluations without a validation-loss improvement of ``early_stopping_threshold``; null never stops early."""
    early_stopping_threshold: float = Field(0.0, ge=0.0)
    """The smallest drop in validation loss that counts as an improvement."""
    neftune_noise_alpha: float | None = Field(None, gt=0)
    """NEFTune: noise on the input embeddings while training (5 is the paper's value)."""
    seed: int = 42
    """Seed for weights of new layers, data order and dropout."""
    bf16: bool | Literal["auto"] = "auto"
    """bfloat16 mixed precision; ``auto`` uses it on a GPU that supports it, never on CPU."""
    fp16: bool = False
    """float16 mixed precision (older GPUs)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% slower."""

    # ---- regularisation and adapters ------------------------------------------------------
    dropout: float | None = Field(None, ge=0.0, lt=1.0)
    """Sets the model's attention and hidden dropout (every dropout key its config has); the model's own when absent."""
    lora_r: int = Field(16, ge=1)
    """LoRA rank."""
    lora_alpha: int = Field(32, ge=1)
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA branch."""
    lora_target_modules: str | list[str] = "all-linear"
    """Which linear layers get adapters: ``all-linear`` or a list of module names (q_proj, v_proj, ...)."""
    lora_top_layers: int | None = Field(None, ge=1)
    """Adapters in the top N transformer layers only: the backward pass stops there (about twice as fast on CPU), at some cost in
    what the adapter can learn."""

    # ---- preference tasks (dpo, kto, orpo, simpo) -------------------------------------------
    beta: float = Field(0.1, gt=0)
    """How far the model may move from the reference: the temperature of the implicit reward ``beta * (log p - log p_ref)``
    (DPO's and KTO's beta; ORPO's lambda; SimPO's beta, where 2 to 10 is usual)."""
    simpo_gamma: float = Field(0.5, ge=0)
    """SimPO's target reward margin (``task: simpo`` only)."""

    # ---- watching, ranking and tracking -----------------------------------------------------
    overfit_gap: float = Field(0.5, gt=0)
    """Warn when validation loss exceeds training loss by this much (nats per token; for a preference task, nats per pair)."""
    rank_losses: bool = True
    """After training, score every training example under the final model (``losses.jsonl``): one forward pass over the training set."""
    loss_rank_top: int = Field(50, ge=0)
    """After training, how many highest-loss training examples ``losses.jsonl`` lists first (every example is scored)."""
    tracking_uri: str | None = None
    """MLflow tracking URI; a SQLite store in the runs folder (``runs/mlflow.db``) when absent."""
    experiment: str = "curatune"
    """MLflow experiment name."""
    save_model: bool = True
    """Save the final (best) adapter or model in ``train/model``."""
    save_total_limit: int = Field(2, ge=1)
    """Checkpoints kept on disk (the best one is always among them)."""

    @model_validator(mode="before")
    @classmethod
    def _axolotl_names(cls, raw):
        """``num_epochs: 2`` means ``num_train_epochs: 2``; giving both is ambiguous."""
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        for alias, name in AXOLOTL_ALIASES.items():
            if alias in raw and name in raw:
                raise ValueError(f"'{alias}' is axolotl's name for '{name}'; give one of them, not both")
        return raw

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, v: str) -> str:
        from transformers.trainer_utils import SchedulerType

        names = [s.value for s in SchedulerType]
        if v not in names:
            raise ValueError(f"must be one of {', '.join(names)}")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.bf16 is True and self.fp16:
            raise ValueError("bf16 and fp16 are both on; choose one")
        if self.train_top_layers is not None and self.method != "freeze":
            raise ValueError(f"train_top_layers only applies to method: freeze (method is {self.method!r})")
        problems = self._preference_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems_for_task(self, task: str) -> list[str]:
        """What :meth:`_consistent` would say had the recipe named ``task`` (``task: auto`` resolved from the records)."""
        return self.model_copy(update={"task": task})._preference_problems()

    def _preference_problems(self) -> list[str]:
        """Keys that mean nothing, or something wrong, for the task asked: every one at once."""
        problems = []
        given = self.model_fields_set
        if self.start_from is not None and "model" in given and self.model != "default":
            problems.append(
                f"start_from ({self.start_from!r}) and model ({self.model!r}) both name the model to train; give one (start_from "
                "reads the base model from the run's train/summary.json)"
            )
        if self.start_from is not None and self.task == "classification":
            problems.append("start_from starts from a chat model's run; task: classification trains a classifier. Leave it out.")
        if self.task == "auto":
            return problems  # the records decide the task; load_train_data checks the rest then
        if self.task not in PREFERENCE_TASKS:
            for key in ("beta", "simpo_gamma"):
                if key in given:
                    problems.append(f"{key} applies to the preference tasks ({', '.join(PREFERENCE_TASKS)}); task is {self.task!r}")
            return problems
        if "simpo_gamma" in given and self.task != "simpo":
            problems.append(f"simpo_gamma applies to task: simpo only (task is {self.task!r})")
        for key, why in (
            ("packing", "pairs are scored one sequence per side"),
            ("train_on_inputs", "a preference loss scores the answers only"),
            ("neftune_noise_alpha", "NEFTune is a supervised fine-tuning method"),
        ):
            if getattr(self, key):
                problems.append(f"{key} does not apply to task: {self.task} ({why}); leave it out")
        if self.learning_rate == "auto":
            problems.append(
                f"learning_rate: auto runs the range test on the supervised loss, not on task: {self.task}'s; give a number "
                "(5e-6 to 5e-5 for full fine-tuning, 5e-5 to 5e-4 for LoRA are usual)"
            )
        if self.task == "kto" and self.per_device_train_batch_size < 2:
            problems.append(
                "task: kto estimates its KL term from the other examples of a batch; per_device_train_batch_size must be at least 2"
            )
        return problems

    def resolved(self) -> dict:
        """Every field by its own name, defaults written out."""
        return self.model_dump(mode="json")
