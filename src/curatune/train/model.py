"""The model to train: loaded offline, with the recipe's dropout and fine-tuning method applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..config.train import PREFERENCE_TASKS, TrainConfig
from ..errors import InputError
from ..models.causal_lm import resolve_causal_lm
from ..models.packaged import minilm_path
from ..models.tokenizer import DEFAULT, load_tokenizer
from ..run_folder import RunFolder, TrainFolder

# Config keys that hold a dropout probability, across the architectures transformers ships
# (Llama/Qwen/Mistral: attention_dropout; BERT: hidden_dropout_prob and attention_probs_dropout_prob; GPT-2: *_pdrop).
DROPOUT_KEYS = (
    "attention_dropout",
    "hidden_dropout",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "dropout",
    "classifier_dropout",
    "activation_dropout",
)


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: str
    dropout_keys: list[str] = field(default_factory=list)
    trainable_params: int = 0
    total_params: int = 0
    peft_config: Any = None  # a preference task's LoRA, applied by TRL's trainer (which then disables it for the reference)
    base_model: str = ""  # the pretrained model underneath: train.model, or the base of the start_from run


def load_model(config: TrainConfig, task: str, labels: list[str] | None = None) -> LoadedModel:
    """The model to train, with dropout and the method applied.

    For a preference task with ``method: lora`` the adapter is not applied here but returned as
    ``peft_config`` for TRL's trainer: it then computes the reference with the adapter disabled,
    instead of keeping a second copy of an adapter (what it does with a model already wrapped).
    """
    base_model = config.model
    if task == "classification":
        model, tokenizer, source = _classifier(config, labels or [])
    elif config.start_from is not None:
        model, tokenizer, source, base_model = start_model(config.start_from, config.trust_remote_code)
    else:
        model, tokenizer, source = _causal_lm(config)
    dropout = config.dropout
    keys = set_dropout(model.config, dropout) if dropout is not None else []
    if keys and dropout is not None and task != "classification":
        # from_pretrained built the modules already; layers read the probability at construction.
        _set_module_dropout(model, dropout)
    if task in PREFERENCE_TASKS and config.method == "lora":
        lora = lora_config(model, config, task)
        total = sum(p.numel() for p in model.parameters())
        return LoadedModel(model, tokenizer, source, keys, 0, total, peft_config=lora, base_model=base_model)  # counted once TRL applied it
    model = apply_method(model, config, task)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return LoadedModel(model, tokenizer, source, keys, trainable, total, base_model=base_model)


def start_model(spec: str, trust_remote_code: bool = False):
    """The trained model of a supervised run (``runs/NAME`` or its ``train/``): an adapter merged into its base, or the full
    model; with its tokenizer, its folder and the pretrained model underneath."""
    given = Path(spec).expanduser()
    folder = next((f for f in (RunFolder(given).train, TrainFolder(given)) if f.summary.is_file()), None)
    if folder is None:
        raise InputError(
            f"start_from: '{given}' is not a finished training (looked for {RunFolder(given).train.summary} and "
            f"{TrainFolder(given).summary}). Give the run folder of a supervised training (curatune train RECIPE makes one)."
        )
    summary = orjson.loads(folder.summary.read_bytes())
    if summary.get("task") not in ("sft", None):
        raise InputError(f"start_from: '{given}' trained task {summary.get('task')!r}; start from a supervised (sft) run.")
    if not folder.model.is_dir():
        raise InputError(f"start_from: '{given}' saved no model (save_model: false); train it again with save_model: true.")
    from transformers import AutoModelForCausalLM

    base_model = str(summary.get("model") or DEFAULT)
    kwargs: dict[str, Any] = dict(dtype="float32", local_files_only=True, trust_remote_code=trust_remote_code)
    try:
        if (folder.model / "adapter_config.json").is_file():
            from peft import PeftModel

            base_folder, _ = resolve_causal_lm(base_model)
            base = AutoModelForCausalLM.from_pretrained(base_folder, **kwargs)
            model = PeftModel.from_pretrained(base, str(folder.model)).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(folder.model), **kwargs)
    except Exception as e:
        raise InputError(f"start_from: cannot load the model of '{given}' ({type(e).__name__}: {e}).") from e
    tokenizer = load_tokenizer(str(folder.model))
    return model, tokenizer, str(folder.model), base_model


def _causal_lm(config: TrainConfig):
    from transformers import AutoModelForCausalLM

    folder, tok_spec = resolve_causal_lm(config.model)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, dtype="float32", local_files_only=True, trust_remote_code=config.trust_remote_code
        )
    except Exception as e:
        raise InputError(_load_hint(config.model, e)) from e
    tokenizer = load_tokenizer(tok_spec)
    if tokenizer.chat_template is None:
        raise InputError(
            f"The tokenizer of {config.model!r} has no chat template, so chat records cannot be rendered as the model will see them. Set "
            "one in its tokenizer_config.json (chat_template), or train on plain-text records."
        )
    return model, tokenizer, folder


def _classifier(config: TrainConfig, labels: list[str]):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = str(minilm_path()) if config.model in (DEFAULT, "", None) else config.model
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=config.trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            local_files_only=True,
            trust_remote_code=config.trust_remote_code,
        )
    except Exception as e:
        raise InputError(_load_hint(config.model, e)) from e
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, folder


def _load_hint(spec: str, e: Exception) -> str:
    return (
        f"Cannot load the model {spec!r} ({type(e).__name__}: {e}). Give a local folder saved with save_pretrained, "
        "a .gguf file, or 'default'; curatune does not download at run time (download once with `hf download ID` and pass its folder)."
    )


def set_dropout(model_config, p: float) -> list[str]:
    """Set every dropout probability the config has to ``p``; the keys that were set."""
    keys = [k for k in DROPOUT_KEYS if isinstance(getattr(model_config, k, None), (int, float))]
    for k in keys:
        setattr(model_config, k, p)
    return keys


def _set_module_dropout(model, p: float) -> None:
    """Dropout modules and attention layers that read ``attention_dropout`` at call time both get ``p``."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
        if hasattr(module, "attention_dropout") and isinstance(module.attention_dropout, float):
            module.attention_dropout = p


def lora_config(model, config: TrainConfig, task: str):
    """PEFT's LoraConfig for the recipe's LoRA keys on this model."""
    from peft import LoraConfig, TaskType

    top, targets = None, config.lora_target_modules
    if config.lora_top_layers:
        import torch

        layers = transformer_layers(model)
        n = len(layers)
        if config.lora_top_layers > n:
            raise InputError(f"lora_top_layers is {config.lora_top_layers} but the model has {n} layers; leave it out to adapt them all.")
        top = list(range(n - config.lora_top_layers, n))
        if isinstance(targets, str):  # PEFT wants module names with layers_to_transform: every linear layer inside a block
            targets = sorted({name.rsplit(".", 1)[-1] for name, m in layers.named_modules() if isinstance(m, torch.nn.Linear)})
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        layers_to_transform=top,
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM,
    )


def apply_method(model, config: TrainConfig, task: str):
    if config.method == "lora":
        from peft import get_peft_model

        lora = lora_config(model, config, task)
        try:
            return get_peft_model(model, lora)
        except ValueError as e:
            names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if type(m).__name__ == "Linear"})
            raise InputError(
                f"lora_target_modules {config.lora_target_modules!r} does not fit this model ({e}). Its linear layers: {', '.join(names)}."
            ) from e
    if config.method == "freeze":
        freeze_all_but_top(model, config.train_top_layers or 2)
    return model


def transformer_layers(model):
    """The model's stack of transformer blocks: the ModuleList with ``num_hidden_layers`` entries."""
    import torch

    n = getattr(model.config, "num_hidden_layers", None)
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise InputError(f"Cannot find the transformer layers of {type(model).__name__} to freeze; use method: lora or full.")


def freeze_all_but_top(model, top: int) -> None:
    """Train only the top ``top`` layers, the final norm and the head (classifier or LM head)."""
    layers = transformer_layers(model)
    if top > len(layers):
        raise InputError(f"train_top_layers is {top} but the model has {len(layers)} layers; use method: full to train them all.")
    for p in model.parameters():
        p.requires_grad = False
    for layer in list(layers)[-top:]:
        for p in layer.parameters():
            p.requires_grad = True
    # Everything registered after the layer stack (final norm, pooler, classifier, lm_head) trains
    # too; everything before it (the embeddings) does not.
    prefix = next(name for name, m in model.named_modules() if m is layers) + "."
    names = [n for n, _ in model.named_parameters()]
    last_layer_param = max(i for i, n in enumerate(names) if n.startswith(prefix))
    for i, (_, p) in enumerate(model.named_parameters()):
        if i > last_layer_param:
            p.requires_grad = True
