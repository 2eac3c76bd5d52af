"""Reading what ``curatune split`` splits or checks, and writing the split folder."""

from __future__ import annotations

from pathlib import Path

import orjson

from ..curation.formats import get_format
from ..curation.read.files import expand_inputs
from ..curation.read.records import Reject
from ..curation.write.writers import RecordWriter
from ..errors import RecipeError
from ..run_folder import SplitFiles, split_file, staged
from .core import SplitResult
from .leakage import LeakageReport


def split_inputs(data: list[str]) -> dict[str, list[Path]]:
    """For ``--check``: the files of each split, named by file stem (the path where stems repeat).

    One folder stands for its files, one split each (a ``splits/`` folder written by ``curatune split``).
    """
    specs = data
    if len(data) == 1 and Path(data[0]).is_dir():
        usual = {"train": 0, "val": 1, "validation": 1, "dev": 1, "test": 2}
        files = expand_inputs(data)
        specs = [str(p) for p in sorted(files, key=lambda p: usual.get(p.name.split(".")[0], 3))]  # train, val, test, then the rest
    if len(specs) < 2:
        raise RecipeError(
            [
                f"--check needs at least two splits, got {len(specs)} ({', '.join(specs)}). Give one file (or glob) per split: curatune "
                "split --check train.jsonl val.jsonl test.jsonl"
            ],
            "the command line",
        )
    names = [Path(s).name.split(".")[0] or s for s in specs]
    names = [s if names.count(n) > 1 else n for n, s in zip(names, specs)]
    return {n: expand_inputs(s) for n, s in zip(names, specs)}


def write_split(
    result: SplitResult, out_dir: Path, to: str = "messages", inputs: list[Path] | None = None, rejects: list[Reject] | None = None
) -> dict[str, Path]:
    """``out_dir/splits/<name>.jsonl`` for each split, ``split_report.json`` and ``clusters.jsonl``.

    The splits folder is written beside the old one and swapped in whole: a rerun with ``--test 0``
    leaves no stale ``test.jsonl`` behind, and a crash leaves the old splits intact.
    """
    out = SplitFiles(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    with staged(out.splits) as folder:
        for name, recs in result.by_split().items():
            with RecordWriter(split_file(folder, name), to, "jsonl") as w:
                w.write_many(recs)
            files[name] = out.split(name)
    report = {
        "inputs": [str(p) for p in inputs or []],
        "read_problems": len(rejects or []),
        "read_problem_examples": [
            {"source": r.source, "line": r.line, "reason": r.reason, "detail": r.detail} for r in (rejects or [])[:20]
        ],
        "format": to,
        "files": {n: str(p) for n, p in files.items()},
        **result.report,
    }
    out.report.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    _write_clusters(result, out.clusters)
    return files


def _write_clusters(result: SplitResult, path: Path) -> None:
    """Every cluster of two or more records, with its split: the records that were moved as a whole."""
    members: dict[int, list[int]] = {}
    for i, c in enumerate(result.cluster_of.tolist()):
        members.setdefault(c, []).append(i)
    with open(path, "wb") as f:
        for c, rows in members.items():
            if len(rows) > 1:
                row = {
                    "cluster": c,
                    "split": result.names[int(result.split_of[rows[0]])],
                    "size": len(rows),
                    "ids": [result.records[i].id for i in rows],
                }
                f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def write_leakage(report: LeakageReport, out_dir: Path, inputs: dict[str, list[Path]]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = SplitFiles(out_dir).leakage
    body = {"inputs": {n: [str(p) for p in ps] for n, ps in inputs.items()}, **report.to_dict()}
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    return path


def check_output_name(to: str) -> None:
    """Fail before any work on an output format that does not exist."""
    if to != "original":
        get_format(to)
