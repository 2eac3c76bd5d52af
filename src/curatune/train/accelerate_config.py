"""An Accelerate config for training a recipe on several processes: DDP, FSDP2, DeepSpeed ZeRO-2 or ZeRO-3.

``curatune accelerate-config RECIPE --strategy fsdp2`` writes it; ``accelerate launch --config_file it.yaml
-m curatune train RECIPE`` uses it. The file is Accelerate's own format (what ``accelerate config`` asks
for, answered from the recipe): the work stays Accelerate's and transformers'. What comes from the recipe:

- ``mixed_precision`` from ``train.bf16`` / ``train.fp16`` (``bf16: auto`` is bf16 on GPUs, none on CPUs);
- DeepSpeed's ``gradient_accumulation_steps`` and ``gradient_clipping`` from the recipe's, which the
  Trainer requires to agree with its own;
- FSDP2 wraps each decoder layer (the model's ``_no_split_modules``) and saves a full state dict, so that
  ``train/model/`` loads with ``from_pretrained`` as after a one-process training. Activation
  checkpointing stays the Trainer's (``train.gradient_checkpointing``): turning on both is an error there.

DDP on a machine without GPUs runs one gloo process per ``--num-processes`` (Accelerate's MULTI_GPU
launcher is torchrun's; its MULTI_CPU one needs MPI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..config.train import TrainConfig
from ..errors import RecipeError

STRATEGIES = ("ddp", "fsdp2", "zero2", "zero3")


def accelerate_config(
    strategy: str, config: TrainConfig, num_processes: int, num_machines: int = 1, main_process_ip: str | None = None, cpu: bool = False
) -> dict[str, Any]:
    """Accelerate's config for ``strategy`` on ``num_processes`` processes in all (over ``num_machines`` machines)."""
    problems = []
    if strategy not in STRATEGIES:
        problems.append(f"--strategy must be one of {', '.join(STRATEGIES)}. Got {strategy!r} instead.")
    if num_processes < 1 or num_machines < 1 or num_processes % num_machines:
        problems.append(
            f"--num-processes ({num_processes}) must be a positive multiple of --num-machines ({num_machines}): it counts the processes "
            "of every machine together."
        )
    if num_machines > 1 and not main_process_ip:
        problems.append("With --num-machines above 1, give --main-process-ip: the address of the machine of rank 0.")
    if cpu and strategy != "ddp":
        problems.append(f"--cpu goes with --strategy ddp only: {strategy} shards over GPUs.")
    if problems:
        raise RecipeError(problems)
    out: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}[strategy],
        "downcast_bf16": "no",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": _mixed_precision(config, cpu),
        "num_machines": num_machines,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }
    if strategy == "ddp":
        out["gpu_ids"] = "all"
    if num_machines > 1:
        out["main_process_ip"] = main_process_ip
        out["main_process_port"] = 29500
    if strategy == "fsdp2":
        out["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_reshard_after_forward": True,
            "fsdp_offload_params": False,
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_activation_checkpointing": False,
        }
    if strategy in ("zero2", "zero3"):
        ds: dict[str, Any] = {
            "zero_stage": int(strategy[-1]),
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "gradient_clipping": config.max_grad_norm,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
        }
        if strategy == "zero3":
            ds |= {"zero3_init_flag": True, "zero3_save_16bit_model": True}
        if num_machines > 1:
            ds["deepspeed_multinode_launcher"] = "standard"
        out["deepspeed_config"] = ds
    return out


def _mixed_precision(config: TrainConfig, cpu: bool) -> str:
    if config.fp16:
        return "fp16"
    if config.bf16 is True or (config.bf16 == "auto" and not cpu):
        return "bf16"
    return "no"


def write_accelerate_config(path: Path, settings: dict[str, Any], recipe_path: str, strategy: str) -> Path:
    """The config as YAML, headed by the command that launches it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    needs = " (needs `pip install deepspeed`)" if strategy.startswith("zero") else ""
    header = (
        f"# Accelerate config for {strategy}{needs}, written by `curatune accelerate-config {recipe_path} --strategy {strategy}`.\n"
        f"# Launch: accelerate launch --config_file {path} -m curatune train {recipe_path}\n"
    )
    if settings["num_machines"] > 1:
        header += "# On each machine, set machine_rank (0 on the machine at main_process_ip, then 1, 2, ...).\n"
    path.write_text(header + yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return path
