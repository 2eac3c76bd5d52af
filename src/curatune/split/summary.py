"""Terminal tables for ``curatune split`` and ``curatune split --check``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .leakage import KINDS, LeakageReport

MAX_STRATA_COLUMNS = 8
EXAMPLE_PAIRS = 10


def print_split(report: dict[str, Any], console: Console) -> None:
    c = report["clusters"]
    console.print(
        Text.from_markup(
            f"[bold]{report['records']:,}[/] records split (seed {report['seed']}); "
            f"{c['records_in_them']:,} of them in {c['with_duplicates']:,} duplicate clusters kept whole (largest {c['largest']})"
        ),
        highlight=False,
    )
    dist = report["distribution"]
    strata = sorted({v for split in dist.get("splits", {}).values() for v in split})
    shown = strata[:MAX_STRATA_COLUMNS]
    table = Table("split", "records", "share", "target", *(f"{dist['key']}={v}" for v in shown))
    total = max(report["records"], 1)
    for name, n in report["sizes"].items():
        cells = [dist["splits"][name].get(v) for v in shown] if dist else []
        table.add_row(
            name,
            f"{n:,}",
            f"{n / total:.1%}",
            f"{report['targets'][name]:,}",
            *(f"{x['count']:,} ({x['share']:.0%})" if x else "0" for x in cells),
        )
    console.print(table)
    if len(strata) > len(shown):
        console.print(f"  ({len(strata) - len(shown)} more {dist['key']} values in split_report.json)")
    if c["mixed_strata"]:
        console.print(f"  {c['mixed_strata']} clusters mix {dist['key']} values; each went with its majority value.", highlight=False)
    console.print(f"Leakage between the splits: {report['leakage']['pairs']} duplicate pairs.", highlight=False)


def print_leakage(report: LeakageReport, console: Console) -> None:
    sizes = ", ".join(f"{n} {k:,}" for n, k in report.sizes.items())
    colour = "red" if report.total else "green"
    console.print(Text.assemble((f"{report.total:,}", f"bold {colour}"), f" cross-split duplicate pairs ({sizes})"), highlight=False)
    kinds = [k for k in KINDS if k != "semantic" or report.settings.get("semantic_threshold") is not None]
    table = Table("splits", *kinds, "total")
    for (a, b), counts in report.counts.items():
        table.add_row(f"{a} ~ {b}", *(f"{counts[k]:,}" for k in kinds), f"{sum(counts.values()):,}")
    console.print(table)
    if report.pairs:
        pairs = Table(
            "kind",
            "similarity",
            "record",
            "duplicate in other split",
            title=f"First {min(EXAMPLE_PAIRS, len(report.pairs))} pairs",
            title_justify="left",
        )
        for p in report.pairs[:EXAMPLE_PAIRS]:
            pairs.add_row(p["kind"], f"{p['similarity']:.3f}", f"{p['split_a']}:{p['id_a']}", f"{p['split_b']}:{p['id_b']}")
        console.print(pairs)
