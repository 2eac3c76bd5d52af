"""The report stage: ``report.html`` of a run folder, rebuilt every time (it only reads what the other stages wrote)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..report.build import render_report
from ..run_folder import RunFolder


def build_report(
    run_dir: str | Path, compare: dict[str, Any] | None = None, title: str | None = None, ablation: dict[str, Any] | None = None
) -> Path:
    """Write ``report.html`` into the run folder (with a comparison or an ablation on top, when given); its path."""
    run = RunFolder(Path(run_dir))
    run.report.write_text(render_report(run, compare, title, ablation), encoding="utf-8")
    return run.report
