"""Training and what goes around it: ``train``, ``lr-find``, ``tune``, ``hw``, ``ui``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..config.recipe import Recipe
from ..config.train import COMMAND_BATCH_SIZE, COMMAND_SEQ_LEN, TrainConfig
from ..distributed import is_main
from ..errors import CuratuneError, RecipeError
from ..train.lr_find import DEFAULT_PICK, RangeTestSettings
from .options import default_of
from .process import run_group
from .render import echo, exit_on_error, fail, out, print_lr_found, print_memory, print_trained, print_tuned


def train(
    recipe_path: Annotated[str, typer.Argument(metavar="RECIPE", help="A recipe (.yaml) with a train: section.")],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s train.learning_rate=1e-4")] = None,
    force: Annotated[bool, typer.Option(help="Train even if an identical training has finished.")] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """Fine-tune a model (LoRA, full or top layers) with checks before, overfitting watched during, losses ranked after."""
    from ..config.recipe import load_recipe
    from ..stages.train import train as run_train

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        if recipe.train is None:
            raise RecipeError(
                [f"{recipe_path} has no train: section. Add one (see examples/train_lora.yaml); `train: {{}}` takes every default."]
            )
        result = run_train(recipe, force=force, echo=echo, track=not no_tracking)
    if is_main():  # under accelerate launch or torchrun, rank 0 reports for all
        print_trained(result)


def lr_find(
    recipe_path: Annotated[
        str, typer.Argument(metavar="RECIPE", help="A recipe (.yaml); its train: section says the model, the method and the batch.")
    ],
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s train.per_device_train_batch_size=16")
    ] = None,
    start_lr: Annotated[float, typer.Option(help="The first learning rate.")] = RangeTestSettings.start_lr,
    end_lr: Annotated[
        float, typer.Option(help="The last learning rate (the test stops before it when the loss diverges).")
    ] = RangeTestSettings.end_lr,
    num_steps: Annotated[
        int, typer.Option(help="Steps at most (never more than the training itself takes).")
    ] = RangeTestSettings.num_steps,
    pick: Annotated[
        str, typer.Option(help="The suggestion to print first: min_div_10 (what learning_rate: auto uses) or steepest.")
    ] = DEFAULT_PICK,
    force: Annotated[bool, typer.Option(help="Run the test even if an identical one has finished.")] = False,
):
    """Learning-rate range test: train briefly with a rate growing from --start-lr to --end-lr, suggest a rate, plot the curve."""
    from ..config.recipe import load_recipe
    from ..stages.lr_find import lr_find as run_lr_find

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        settings = RangeTestSettings(start_lr=start_lr, end_lr=end_lr, num_steps=num_steps)
        result = run_lr_find(recipe, settings, pick=pick, force=force, echo=echo)
    print_lr_found(result)


def tune(
    recipe_path: Annotated[
        str,
        typer.Argument(
            metavar="RECIPE", help="A recipe (.yaml) with a tune: section (the space to search) and a train: section (the rest)."
        ),
    ],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s tune.n_trials=40")] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log the trials to MLflow.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every trial's training lines, not one line per trial.")] = False,
):
    """Search hyperparameters with Optuna (TPE, random or grid; bad trials pruned); write the best configuration as a recipe. Rerun to resume."""  # noqa: E501 (the help text, one line)
    from ..config.recipe import load_recipe
    from ..stages.tune import tune as run_tune

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        result = run_tune(recipe, echo=echo, track=not no_tracking, verbose=verbose)
    if is_main():  # under accelerate launch or torchrun, rank 0 reports for all
        print_tuned(result)


def accelerate_config(
    recipe_path: Annotated[str, typer.Argument(metavar="RECIPE", help="A recipe (.yaml); its train: section gives precision and batch.")],
    strategy: Annotated[str, typer.Option(help="ddp, fsdp2, zero2 or zero3 (DeepSpeed ZeRO stage 2 or 3).")] = "ddp",
    num_processes: Annotated[
        int | None, typer.Option(help="Processes in all machines together; default: the GPUs visible here (2 without one).")
    ] = None,
    num_machines: Annotated[int, typer.Option(help="Machines the processes are spread over.")] = 1,
    main_process_ip: Annotated[str | None, typer.Option(help="With several machines: the address of the one of rank 0.")] = None,
    cpu: Annotated[bool, typer.Option(help="For a machine without GPUs (ddp over gloo, no mixed precision).")] = False,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the config.")] = Path("accelerate.yaml"),
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s train.bf16=false")] = None,
):
    """Write an Accelerate config (DDP, FSDP2, DeepSpeed ZeRO-2/3) for training the recipe on several processes or GPUs."""
    from ..config.recipe import load_recipe
    from ..train.accelerate_config import accelerate_config as build
    from ..train.accelerate_config import write_accelerate_config

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        if num_processes is None:
            import torch

            num_processes = torch.cuda.device_count() if torch.cuda.is_available() and not cpu else 2
        settings = build(strategy, recipe.train or TrainConfig(), num_processes, num_machines, main_process_ip, cpu)
        path = write_accelerate_config(out_path, settings, recipe_path, strategy)
    out.print(f"{strategy} on {num_processes} processes: {path}")
    out.print(f"Launch: accelerate launch --config_file {path} -m curatune train {recipe_path}", highlight=False)


def ui(
    runs_dir: Annotated[str, typer.Option(help="The runs folder whose MLflow store to open.")] = default_of(Recipe, "runs_dir"),
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
):
    """Open the MLflow UI on the local tracking store (runs/mlflow.db)."""
    from ..tracking import artifact_root, default_tracking_uri

    db = Path(runs_dir) / "mlflow.db"
    if not db.is_file():
        fail(CuratuneError(f"No MLflow store at {db}: nothing has been trained with --runs-dir {runs_dir} yet (curatune train RECIPE)."))
    out.print(f"MLflow UI on http://127.0.0.1:{port} (Ctrl+C stops it)")
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        default_tracking_uri(runs_dir),
        "--default-artifact-root",
        artifact_root(runs_dir),
        "--port",
        str(port),
    ]
    raise typer.Exit(run_group(cmd))  # the server and its workers stop with us, on Ctrl-C and on SIGTERM


def hw(
    model: Annotated[
        str, typer.Argument(help="A folder with config.json, a .gguf file, or default (packaged SmolLM2-135M). No weights are read.")
    ] = default_of(TrainConfig, "model"),
    seq_len: Annotated[int, typer.Option(help="Tokens per training example (max_seq_len).")] = COMMAND_SEQ_LEN,
    batch_size: Annotated[int, typer.Option(help="Examples per forward pass (per_device_train_batch_size).")] = COMMAND_BATCH_SIZE,
    lora_r: Annotated[int, typer.Option(help="LoRA rank (LoRA and QLoRA adapt every linear layer but the LM head).")] = default_of(
        TrainConfig, "lora_r"
    ),
    # Dropout makes PEFT keep two more copies of each adapted layer's input, so train's default is the one to estimate.
    lora_dropout: Annotated[float, typer.Option(help="LoRA dropout; above 0 it costs activation memory.")] = default_of(
        TrainConfig, "lora_dropout"
    ),
    dtype: Annotated[
        str, typer.Option(help="bf16 or fp32 weights and activations; auto: as training runs (bf16 on a GPU, fp32 on the CPU).")
    ] = "auto",
    optimizer: Annotated[str, typer.Option(help="adamw, adamw_8bit or sgd.")] = "adamw",
    gradient_checkpointing: Annotated[
        bool, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations in the backward pass.")
    ] = default_of(TrainConfig, "gradient_checkpointing"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """Estimate the memory of full fine-tuning, LoRA and QLoRA at a sequence length and batch size, and whether each fits the visible device."""  # noqa: E501 (the help text, one line)
    import json
    from dataclasses import asdict

    from ..train.memory import MODES, describe_model, estimate_memory, fits, lora_note, training_dtype, visible_device

    device = visible_device()
    if dtype == "auto":
        dtype = training_dtype(device)
    with exit_on_error():
        arch = describe_model(model)
        estimates = [
            estimate_memory(
                arch,
                mode,
                seq_len,
                batch_size,
                lora_r=lora_r,
                dtype=dtype,
                gradient_checkpointing=gradient_checkpointing,
                optimizer=optimizer,
                lora_dropout=lora_dropout,
            )
            for mode in MODES
        ]
    note = lora_note(estimates)
    if as_json:
        payload = {
            "model": arch.to_dict(),
            "device": asdict(device),
            "dtype": dtype,
            "estimates": [{**e.to_dict(), "fits": fits(e, device)} for e in estimates],
            "notes": [note] if note else [],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    print_memory(arch, device, estimates, fits, note)
