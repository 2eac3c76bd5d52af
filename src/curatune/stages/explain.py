"""``curatune explain RUN ID``: one record's history, read back from the run's ledger."""

from __future__ import annotations

from pathlib import Path

from ..curation.ledger import read_ledger
from ..errors import InputError
from ..run_folder import RunFolder


def explain_record(run_dir: Path, record_id: str) -> str:
    run = RunFolder(run_dir)
    if not run.ledger.is_file():
        raise InputError(f"'{run_dir}' has no ledger.parquet: is it a run folder? Make one with: curatune curate RECIPE.yaml")
    rows = read_ledger(run.ledger, record_id)
    if not rows:
        raise InputError(
            f"Record {record_id!r} is not in the ledger of '{run_dir}'. Ids are the input's 'id' field, or FILESTEM:LINE; "
            f"see the ids in {run.kept} or {run.dropped}."
        )
    first = rows[0]
    lines = [f"{record_id}  (from {first['source']}, line {first['line']})"]
    for r in rows:
        parts = [f"  {r['step']:<24} {r['action']:<7}"]
        if r["reason"]:
            parts.append(r["reason"])
        if r["value"] is not None:
            parts.append(f"value={r['value']:g}")
        if r["threshold"] is not None:
            parts.append(f"threshold={r['threshold']:g}")
        if r["duplicate_of"]:
            parts.append(f"duplicate of {r['duplicate_of']}")
        if r["detail"]:
            parts.append(f"({r['detail']})")
        lines.append(" ".join(parts))
    final = rows[-1]["action"]
    lines.append(f"  => {'kept' if final == 'keep' else 'dropped'}")
    if final == "drop":
        lines.append(f"  The whole record is in {run.dropped}; change the recipe to keep it.")
    return "\n".join(lines)
