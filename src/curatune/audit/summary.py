"""The audit's terminal summary: a few rich tables that read at 100 columns."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .html import problem_counts


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else ("-" if v is None else str(v))


def _lengths_table(title: str, hists: dict[str, dict]) -> Table | str:
    t = Table("role", "records", "mean", "p50", "p90", "p99", "max", title=title, title_justify="left")
    for role, h in hists.items():
        if h.get("count"):
            q = h["quantiles"]
            t.add_row(role, _n(h["count"]), f"{h['mean']:.0f}", _n(q["p50"]), _n(q["p90"]), _n(q["p99"]), _n(h["max"]))
    return t if t.row_count else f"{title}: no records."


def print_summary(report: dict[str, Any], console: Console) -> None:
    width = min(100, console.width)
    formats = ", ".join(sorted(set(report["formats"].values())))
    kinds = ", ".join(f"{k} {_n(v)}" for k, v in report["kinds"].items())
    what = f" ({kinds}; format {formats})" if report["records"] else ""
    console.print(Text.assemble((_n(report["records"]), "bold"), f" records{what} audited in {report['seconds']:.1f}s"), highlight=False)

    problems = Table("problem", "records", "first locations", title="Problems", title_justify="left", width=width)
    problems.columns[2].overflow = "fold"
    dups = report["duplicates"]
    where = {
        "parse": [f"{e['source']}:{e['line']} {r}" for r, exs in report["parse"]["examples"].items() for e in exs[:2]],
        "empty": [f"{e['id']} ({', '.join(e['roles'])})" for e in report["empty_fields"]["examples"]],
        "role_order": [f"{e['id']} ({e['roles']})" for e in report["role_order"]["examples"]],
        "duplicate": [f"{g['duplicates'][0]['id']} = {g['first']['id']}" for g in dups["record"]["examples"]],
        "prompt_duplicate": [f"{g['duplicates'][0]['id']} ~ {g['first']['id']}" for g in dups["prompt"]["examples"]],
        "too_long": [f"{e['id']} ({e['tokens']:,})" for e in report.get("tokens", {}).get("over_max_seq_len", {}).get("examples", [])],
        "language_mismatch": [
            f"{e['id']} ({e['user']}->{e['assistant']})"
            for e in report.get("languages", {}).get("user_assistant_mismatch", {}).get("examples", [])
        ],
    }
    for key, label, n in problem_counts(report):
        problems.add_row(label, _n(n), ", ".join(where.get(key, [])[:3]) if n else "")
    console.print(problems)
    if report["parse"]["reasons"]:
        console.print(
            "  unreadable rows by reason: " + ", ".join(f"{k} {_n(v)}" for k, v in report["parse"]["reasons"].items()), highlight=False
        )
    order = {k: v for k, v in report["role_order"]["problems"].items() if v}
    if order:
        console.print("  role order: " + ", ".join(f"{k} {_n(v)}" for k, v in order.items()), highlight=False)

    console.print(_lengths_table("Characters per record", report["chars"]))
    tokens = report.get("tokens")
    if tokens:
        hists = {**tokens["per_role"], "whole conversation": tokens["total"]}
        console.print(_lengths_table(f"Tokens ({tokens['tokenizer']}, chat template mode {tokens['mode']})", hists))
        o = tokens["over_max_seq_len"]
        console.print(
            f"  {_n(o['records'])} records ({o['percent']}%) exceed max_seq_len {_n(tokens['max_seq_len'])}: "
            f"{_n(o['tokens_cut'])} tokens would be cut; {_n(o['answer_lost'])} would lose the whole answer.",
            highlight=False,
        )
    langs = report.get("languages")
    if langs and langs["per_role"]:
        t = Table("role", "languages (records)", "short", "uncertain", title="Languages", title_justify="left", width=width)
        for role, counts in langs["per_role"].items():
            top = ", ".join(f"{k} {_n(v)}" for k, v in list(counts.items())[:6])
            t.add_row(role, top, _n(langs["short"].get(role, 0)), _n(langs["uncertain"].get(role, 0)))
        console.print(t)
    if report.get("languages_skipped"):
        console.print(Text.assemble(("Languages skipped:", "yellow"), f" {report['languages_skipped']}"), highlight=False)
    preview = report.get("preview") or {}
    if "error" in preview:
        console.print(Text.assemble(("Curation preview failed:", "yellow"), f" {preview['error']}"), highlight=False)
    elif preview.get("steps"):
        t = Table(
            "step",
            "flagged",
            "modified",
            "top reasons",
            title=f"Curation preview (default recipe, flag mode; {preview['note']})",
            title_justify="left",
            width=width,
        )
        for s in preview["steps"]:
            reasons = ", ".join(f"{k.split(':', 1)[1]} {_n(v)}" for k, v in list(s["reasons"].items())[:3])
            t.add_row(s["step"], _n(s["flagged"] + s["dropped"]), _n(s["modified"]), reasons)
        console.print(t)
