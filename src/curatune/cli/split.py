"""``split``: leakage-free train/val/test splits, or ``--check`` of existing ones.

Every option default is :class:`~curatune.config.split.SplitCommand`'s (the recipe's ``split:`` section
and the command's own options); the work is :mod:`curatune.split.command`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config.split import SplitCommand
from ..errors import EXIT_LEAKAGE
from .options import default_of
from .render import echo, exit_on_error, out, progress_bar


def split(
    data: Annotated[
        list[str],
        typer.Argument(help="The data: file(s), glob, folder or a curate run folder. With --check: one file per split, or their folder."),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for splits/, split_report.json and clusters.jsonl (with --check: leakage.json).")
    ] = None,
    val: Annotated[float, typer.Option(help="Fraction of records for the validation split (0: none).")] = default_of(SplitCommand, "val"),
    test: Annotated[float, typer.Option(help="Fraction of records for the test split (0: none).")] = default_of(SplitCommand, "test"),
    stratify: Annotated[
        str | None, typer.Option(help="Keep the shares of this field equal across splits: label, kind, or a meta/input field.")
    ] = default_of(SplitCommand, "stratify"),
    seed: Annotated[int, typer.Option(help="Random seed: the same data and seed give the same splits.")] = default_of(SplitCommand, "seed"),
    near_dup_threshold: Annotated[
        float, typer.Option(help="Word 3-gram Jaccard at which two records count as near duplicates.")
    ] = default_of(SplitCommand, "near_dup_threshold"),
    semantic_threshold: Annotated[
        float | None, typer.Option(help="Also keep together records whose embeddings' cosine reaches this (e.g. 0.9); off by default.")
    ] = default_of(SplitCommand, "semantic_threshold"),
    embed_model: Annotated[
        str, typer.Option(help="Embedding model for --semantic-threshold: default (packaged MiniLM) or a sentence-transformers folder.")
    ] = default_of(SplitCommand, "embed_model"),
    fields: Annotated[str, typer.Option(help="Text compared: record (all text, without the label), prompt or response.")] = default_of(
        SplitCommand, "fields"
    ),
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = default_of(SplitCommand, "format"),
    to: Annotated[
        str, typer.Option("--to", help="Format of the split files: messages (chat JSONL), curatune (lossless), original, ...")
    ] = default_of(SplitCommand, "to"),
    check: Annotated[
        bool, typer.Option("--check", help="Check existing splits for leakage instead of making new ones; exit 5 if any is found.")
    ] = False,
):
    """Split data into train/val/test with no duplicate cluster across splits, or --check existing splits for leakage."""
    from ..split import summary
    from ..split.command import check_split, make_split

    cfg = SplitCommand.model_construct(
        val=val,
        test=test,
        stratify=stratify,
        seed=seed,
        near_dup_threshold=near_dup_threshold,
        semantic_threshold=semantic_threshold,
        embed_model=embed_model,
        fields=fields,  # type: ignore[arg-type]  # model_construct checks nothing: split.command does, in the command's terms
        format=fmt,
        to=to,
    )
    with exit_on_error():
        if check:
            checked = check_split(data, out_dir, cfg, progress_bar, out.print)
            summary.print_leakage(checked.report, out)
            written = str(checked.leakage_path) if checked.leakage_path is not None else ""
        else:
            made = make_split(data, out_dir, cfg, progress_bar, echo)
            summary.print_split(made.report, out)
            written = f"{', '.join(str(p) for p in made.files.values())} and {made.report_path}"
    if written:
        out.print(f"Wrote {written}")
    if check and checked.report.total:
        raise typer.Exit(EXIT_LEAKAGE)  # for a CI job to gate on; the pairs are listed above and in leakage.json
