"""``audit.html``: one self-contained page (inline CSS, inline SVG plots, no scripts, no network).

Plots use matplotlib's object API (``Figure``, no pyplot), so no global backend
is switched; SVG text stays text (``svg.fonttype: none``) and the metadata
block and XML namespaces (which carry URLs) are stripped, since inline SVG in
HTML needs neither.
"""

from __future__ import annotations

import io
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

COLORS = {
    "system": "#8c6d31",
    "user": "#3182bd",
    "assistant": "#e6550d",
    "text": "#31a354",
    "label": "#756bb1",
    "chosen": "#e6550d",
    "rejected": "#636363",
    "tool": "#9e9ac8",
    "total": "#222222",
}
_DROP = [re.compile(r"<metadata>.*?</metadata>", re.S), re.compile(r'\s+xmlns(:\w+)?="[^"]*"'), re.compile(r"<!--.*?-->", re.S)]


def _svg(fig) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "curatune"}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    for pattern in _DROP:
        text = pattern.sub("", text)
    return text


def _figure(height: float = 2.8, width: float = 7.5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _plain_ticks(axis) -> None:
    """Plain numbers on a log axis: matplotlib's default $10^{k}$ labels go through mathtext, seconds per plot."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axis.set_minor_formatter(NullFormatter())


def _hist_plot(hists: dict[str, dict], xlabel: str, vline: int | None = None) -> str | None:
    hists = {k: h for k, h in hists.items() if h.get("count")}
    if not hists:
        return None
    fig, ax = _figure()
    for role, h in hists.items():
        edges, counts = h["histogram"]["edges"], h["histogram"]["counts"]
        if not counts:
            continue
        ax.stairs(counts, edges, label=f"{role} (median {h['quantiles']['p50']})", color=COLORS.get(role), linewidth=1.6)
    ax.set_xscale("log")
    _plain_ticks(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    if vline:
        ax.axvline(vline, color="#c00", linestyle="--", linewidth=1)
        ax.text(vline, ax.get_ylim()[1] * 0.95, f" max_seq_len {vline}", color="#c00", va="top", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _bar_plot(items: list[tuple[str, int]], xlabel: str, color: str = "#3182bd") -> str | None:
    items = [(k, v) for k, v in items if v]
    if not items:
        return None
    fig, ax = _figure(height=0.35 * len(items) + 0.8)
    labels = [k for k, _ in items][::-1]
    values = [v for _, v in items][::-1]
    bars = ax.barh(labels, values, color=color)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8, padding=2)
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _language_plot(langs: dict[str, Any]) -> str | None:
    per_role = langs.get("per_role") or {}
    if not per_role:
        return None
    totals: dict[str, int] = {}
    for counts in per_role.values():
        for lang, n in counts.items():
            totals[lang] = totals.get(lang, 0) + n
    top = sorted(totals, key=totals.__getitem__, reverse=True)[:10]
    fig, ax = _figure(height=0.3 * len(top) * max(1, len(per_role)) / 1.5 + 1)
    height = 0.8 / len(per_role)
    for j, (role, counts) in enumerate(per_role.items()):
        ys = [i + j * height for i in range(len(top))]
        ax.barh(ys, [counts.get(lang, 0) for lang in top], height=height, label=role, color=COLORS.get(role))
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(top))], top)
    ax.invert_yaxis()
    ax.set_xscale("symlog")
    _plain_ticks(ax.xaxis)
    ax.set_xlabel("records (symlog scale)")
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def problem_counts(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    """``(key, label, records)`` for each problem an audit counts, for the bar chart and the summary."""
    rows = [
        ("parse", "rows that could not be read", report["parse"]["total"]),
        ("empty", "records with an empty field", report["empty_fields"]["records"]),
        ("role_order", "records with a role-order problem", report["role_order"]["records"]),
        ("duplicate", "exact duplicate records", report["duplicates"]["record"]["duplicates"]),
        ("prompt_duplicate", "repeated prompts", report["duplicates"]["prompt"]["duplicates"]),
    ]
    if "tokens" in report:
        t = report["tokens"]
        rows.append(("too_long", f"records over max_seq_len {t['max_seq_len']}", t["over_max_seq_len"]["records"]))
    if "languages" in report:
        rows.append(("language_mismatch", "user/assistant language mismatch", report["languages"]["user_assistant_mismatch"]["records"]))
    return rows


def render_html(report: dict[str, Any]) -> str:
    plots: dict[str, str | None] = {
        "problems": _bar_plot([(label, n) for _, label, n in problem_counts(report)], "records", "#d62728"),
        "chars": _hist_plot(report["chars"], "characters per record (all turns of the role)"),
    }
    if "tokens" in report:
        t = report["tokens"]
        plots["tokens"] = _hist_plot({**t["per_role"], "total": t["total"]}, "tokens per record", t["max_seq_len"])
    if "languages" in report:
        plots["languages"] = _language_plot(report["languages"])
    preview = report.get("preview") or {}
    if preview.get("steps"):
        items = [(s["step"], s["flagged"] + s["dropped"] + s["modified"]) for s in preview["steps"]]
        plots["preview"] = _bar_plot(items, "records flagged or modified", "#ff7f0e")
    template = resources.files("curatune.audit").joinpath("report.html.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else ("" if v is None else v)
    return env.from_string(template).render(r=report, plots=plots, problems=[(label, n) for _, label, n in problem_counts(report)])


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
