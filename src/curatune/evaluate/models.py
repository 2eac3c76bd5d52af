"""The two models `curatune eval` compares: what it was pointed at, resolved, and both loaded offline.

``curatune eval`` takes a run folder (``runs/NAME``, or its ``train/``) or a model folder.
From a run it evaluates ``train/model/`` against the base model named in ``train/summary.json``.
The tuned model is either a PEFT adapter (``adapter_config.json``), put back on the model it
was trained on, or a full model folder, loaded as it is.

When the adapter sits on the very base it is compared with, one copy of the base serves both:
the base's answers are computed with the adapter switched off (PEFT's ``disable_adapter``), so a
7B comparison costs one 7B model in memory, not two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError
from ..models.causal_lm import resolve_causal_lm
from ..models.packaged import minilm_path
from ..models.tokenizer import DEFAULT, load_tokenizer
from ..run_folder import RunFolder, TrainFolder


@dataclass(frozen=True)
class EvalTarget:
    """What ``curatune eval`` was pointed at, resolved: the tuned model, the base to compare with, the task."""

    model_dir: Path  # the tuned adapter or model
    base: str  # model spec of the base it is compared with
    adapter_base: str | None  # the model the adapter was trained on (None for a full model)
    task: str  # "sft" or "classification"
    run_dir: Path | None  # runs/NAME when a run was given
    summary: dict[str, Any] = field(default_factory=dict)  # train/summary.json, {} when there is none

    @property
    def is_adapter(self) -> bool:
        return self.adapter_base is not None


@dataclass
class Contender:
    """One side of the comparison: a model, its tokenizer, and how to switch it on."""

    name: str  # "base" or "tuned"
    source: str  # what was loaded, for the report
    model: Any
    tokenizer: Any
    # The base that shares the tuned model's weights is the tuned model with its adapter off.
    activate: Callable[[], AbstractContextManager] = nullcontext
    new_head: bool = False  # a classifier whose head was created at load time (random, so at chance level)

    @contextmanager
    def active(self) -> Iterator[Any]:
        with self.activate():
            yield self.model


def resolve_target(path: str | Path, base: str | None = None) -> EvalTarget:
    """Find the tuned model, its base and its task from a run folder or a model folder."""
    given = Path(path).expanduser()
    if not given.exists():
        raise InputError(f"'{given}' does not exist: give a run folder (runs/NAME, after `curatune train`) or a model folder.")
    model_dir, summary_path = _model_and_summary(given)
    summary = orjson.loads(summary_path.read_bytes()) if summary_path and summary_path.is_file() else {}
    adapter_config = _read_json(model_dir / "adapter_config.json")
    adapter_base = None
    if adapter_config is not None:
        # The adapter must go back on the model it was trained on, whatever it is compared with.
        adapter_base = summary.get("model") or adapter_config.get("base_model_name_or_path") or base
        if not adapter_base:
            raise InputError(f"'{model_dir}' holds an adapter whose base model is not recorded: give the base with --base.")
    compared_with = base or summary.get("model") or adapter_base
    if not compared_with:
        raise InputError(
            f"'{model_dir}' is a full model with no training summary beside it, so its base model is unknown: "
            "give the model to compare it with, e.g. --base default."
        )
    run_dir = summary_path.parent.parent if summary_path and summary_path.is_file() else None
    task = summary.get("task") or _task_of(model_dir, adapter_config)
    return EvalTarget(model_dir, str(compared_with), adapter_base and str(adapter_base), task, run_dir, summary)


def _model_and_summary(given: Path) -> tuple[Path, Path | None]:
    """The model folder and the training summary that describes it (which may not exist)."""
    for train in (RunFolder(given).train, TrainFolder(given)):
        if train.model.is_dir() and train.summary.is_file():
            return train.model, train.summary
        if train.summary.is_file() and not train.model.is_dir():
            raise InputError(
                f"'{train.root}' has a training summary but no model/ folder: the training ran with save_model: false. "
                "Train again with save_model: true, or give a model folder."
            )
    if (given / "config.json").is_file() or (given / "adapter_config.json").is_file():
        summary = TrainFolder(given.parent).summary  # runs/NAME/train/model: its summary is one folder up
        return given, summary if summary.is_file() else None
    raise InputError(
        f"'{given}' is neither a run folder (looked for train/model/ and train/summary.json) nor a model folder "
        "(config.json or adapter_config.json). Train one with `curatune train RECIPE`, or give a folder saved with save_pretrained."
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise InputError(f"'{path}' is not valid JSON ({e}); it should be the file save_pretrained wrote.") from None


def _task_of(model_dir: Path, adapter_config: dict | None) -> str:
    if adapter_config is not None:
        return "classification" if adapter_config.get("task_type") == "SEQ_CLS" else "sft"
    architectures = (_read_json(model_dir / "config.json") or {}).get("architectures") or []
    return "classification" if any(a.endswith("ForSequenceClassification") for a in architectures) else "sft"


# --- loading -------------------------------------------------------------------------------------


def load_contenders(target: EvalTarget, labels: list[str] | None = None) -> tuple[Contender, Contender]:
    """``(base, tuned)``, both in eval mode on the best device; ``labels`` only for an adapter classifier."""
    if target.task == "classification":
        base, tuned = _classifiers(target, labels)
    else:
        base, tuned = _causal_lms(target)
    device = _device()
    for c in {id(c.model): c for c in (base, tuned)}.values():
        c.model.to(device).eval()
    return base, tuned


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _causal_lms(target: EvalTarget) -> tuple[Contender, Contender]:
    tuned_tokenizer = load_tokenizer(str(target.model_dir))
    if tuned_tokenizer.chat_template is None:
        raise InputError(f"The tokenizer in '{target.model_dir}' has no chat template, so prompts cannot be rendered as in training.")
    if target.adapter_base is None:  # a full model
        model = _causal_lm(str(target.model_dir))[0]
        tuned = Contender("tuned", str(target.model_dir), model, tuned_tokenizer)
        return _causal_base(target.base), tuned
    from peft import PeftModel

    on, _ = _causal_lm(target.adapter_base)
    model = PeftModel.from_pretrained(on, str(target.model_dir))
    tuned = Contender("tuned", f"{target.model_dir} (adapter on {target.adapter_base})", model, tuned_tokenizer)
    if _same_weights(target.base, target.adapter_base, "sft"):
        base_tokenizer = _causal_base_tokenizer(target.base)
        return Contender("base", target.base, model, base_tokenizer, model.disable_adapter), tuned
    return _causal_base(target.base), tuned


def _same_weights(spec: str, other: str, task: str) -> bool:
    """Whether two model specs name the same weights ("default" and the folder it converts to are one model)."""
    return spec == other or _weights_folder(spec, task) == _weights_folder(other, task)


def _weights_folder(spec: str, task: str) -> Path | None:
    if task == "classification":
        folder = str(minilm_path()) if spec in (DEFAULT, "", None) else spec
    else:
        folder = resolve_causal_lm(spec)[0]
    path = Path(folder).expanduser()
    return path.resolve() if path.exists() else None


def _causal_base(spec: str) -> Contender:
    model, _ = _causal_lm(spec)
    return Contender("base", spec, model, _causal_base_tokenizer(spec))


def _causal_base_tokenizer(spec: str):
    tokenizer = load_tokenizer(resolve_causal_lm(spec)[1])
    if tokenizer.chat_template is None:
        raise InputError(f"The tokenizer of the base model {spec!r} has no chat template: give a chat (instruct) model as --base.")
    return tokenizer


def _causal_lm(spec: str):
    from transformers import AutoModelForCausalLM

    folder, tokenizer_spec = resolve_causal_lm(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype="float32", local_files_only=True), tokenizer_spec
    except Exception as e:
        raise InputError(_load_hint(spec, e)) from e


def _classifiers(target: EvalTarget, labels: list[str] | None) -> tuple[Contender, Contender]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if target.adapter_base is None:  # a full model
        try:
            model = AutoModelForSequenceClassification.from_pretrained(str(target.model_dir), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(target.model_dir), local_files_only=True)
        except Exception as e:
            raise InputError(_load_hint(str(target.model_dir), e)) from e
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        return _classifier_base(target.base, labels), Contender("tuned", str(target.model_dir), model, tokenizer)
    if not labels:
        raise InputError(
            f"'{target.model_dir}' holds a classifier adapter, which does not record its labels: evaluate the run folder, "
            "whose summary.json names the training data the labels come from."
        )
    from peft import PeftModel

    on = _classifier_base(target.adapter_base, labels)
    try:
        model = PeftModel.from_pretrained(on.model, str(target.model_dir))
    except RuntimeError as e:  # a classifier head of another size: the labels read are not the trained ones
        raise InputError(f"The adapter in '{target.model_dir}' does not fit {len(labels)} labels ({', '.join(labels)}): {e}") from e
    tuned = Contender("tuned", f"{target.model_dir} (adapter on {target.adapter_base})", model, on.tokenizer)
    if _same_weights(target.base, target.adapter_base, "classification"):
        return Contender("base", target.base, model, on.tokenizer, model.disable_adapter, on.new_head), tuned
    return _classifier_base(target.base, labels), tuned


def _classifier_base(spec: str, labels: list[str]) -> Contender:
    """The base encoder with a classification head for ``labels``: a new head, at random, when it has none."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = str(minilm_path()) if spec in (DEFAULT, "", None) else spec
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
            local_files_only=True, ignore_mismatched_sizes=True,  # a head trained for other labels gets replaced
            output_loading_info=True,
        )  # fmt: skip
    except Exception as e:
        raise InputError(_load_hint(spec, e)) from e
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    new_head = bool(loading.get("missing_keys") or loading.get("mismatched_keys"))
    return Contender("base", spec, model, tokenizer, new_head=new_head)


def _load_hint(spec: str, e: Exception) -> str:
    return (
        f"Cannot load the model {spec!r} ({type(e).__name__}: {e}). Give a local folder saved with save_pretrained, a .gguf file, "
        "or 'default'; curatune does not download at run time (download once with `hf download ID` and pass its folder)."
    )
