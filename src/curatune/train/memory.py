"""How much memory fine-tuning a model takes (full, LoRA, QLoRA), and whether it fits the visible device.

The model is described from its transformers config, so nothing is loaded: a
70B model is estimated as quickly as a tiny one. Llama-style decoders (Llama,
Mistral, Qwen2/3) are counted with a formula; any other architecture is built on
PyTorch's meta device, which allocates no memory, and its parameters and linear
layers are counted there. Both counts are exact; the memory estimate is not (it
aims at 30%, see :func:`estimate_memory`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from ..errors import InputError, RecipeError
from ..models.packaged import smollm2_gguf
from ..models.tokenizer import DEFAULT, cache_dir, gguf_cache_key, save_atomically

MODES = ("full", "lora", "qlora")
DTYPE_BYTES = {"bf16": 2, "fp32": 4}
# AdamW keeps two fp32 moments per trained parameter; bitsandbytes' 8-bit AdamW keeps two bytes; plain SGD none.
OPTIMIZER_STATE_BYTES = {"adamw": 8, "adamw_8bit": 2, "sgd": 0}
ATTENTION = ("sdpa", "eager")

# QLoRA's NF4 with double quantisation: 4 bits per weight, one 8-bit absmax per block of 64, and one
# fp32 constant per 256 of those blocks (Dettmers et al. 2023, section 3).
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
ADAPTER_BYTES_PER_PARAM = 4 + 4  # PEFT keeps adapters in fp32; their fp32 gradients
# Llama's layout: attention q/k/v/o, a gated MLP (gate, up, down), two RMSNorms per block.
LLAMA_STYLE = ("llama", "mistral", "qwen2", "qwen3")


@dataclass(frozen=True)
class Architecture:
    """What the memory estimate needs to know about a model."""

    name: str
    model_type: str
    parameters: int
    """Every parameter, a tied embedding counted once."""
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    gated_mlp: bool
    linear_layers: tuple[tuple[int, int], ...]
    """(in, out) of every linear layer PEFT's ``all-linear`` adapts and QLoRA quantises: all but the LM head."""
    counted: str
    """How the parameters were counted: ``config`` (formula), ``meta device`` or ``model``."""

    def lora_parameters(self, r: int) -> int:
        """Trainable parameters of LoRA rank ``r`` on every linear layer: A is r x in, B is out x r."""
        return sum(r * (i + o) for i, o in self.linear_layers)

    @property
    def linear_parameters(self) -> int:
        """Weights of the linear layers QLoRA stores in 4 bits."""
        return sum(i * o for i, o in self.linear_layers)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["linear_layers"] = len(self.linear_layers)
        return d


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training step needs at its peak, by kind."""

    mode: str
    weights: int
    gradients: int
    optimizer_states: int
    activations: int
    trainable_parameters: int
    assumptions: str

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_states + self.activations

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


@dataclass(frozen=True)
class Device:
    name: str
    total_bytes: int
    free_bytes: int


# ---- describing a model -----------------------------------------------------------------------


def describe_model(model: Any = DEFAULT) -> Architecture:
    """The architecture of ``model``: ``default`` (packaged SmolLM2), a folder with config.json, a .gguf file,
    a cached hub id, or a model object (its real parameters are counted). No weights are read."""
    if not isinstance(model, (str, Path)):
        return _from_module(model, model.config, str(type(model).__name__), "model")
    config = load_config(str(model))
    if config.model_type in LLAMA_STYLE:
        return _llama_style(config, str(model))
    return _on_meta_device(config, str(model))


def load_config(spec: str):
    """The transformers config of ``spec`` without its weights (a GGUF file's is converted once and cached)."""
    from transformers import AutoConfig

    if spec in (DEFAULT, ""):
        return _gguf_config(smollm2_gguf())
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_config(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return AutoConfig.from_pretrained(path, local_files_only=True)
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return _gguf_config(ggufs[0])
        found = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
        raise InputError(
            f"The folder '{path}' has no config.json (it holds: {found}). Give a folder saved with save_pretrained, a .gguf file, or "
            "'default'."
        )
    if path.exists() or not _looks_like_hub_id(spec):
        raise InputError(
            f"Cannot find the model '{path}': it is not a folder with config.json, a .gguf file, or 'default'. Check the path."
        )
    try:
        return AutoConfig.from_pretrained(spec, local_files_only=True)
    except Exception as e:
        raise InputError(
            f"Cannot find the model {spec!r}: there is no such folder or .gguf file, and no hub model of that name in the "
            "local cache. curatune does not download at run time: download it once (hf download ID) and pass its folder."
        ) from e


def _looks_like_hub_id(spec: str) -> bool:
    return spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and not spec.endswith((".gguf", "/"))


def _gguf_config(gguf: Path):
    """A GGUF file's config. Reading it parses the whole file's metadata (about 9 s), so it is cached."""
    from transformers import AutoConfig

    key = gguf_cache_key(gguf)
    converted = cache_dir() / "models" / key  # curatune.models.causal_lm's full conversion has the config too
    cached = converted if (converted / "config.json").is_file() else cache_dir() / "configs" / key
    if not (cached / "config.json").is_file():
        try:
            config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as e:
            raise InputError(
                f"Cannot read the GGUF file '{gguf}' ({type(e).__name__}: {e}). Is it a complete GGUF file of an architecture transformers "
                "supports?"
            ) from e
        save_atomically(cached, config.save_pretrained)
    return AutoConfig.from_pretrained(cached, local_files_only=True)


def _llama_style(config, name: str) -> Architecture:
    h, n_layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    inter = config.intermediate_size
    q, kv = heads * head_dim, kv_heads * head_dim
    # Qwen2 always has q/k/v biases; the others have them (and an o bias) when attention_bias is set.
    qkv_bias = config.model_type == "qwen2" or bool(getattr(config, "attention_bias", False))
    o_bias = config.model_type != "qwen2" and bool(getattr(config, "attention_bias", False))
    mlp_bias = bool(getattr(config, "mlp_bias", False))
    per_layer = (
        (h * q + h * kv * 2 + q * h)
        + (q + 2 * kv) * qkv_bias
        + h * o_bias
        + 3 * h * inter
        + (2 * inter + h) * mlp_bias
        + 2 * h  # input and post-attention RMSNorm weights
        + 2 * head_dim * (config.model_type == "qwen3")  # Qwen3 normalises q and k per head
    )
    embeddings = vocab * h * (1 if config.tie_word_embeddings else 2)
    parameters = embeddings + n_layers * per_layer + h  # + the final norm
    block = ((h, q), (h, kv), (h, kv), (q, h), (h, inter), (h, inter), (inter, h))
    return Architecture(
        name,
        config.model_type,
        parameters,
        h,
        n_layers,
        heads,
        kv_heads,
        head_dim,
        inter,
        vocab,
        gated_mlp=True,
        linear_layers=block * n_layers,
        counted="config",
    )


def _on_meta_device(config, name: str) -> Architecture:
    """Count an architecture the formula does not know by building it on the meta device (no memory)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # "add is_decoder=True" and the like: irrelevant to counting
    try:
        with torch.device("meta"):
            try:
                model = AutoModelForCausalLM.from_config(config)
            except ValueError:  # an encoder without a causal-LM head: count the base model
                model = AutoModel.from_config(config)
    except Exception as e:
        raise InputError(
            f"transformers cannot build the architecture '{config.model_type}' of {name} ({type(e).__name__}: {e}); upgrade transformers "
            "or give a supported model."
        ) from e
    finally:
        logging.set_verbosity(verbosity)
    return _from_module(model, config, name, "meta device")


def _from_module(model, config, name: str, counted: str) -> Architecture:
    import torch
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    linears: list[tuple[int, int]] = []
    for module in model.modules():
        if module is head:
            continue
        if isinstance(module, torch.nn.Linear):
            linears.append((module.in_features, module.out_features))
        elif isinstance(module, Conv1D):  # GPT-2's transposed linear: weight is (in, out)
            n_in, n_out = module.weight.shape
            linears.append((n_in, n_out))
    names = [n for n, _ in model.named_modules()]
    h = config.hidden_size
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    return Architecture(
        name,
        config.model_type,
        sum(p.numel() for p in model.parameters()),  # parameters() yields a tied weight once
        h,
        config.num_hidden_layers,
        heads,
        getattr(config, "num_key_value_heads", None) or heads,
        head_dim,
        getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * h,
        config.vocab_size,
        gated_mlp=any(n.endswith(("gate_proj", "gate_up_proj")) for n in names),
        linear_layers=tuple(linears),
        counted=counted,
    )


# ---- estimating -------------------------------------------------------------------------------


def estimate_memory(
    arch: Architecture,
    mode: str,
    seq_len: int,
    batch_size: int,
    *,
    lora_r: int = 16,
    dtype: str = "bf16",
    gradient_checkpointing: bool = False,
    optimizer: str = "adamw",
    lora_dropout: float = 0.0,
    attention: str = "sdpa",
) -> MemoryEstimate:
    """Peak memory of one training step of ``arch`` in ``mode`` (full, lora or qlora).

    Assumptions (a rough estimate, meant to be within about 30%):

    - Weights and activations are in ``dtype`` (the model loaded in bf16). Full fine-tuning in
      bf16 also keeps an fp32 master copy of the weights with the optimizer (16 bytes per
      parameter with AdamW, as mixed-precision training does); in fp32 the weights are the master
      copy. fp32 weights under bf16 autocast keep more activations (about a third more, measured
      on a tiny Llama) and bf16 copies of the weights: this estimate is low for that setup.
    - LoRA adapts every linear layer but the LM head (PEFT's ``all-linear``): r x (in + out)
      parameters each, in fp32, with fp32 gradients and optimizer states.
    - QLoRA stores those linear layers in NF4 with double quantisation (~0.516 bytes per weight);
      embeddings, norms and the LM head stay in ``dtype``.
    - Activations per token and layer are what autograd keeps for the backward pass, counted the
      way Korthikanti et al. (2022) do it but for this layer's layout, and checked against what
      ``saved_tensors_hooks`` sees on SmolLM2's shape (full 1%, LoRA 5%, LoRA with dropout 11%
      under): each norm keeps its fp32 input and
      its normalised output, the linear layers their inputs, SDPA attention q, k, v and its
      output (``eager`` attention also keeps the fp32 softmax and the probabilities,
      heads x seq_len per token), the gated MLP four intermediate tensors (a plain MLP two).
      LoRA keeps a copy of each adapted layer's input, and with ``lora_dropout`` > 0 also the
      dropped-out copy and its mask.
    - The loss keeps fp32 log-probabilities over the vocabulary, and the backward pass adds their
      fp32 gradient while the model's logits are still held: (8 + dtype bytes) x vocab per token.
    - Gradient checkpointing keeps each layer's input and recomputes one layer at a time.
    - Not counted: the CUDA context, allocator fragmentation, the data loader (hence the 10% margin
      in :func:`fits`).
    """
    _check_options(mode, seq_len, batch_size, lora_r, dtype, optimizer, lora_dropout, attention)
    a = DTYPE_BYTES[dtype]
    state = OPTIMIZER_STATE_BYTES[optimizer]
    if mode == "full":
        trainable = arch.parameters
        weights = arch.parameters * a
        master = 4 if dtype == "bf16" else 0
        gradients = arch.parameters * a
        optimizer_states = arch.parameters * (state + master)
        note = f"all {arch.parameters:,} weights trained: {dtype} weights and gradients, {optimizer} states" + (
            " with an fp32 master copy" if master else ""
        )
    else:
        trainable = arch.lora_parameters(lora_r)
        frozen_linear = arch.linear_parameters
        dropout = f", dropout {lora_dropout}" if lora_dropout else ""
        if mode == "lora":
            base = arch.parameters * a
            note = (
                f"{trainable:,} LoRA parameters (r={lora_r}, every linear layer but the LM head) in fp32 on {dtype} frozen weights"
                + dropout
            )
        else:
            base = round(frozen_linear * NF4_BYTES_PER_PARAM) + (arch.parameters - frozen_linear) * a
            note = (
                f"{trainable:,} LoRA parameters (r={lora_r}) in fp32 on NF4 linear layers (double quantisation) and {dtype} embeddings"
                + dropout
            )
        weights = base + trainable * 4
        gradients = trainable * 4
        optimizer_states = trainable * state
    tokens = seq_len * batch_size
    activations = tokens * _activation_bytes_per_token(arch, mode, a, seq_len, gradient_checkpointing, lora_r, lora_dropout, attention)
    common = (
        f"{seq_len} tokens x {batch_size}, {attention} attention, "
        + ("" if gradient_checkpointing else "no ")
        + "gradient checkpointing, fp32 loss; CUDA context and fragmentation not counted"
    )
    return MemoryEstimate(mode, weights, gradients, optimizer_states, round(activations), trainable, f"{note}; {common}.")


def _check_options(mode, seq_len, batch_size, lora_r, dtype, optimizer, lora_dropout, attention) -> None:
    problems = []
    if mode not in MODES:
        problems.append(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    if dtype not in DTYPE_BYTES:
        problems.append(f"dtype must be one of {', '.join(DTYPE_BYTES)}; got {dtype!r}.")
    if optimizer not in OPTIMIZER_STATE_BYTES:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZER_STATE_BYTES)}; got {optimizer!r}.")
    if attention not in ATTENTION:
        problems.append(f"attention must be one of {', '.join(ATTENTION)}; got {attention!r}.")
    for name, value in (("seq_len", seq_len), ("batch_size", batch_size), ("lora_r", lora_r)):
        if value < 1:
            problems.append(f"{name} must be at least 1; got {value}.")
    if not 0 <= lora_dropout < 1:
        problems.append(f"lora_dropout must be in [0, 1); got {lora_dropout}.")
    if problems:
        raise RecipeError(problems, "the memory estimate's options")


def _activation_bytes_per_token(
    arch: Architecture, mode: str, a: int, seq_len: int, checkpointing: bool, r: int, lora_dropout: float, attention: str
) -> float:
    h, q, kv = arch.hidden_size, arch.num_heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
    norms = 2 * (4 * h + a * h)  # two norms, each keeping its fp32 input and its normalised output
    linear_inputs = a * 2 * h  # the attention's and the MLP's (shared by q/k/v and by gate/up)
    attn = a * (2 * q + 2 * kv)  # q, k, v and the output (which is also o_proj's input)
    if attention == "eager":
        attn += (4 + a) * arch.num_heads * seq_len  # fp32 softmax and the probabilities, per query token
    mlp = a * (4 if arch.gated_mlp else 2) * arch.intermediate_size
    layer: float = norms + linear_inputs + attn + mlp
    if mode != "full":
        # Every adapted layer keeps a copy of its input, A's output and B's input; dropout adds its
        # output and a one-byte mask. Averaged over the blocks (a few linear layers sit outside them).
        inputs = sum(i for i, _ in arch.linear_layers) / arch.num_layers
        adapted = len(arch.linear_layers) / arch.num_layers
        layer += a * inputs + 2 * a * r * adapted + ((a + 1) * inputs if lora_dropout > 0 else 0)
    logits = (8 + a) * arch.vocab_size
    if checkpointing:
        return arch.num_layers * a * h + layer + logits
    return arch.num_layers * layer + logits


# ---- the device -------------------------------------------------------------------------------


def visible_device() -> Device:
    """The GPU training would use (CUDA device 0), or this machine's RAM when there is none."""
    import torch

    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return Device(f"cuda:0 {torch.cuda.get_device_name(0)}", total, free)
    mem = psutil.virtual_memory()
    return Device("cpu (RAM)", mem.total, mem.available)


def training_dtype(device: Device) -> str:
    """The dtype training uses on ``device``: bf16 on a GPU, fp32 on the CPU (the trainer runs CPU steps in fp32)."""
    return "bf16" if device.name.startswith("cuda") else "fp32"


def lora_note(estimates: list[MemoryEstimate]) -> str | None:
    """Why LoRA needs more memory than full fine-tuning, when it does (it looks like a mistake otherwise)."""
    by_mode = {e.mode: e for e in estimates}
    full, lora = by_mode.get("full"), by_mode.get("lora")
    if full is None or lora is None or lora.total <= full.total:
        return None
    gib = lambda n: f"{n / 2**30:.2f} GiB"  # noqa: E731
    saved = (full.weights + full.gradients + full.optimizer_states) - (lora.weights + lora.gradients + lora.optimizer_states)
    extra = lora.activations - full.activations
    return (
        f"LoRA needs more than full fine-tuning here: it saves {gib(saved)} of weights, gradients and optimizer states, but its "
        f"activations are {gib(extra)} more, because each adapted layer keeps a copy of its input for the adapter's "
        "backward pass (and, with lora_dropout above 0, the dropped-out copy and its mask). Activations grow with "
        "seq_len x batch_size and the saving with the model's size: LoRA wins on larger models, on shorter or fewer "
        "sequences, with --lora-dropout 0, or with --gradient-checkpointing."
    )


def fits(estimate: MemoryEstimate, device: Device, margin: float = 0.10) -> bool:
    """Whether the estimate, plus ``margin`` for what it does not count, fits the device's free memory."""
    return estimate.total * (1 + margin) <= device.free_bytes
