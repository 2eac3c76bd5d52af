"""``report.html``: one self-contained page per run folder, from whatever stages the folder holds.

Every section reads the files its stage wrote and is left out when the stage
did not run: the data funnel (``stats.json``, ``data/dropped.jsonl``), the
splits (``split_report.json``), the learning-rate range test
(``lr_find/``), the search (``tune/``), training (``train/``) and the
evaluation (``eval/``). Images are embedded as data URIs and there is no
script, so the page opens from disk without a network and can be mailed.
"""

from __future__ import annotations

import base64
import csv
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import orjson

from ..run_folder import RunFolder

EXAMPLES_PER_REASON = 3
SAMPLE_GENERATIONS = 8
SNIPPET = 280


def read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def _jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows: list[dict] = []
    if not path.is_file():
        return rows
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                rows.append(orjson.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def image(path: Path) -> str | None:
    """A PNG as a data URI (the page stays one file)."""
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def snippet(text: str, n: int = SNIPPET) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def record_text(row: dict) -> str:
    if row.get("messages"):
        return " | ".join(f"{m['role']}: {m['content']}" for m in row["messages"])
    return str(row.get("text", ""))


# ---- sections ------------------------------------------------------------------------------


def funnel(run: RunFolder) -> dict | None:
    """Records in, dropped per step and reason, kept; examples of each reason."""
    stats = read_json(run.stats)
    if not stats:
        return None
    rows = []
    for s in stats["steps"]:
        for key, n in s["reasons"].items():
            action, reason = key.split(":", 1)
            if action == "drop":
                rows.append({"step": s["step"], "reason": reason, "n": n})
    # stats.json counts read problems per reason ({"bad_json": 3}); older runs wrote one number.
    problems = stats.get("read_problems") or {}
    if isinstance(problems, int):
        problems = {"unreadable row": problems}
    rows[:0] = [{"step": "read", "reason": reason, "n": n} for reason, n in problems.items()]
    flagged = [
        {"step": s["step"], "reason": k.split(":", 1)[1], "n": n}
        for s in stats["steps"]
        for k, n in s["reasons"].items()
        if k.startswith("flag:")
    ]
    examples: dict[str, list[dict]] = defaultdict(list)
    for row in _jsonl(run.dropped):
        d = row.get("dropped", {})
        reason = d.get("reason", "?")
        if len(examples[reason]) < EXAMPLES_PER_REASON:
            examples[reason].append(
                {"id": row.get("id"), "text": snippet(record_text(row)), "value": d.get("value"), "duplicate_of": d.get("duplicate_of")}
            )
    top = max([r["n"] for r in rows] + [1])
    for r in rows:
        r["width"] = round(100 * r["n"] / top, 1)
    return {
        "input": stats["input"],
        "kept": stats["kept"],
        "dropped": stats["dropped"],
        "rows": rows,
        "flagged": flagged,
        "examples": dict(examples),
        "seconds": stats.get("seconds"),
    }


def lengths(run: RunFolder) -> dict | None:
    """Histogram (10 bins) of answer lengths in words among the kept records."""
    kept = _jsonl(run.kept, limit=20000)
    if not kept:
        return None
    words = []
    for r in kept:
        answer = " ".join(m["content"] for m in r.get("messages") or [] if m["role"] == "assistant") or str(r.get("text", ""))
        words.append(len(answer.split()))
    lo, hi = min(words), max(words)
    width = max(1, -(-(hi - lo + 1) // 10))
    n_bins = -(-(hi - lo + 1) // width)
    bins = Counter((w - lo) // width for w in words)
    top = max(bins.values())
    label = lambda i: str(lo + i * width) if width == 1 else f"{lo + i * width}–{lo + (i + 1) * width - 1}"  # noqa: E731
    return {
        "bins": [{"label": label(i), "n": bins.get(i, 0), "width": round(100 * bins.get(i, 0) / top, 1)} for i in range(n_bins)],
        "records": len(words),
    }


def splits(run: RunFolder) -> dict | None:
    report = read_json(run.split.report)
    if not report:
        return None
    return {"sizes": report.get("sizes") or report.get("counts") or {}, "clusters": report.get("clusters", {}), "raw": report}


def training(run: RunFolder) -> dict | None:
    t = run.train
    summary = read_json(t.summary)
    if not summary:
        return None
    pre = read_json(t.preflight) or {}
    return {
        "summary": summary,
        "curves": image(t.curves),
        "preflight": pre.get("train", {}),
        "highest": summary.get("highest_loss_examples", [])[:10],
        # a preference training: the rewards on its training pairs, at the best validation step, and the pairs it ranks worst
        "rewards": summary.get("train_pairs"),
        "val_rewards": _best_evaluation(summary),
        "lowest_margin": summary.get("lowest_margin_pairs", [])[:10],
    }


def _best_evaluation(summary: dict) -> dict | None:
    """The evaluation of the best (kept) step, when it measured rewards."""
    evals = [e for e in summary.get("evaluations") or [] if e.get("eval_reward_accuracy") is not None]
    best = [e for e in evals if e["step"] == summary.get("best_step")]
    return (best or evals[-1:] or [None])[0]


def lr_find(run: RunFolder) -> dict | None:
    folder = run.lr_find
    result = read_json(folder.result)
    if not result and not folder.plot.is_file():
        return None
    return {"result": result or {}, "plot": image(folder.plot)}


def search(run: RunFolder) -> dict | None:
    folder = run.tune
    if not folder.root.is_dir():
        return None
    trials = []
    if folder.trials.is_file():
        with folder.trials.open(newline="", encoding="utf-8") as f:
            trials = list(csv.DictReader(f))
    return {
        "trials": trials[:50],
        "history": image(folder.history_plot),
        "importances": image(folder.importances_plot),
    }


def interval(d: dict) -> str:
    return f"{_fmt(d['estimate'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]"


def verdict(diff: dict, higher_is_better: bool) -> str:
    """``better`` / ``worse`` when the paired interval excludes zero, else nothing."""
    if diff["low"] > 0:
        return "better" if higher_is_better else "worse"
    if diff["high"] < 0:
        return "worse" if higher_is_better else "better"
    return ""


def evaluation(run: RunFolder) -> dict | None:
    """Base against tuned: each metric with its interval, the paired difference, output safety, sample answers."""
    metrics = read_json(run.eval.metrics)
    if not metrics:
        return None
    table = []
    for name, m in metrics.get("metrics", {}).items():
        table.append(
            {
                "metric": name.replace("_", " "),
                "cells": [interval(m["base"]), interval(m["tuned"])],
                "difference": interval(m["difference"]),
                "verdict": verdict(m["difference"], m["higher_is_better"]),
            }
        )
    safety = {k: v.get("flagged", 0) for k, v in (metrics.get("safety") or {}).items()}
    samples = []
    for g in _jsonl(run.eval.generations, limit=SAMPLE_GENERATIONS):
        if "base" in g and "tuned" in g:
            samples.append(
                {"prompt": g.get("prompt", ""), "reference": g.get("reference", ""), "answers": {"base": g["base"], "tuned": g["tuned"]}}
            )
    return {
        "models": ["base", "tuned"],
        "table": table,
        "difference": "tuned − base (paired)",
        "safety": safety,
        "samples": samples,
        "sample_models": ["base", "tuned"],
        "n": metrics.get("n"),
        "notes": metrics.get("notes", []),
    }


def render_report(run: RunFolder, compare: dict | None = None, title: str | None = None, ablation: dict | None = None) -> str:
    """The page of a run folder: every section whose stage left its files, and ``compare`` (a comparison's rows) on top."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: (
        f"{v:,}" if isinstance(v, int) else (f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)))
    )
    env.filters["fmt"] = _fmt
    template = env.from_string(resources.files("curatune.report").joinpath("report.html.jinja").read_text(encoding="utf-8"))
    return template.render(
        title=title or run.root.name,
        run=str(run.root),
        funnel=funnel(run),
        lengths=lengths(run),
        splits=splits(run),
        lr_find=lr_find(run),
        search=search(run),
        training=training(run),
        evaluation=evaluation(run),
        compare=compare,
        ablation=ablation_section(ablation) if ablation else None,
        snippet=snippet,
    )


def ablation_section(result: dict) -> dict | None:
    """``curatune ablate``'s result (``ablation.json``, with ``plot_path``) as the report's rows and plot."""
    from .ablation import arm_rows, comparison_rows

    b = result["budget"]
    return {
        "budget_line": f"Every arm trained {b['steps']} optimizer steps of {b['rows_per_step']} packed rows of up to {b['max_seq_len']} "
        f"tokens; held equal: {b['held_equal']}. Intervals: 95% paired bootstrap over the references and each arm's seeds.",
        "plot": image(Path(result["plot_path"])) if result.get("plot_path") else None,
        "comparisons": comparison_rows(result) or [{"": "no comparison"}],
        "arms": arm_rows(result),
    }


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "–"
    return str(v)  # autoescape escapes it
