"""Which records train and which validate, and what task they make.

The recipe's ``data.path`` may be:

- a split folder written by ``curatune split`` (``splits/train.jsonl`` and
  ``splits/val.jsonl``, or the ``splits`` folder itself): train and validation
  come from it, already free of cross-split duplicates;
- a curate run folder: its kept records;
- any data file, glob or folder: the training records, with ``train.val_data``
  or a ``val_set_size`` share held out (at random, with the seed; use
  ``curatune split`` first when the data may hold near-duplicates, or the
  held-out loss will flatter the model).

Rows that cannot be read are not fatal: they are counted and listed in the
training folder's ``preflight.json`` with file, line and reason.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config.train import PREFERENCE_TASKS, TrainConfig
from ..curation.read.load import data_paths, read_all
from ..curation.read.records import Reject
from ..curation.record import Record
from ..errors import InputError
from ..run_folder import SplitFiles, split_file


@dataclass
class TrainData:
    train: list[Record]
    val: list[Record]
    task: str
    paths: list[Path]
    val_paths: list[Path] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    val_source: str = ""

    @property
    def labels(self) -> list[str]:
        return sorted({str(r.label) for r in self.train + self.val if r.label is not None})


def split_folder_files(path: str) -> tuple[Path, Path | None] | None:
    """``(train.jsonl, val.jsonl or None)`` when ``path`` is a split folder (or holds ``splits/``)."""
    p = Path(path).expanduser()
    for folder in (p, SplitFiles(p).splits):
        if split_file(folder, "train").is_file():
            val = split_file(folder, "val")
            return split_file(folder, "train"), (val if val.is_file() else None)
    return None


def detect_task(records: list[Record], source: str) -> str:
    kinds = Counter(r.kind for r in records)
    if kinds.get("preference"):
        if len(kinds) > 1:
            mixed = ", ".join(f"{n} {k}" for k, n in kinds.items())
            raise InputError(f"{source} mixes preference records with others ({mixed}); curate them apart, or set train.task.")
        return "kto" if all(r.unpaired for r in records) else "dpo"
    if kinds.get("labelled") and len(kinds) > 1:
        mixed = ", ".join(f"{n} {k}" for k, n in kinds.items())
        raise InputError(
            f"{source} mixes labelled records with others ({mixed}); set train.task to sft or classification, or curate the two kinds "
            "apart."
        )
    return "classification" if kinds.get("labelled") else "sft"


def load_train_data(data_path: str | list[str], config: TrainConfig, fmt: str = "auto") -> TrainData:
    specs = data_path if isinstance(data_path, list) else [data_path]
    split = split_folder_files(specs[0]) if len(specs) == 1 else None
    if split:
        train_paths, val_file = [split[0]], split[1]
    else:
        train_paths, val_file = data_paths(specs), None
    if config.val_data:
        val_file = Path(config.val_data).expanduser()
    loaded = read_all(train_paths, fmt)
    train, rejects, val, val_paths = loaded.records, list(loaded.rejects), [], []
    if val_file is not None:
        val_loaded = read_all(data_paths([str(val_file)]), fmt)
        val, rejects, val_paths = val_loaded.records, rejects + val_loaded.rejects, val_loaded.paths
        val_source = str(val_file)
    elif config.val_set_size > 0:
        train, val = hold_out(train, config.val_set_size, config.seed)
        val_source = f"{config.val_set_size:g} of the training data, at random (seed {config.seed})"
    else:
        val_source = "none (val_set_size: 0)"
    task = config.task if config.task != "auto" else detect_task(train, ", ".join(map(str, train_paths)))
    if task in PREFERENCE_TASKS:
        check_preference_records(train + val, task, ", ".join(map(str, train_paths)))
        problems = config.problems_for_task(task)
        if problems:
            raise InputError(f"The records make this a {task} training (task: auto), and then: " + "; ".join(problems) + ".")
    elif any(r.kind == "preference" for r in train):
        source = ", ".join(map(str, train_paths))
        raise InputError(
            f"{source} holds preference records (prompt/chosen/rejected) but train.task is {task}. Set train.task: dpo (or kto, orpo, "
            f"simpo) to train on the preferences, or train on the chosen answers by converting them: curatune convert {source} --to "
            "messages"
        )
    if task == "classification":
        unlabelled = [r.id for r in train + val if r.label is None]
        if unlabelled:
            raise InputError(
                f"task: classification needs a label on every record; {len(unlabelled)} have none (first: {unlabelled[0]}). Drop them with "
                "a curate step or fix the data."
            )
    return TrainData(train, val, task, train_paths, val_paths, rejects, val_source)


def check_preference_records(records: list[Record], task: str, source: str) -> None:
    """Every record a pair (``dpo``, ``orpo``, ``simpo``), or a pair or an unpaired example (``kto``), with a prompt."""
    wrong = [r.id for r in records if r.kind != "preference"]
    if wrong:
        raise InputError(
            f"task: {task} trains on preference records (prompt/chosen/rejected); {len(wrong)} records in {source} are not (first: "
            f"{wrong[0]}). Curate them apart, or set train.task to sft."
        )
    no_prompt = [r.id for r in records if not r.messages]
    if no_prompt:
        raise InputError(
            f"{len(no_prompt)} preference records in {source} have no prompt (first: {no_prompt[0]}): a preference is between two "
            "answers to one prompt. Drop them in curation (pair.empty_side) or give each a prompt."
        )
    if task != "kto":
        unpaired = [r.id for r in records if r.unpaired]
        if unpaired:
            raise InputError(
                f"task: {task} needs pairs (a chosen and a rejected answer); {len(unpaired)} records in {source} are unpaired KTO "
                f"examples (first: {unpaired[0]}). Set train.task: kto, which trains on both kinds."
            )


def hold_out(records: list[Record], fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """``fraction`` of the records (at least one, and at least one left) as validation, at random with ``seed``."""
    if len(records) < 2:
        raise InputError(f"Cannot hold out a validation set from {len(records)} record; give train.val_data or set train.val_set_size: 0.")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_val = min(max(1, round(len(records) * fraction)), len(records) - 1)
    val_idx = set(order[:n_val])
    return [r for i, r in enumerate(records) if i not in val_idx], [r for i, r in enumerate(records) if i in val_idx]
