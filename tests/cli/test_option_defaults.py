"""Each verb's option defaults are its config section's: the one difference on purpose is named in the config.

A verb restating a default that later changes in the config model would drift silently; this reads every
option default off the built command and compares it with the model's field.
"""

from __future__ import annotations

import typer

from curatune.cli import app
from curatune.config.eval import EvalConfig
from curatune.config.recipe import DataConfig, Recipe
from curatune.config.split import SplitCommand, SplitConfig
from curatune.config.train import COMMAND_BATCH_SIZE, COMMAND_SEQ_LEN, TrainConfig
from curatune.train.lr_find import DEFAULT_PICK, RangeTestSettings

COMMANDS = typer.main.get_command(app).commands


def defaults(verb: str) -> dict:
    return {p.name: p.default for p in COMMANDS[verb].params}


def test_split_options_are_the_split_section_and_only_test_differs_from_a_recipe():
    got = defaults("split")
    for field in ("val", "test", "stratify", "seed", "near_dup_threshold", "semantic_threshold", "embed_model", "fields", "to"):
        assert got[field] == SplitCommand.model_fields[field].default, field
    assert got["fmt"] == SplitCommand.model_fields["format"].default == DataConfig.model_fields["format"].default
    differ = [f for f in SplitConfig.model_fields if SplitCommand.model_fields[f].default != SplitConfig.model_fields[f].default]
    assert differ == ["test"] and (got["test"], SplitConfig().test) == (0.1, 0.0)


def test_eval_hw_lr_find_ui_and_audit_options_are_their_config_defaults():
    ev = defaults("eval")
    for field in ("base", "max_new_tokens", "limit", "seed", "human_sheet"):
        assert ev[field] == EvalConfig.model_fields[field].default, field
    hw = defaults("hw")
    for field in ("model", "lora_r", "lora_dropout", "gradient_checkpointing"):
        assert hw[field] == TrainConfig.model_fields[field].default, field
    assert (hw["seq_len"], hw["batch_size"]) == (COMMAND_SEQ_LEN, COMMAND_BATCH_SIZE) == (2048, 1)
    assert defaults("audit")["max_seq_len"] == COMMAND_SEQ_LEN
    lr = defaults("lr-find")
    assert (lr["start_lr"], lr["end_lr"], lr["num_steps"], lr["pick"]) == (
        RangeTestSettings.start_lr,
        RangeTestSettings.end_lr,
        RangeTestSettings.num_steps,
        DEFAULT_PICK,
    )
    assert defaults("ui")["runs_dir"] == Recipe.model_fields["runs_dir"].default
    assert defaults("convert")["fmt"] == defaults("audit")["fmt"] == DataConfig.model_fields["format"].default
