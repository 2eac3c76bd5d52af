"""What ``curatune ablate`` shows: a plot of curated's advantage over each arm, and the tables behind it.

The plot puts every metric on one footing: each point is curated's advantage over another arm (the
difference, signed so that right of zero always means curated is better: lower NLL, higher ROUGE-L and
similarity), with its 95% paired-bootstrap interval; green when the interval is all on curated's side,
red when all on the other's, grey when it holds zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRIC_LABELS = {"nll": "answer NLL (nats/token)", "rougeL": "ROUGE-L", "similarity": "embedding similarity"}
COLOURS = {"better": "#1e8449", "worse": "#c0392b", "unclear": "#7f8c8d"}


def advantage(row: dict[str, Any]) -> tuple[float, float, float]:
    """Curated's advantage and its interval, signed so that positive is better for curated."""
    if row["higher_is_better"]:
        return row["difference"], row["low"], row["high"]
    return -row["difference"], -row["high"], -row["low"]


def plot_ablation(result: dict[str, Any], path: Path) -> Path:
    """One panel per reference set and metric: curated's advantage over each arm with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.get("comparisons") or []
    panels = sorted({(r["references"], r["metric"]) for r in rows}, key=lambda p: (p[0], list(METRIC_LABELS).index(p[1])))
    refs = sorted({p[0] for p in panels})
    metrics = [m for m in METRIC_LABELS if any(p[1] == m for p in panels)]
    fig, axes = plt.subplots(max(len(refs), 1), max(len(metrics), 1), figsize=(4.2 * max(len(metrics), 1), 0.6 + 1.9 * max(len(refs), 1)),
                             squeeze=False)  # fmt: skip
    for i, ref in enumerate(refs):
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            these = [r for r in rows if r["references"] == ref and r["metric"] == metric]
            for y, r in enumerate(these):
                mid, low, high = advantage(r)
                colour = COLOURS[r["verdict"]]
                ax.errorbar(mid, y, xerr=[[mid - low], [high - mid]], fmt="o", color=colour, capsize=4, lw=2)
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(range(len(these)), [f"vs {r['other']}" + (f" ({r['seeds']} seeds)" if r["seeds"] > 1 else "") for r in these])
            ax.set_ylim(-0.6, len(these) - 0.4)
            ax.invert_yaxis()
            ax.set_title(f"{ref}: {METRIC_LABELS[metric]}", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.locator_params(axis="x", nbins=4)
            ax.grid(axis="x", alpha=0.3)
    fig.suptitle("curated's advantage over each arm, 95% paired bootstrap (right of 0: curated better)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def arm_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per arm: size, what it trained on, time, and its value of each metric per reference set."""
    rows = []
    for name, a in result["arms"].items():
        cells = {}
        for ref, est in a["estimates"].items():
            for metric, v in est.items():
                cells[f"{ref} {metric}"] = _num(v)
        rows.append({
            "arm": name, "records": _num(a["records"]), "median answer words": _num(a["answer_words_median"]),
            "steps": _num(a["steps"]), "processed tokens": _num(a["processed_tokens"]),
            "CPU min (train + score)": f"{a['cpu_minutes']['train']:.1f} + {a['cpu_minutes']['score']:.1f}", **cells,
        })  # fmt: skip
    return rows


def comparison_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "references": r["references"],
            "metric": r["metric"],
            "other arm": r["other"] + (f" ({r['seeds']} seeds)" if r["seeds"] > 1 else ""),
            "curated": _num(r["curated"]),
            "other": _num(r["other_value"]),
            "curated − other [95%]": f"{r['difference']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]",
            "curated better in": f"{r['a_better_fraction']:.0%}",
            "verdict": {"better": "curated better", "worse": "curated worse", "unclear": "no clear difference"}[r["verdict"]],
        }  # fmt: skip
        for r in result.get("comparisons") or []
    ]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return lines


def summary_markdown(result: dict[str, Any]) -> str:
    """``ablation.md``: the budget, the arms and every difference, as a person reads them."""
    b = result["budget"]
    lines = [
        f"# Ablation: {result['name']}",
        "",
        f"Pool: {result['pool']['source']} ({result['pool']['records']:,} records after holding out references). "
        f"Every arm: {b['steps']} optimizer steps of {b['rows_per_step']} packed rows of up to {b['max_seq_len']} tokens "
        f"({b['token_capacity']:,} tokens of capacity). Held equal: {b['held_equal']}.",
        "",
        "References: " + "; ".join(f"{k} ({v['examples']} examples, {v['source']})" for k, v in result["references"].items()) + ".",
        "",
        "## Arms",
        "",
        *_table(arm_rows(result)),
        "",
        "## Curated minus each other arm",
        "",
        "Paired bootstrap over the reference examples and over each arm's seeds; NLL: lower is better.",
        "",
        *_table(comparison_rows(result)),
        "",
    ]
    return "\n".join(lines)
