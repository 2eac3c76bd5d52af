"""Data in and out, and looking at it: ``generate``, ``convert``, ``formats``, ``steps``, ``audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config.recipe import DataConfig
from ..config.train import COMMAND_SEQ_LEN
from .options import default_of
from .render import exit_on_error, out, print_converted, print_formats, print_generated, print_steps, progress_bar, spinner


def generate(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the dataset (.jsonl, .json, .csv, .parquet; .gz/.zst).")] = Path(
        "noisy.jsonl"
    ),
    n: Annotated[int, typer.Option("--n", help="Number of records (malformed lines included).")] = 2000,
    defect_rate: Annotated[float, typer.Option(help="Fraction of records with a planted defect.")] = 0.2,
    fmt: Annotated[str, typer.Option("--format", help="alpaca, sharegpt or messages.")] = "alpaca",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same file.")] = 0,
):
    """Generate a noisy dataset with planted defects and a ground-truth file beside it."""
    from ..generate import generate_noisy

    with exit_on_error(), spinner(f"generating {n:,} records"):
        summary = generate_noisy(out_path, n=n, defect_rate=defect_rate, fmt=fmt, seed=seed)
    print_generated(summary, out_path)


def convert(
    data: Annotated[list[str], typer.Argument(help="Input file(s), glob or folder.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Output file; its name sets the file type (.jsonl, .json, .csv, .parquet, .gz/.zst).")
    ],
    to: Annotated[str, typer.Option("--to", help="Output format: messages, original, curatune, alpaca, sharegpt, ...")] = "messages",
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = default_of(DataConfig, "format"),
    file_type: Annotated[str, typer.Option(help="Output file type when the name does not tell (hf for a datasets folder).")] = "",
):
    """Convert a dataset between formats and file types. Rows that cannot be read are listed, not written."""
    from ..curation.read.records import RecordReader, Reject
    from ..curation.write.writers import RecordWriter

    with exit_on_error():
        reader = RecordReader(data, fmt)
        rejects = []
        with progress_bar("converting") as advance, RecordWriter(out_path, to, file_type or None) as w:
            for item in reader:
                if isinstance(item, Reject):
                    rejects.append(item)
                else:
                    w.write(item)
                advance()
    print_converted(w.count, out_path, rejects)


def formats():
    """List the dataset formats curatune reads and writes, and the fields that identify each."""
    from ..curation.formats import FORMATS

    print_formats(FORMATS.values())


def steps(default: Annotated[bool, typer.Option("--default", help="Show the default recipe's steps only.")] = False):
    """List every registered curation step with its parameters and reason codes."""
    from ..config.recipe import default_steps
    from ..curation.registry import all_steps, get_step_class

    names = [sc.step for sc in default_steps()] if default else list(all_steps())
    print_steps({name: get_step_class(name) for name in names})


def audit(
    data: Annotated[list[str], typer.Argument(help="Input file(s), glob or folder.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for audit.json and audit.html.")] = Path("audit"),
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = default_of(DataConfig, "format"),
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer: a local folder, a GGUF file, or a hub id (default: packaged SmolLM2).")
    ] = None,
    max_seq_len: Annotated[
        int, typer.Option(help="Sequence length training will use; longer records would be truncated.")
    ] = COMMAND_SEQ_LEN,
    no_tokens: Annotated[bool, typer.Option("--no-tokens", help="Skip token counts (faster, no tokenizer needed).")] = False,
    no_languages: Annotated[bool, typer.Option("--no-languages", help="Skip language identification.")] = False,
    preview_records: Annotated[int, typer.Option(help="Records the curation preview runs on (0 = all).")] = 20_000,
):
    """Profile a dataset without changing it: problems, duplicates, lengths, languages; writes audit.json and audit.html."""
    from ..audit import run_audit
    from ..audit.summary import print_summary

    with exit_on_error(), progress_bar("auditing") as advance:
        report = run_audit(
            data,
            out_dir,
            fmt=fmt,
            tokenizer=None if no_tokens else (tokenizer or "default"),
            max_seq_len=max_seq_len,
            progress=advance,
            languages=not no_languages,
            preview_records=preview_records or None,
        )
    print_summary(report, out)
    out.print(f"Wrote {out_dir / 'audit.json'} and {out_dir / 'audit.html'}")
