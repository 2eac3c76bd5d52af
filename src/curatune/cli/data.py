"""Data in and out, and looking at it: ``generate``, ``convert``, ``formats``, ``steps``, ``audit``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ..config.recipe import DataConfig, PairsConfig, pairs_rule
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
    pair_rule: Annotated[
        str, typer.Option(help="Scored completions: the rejected answer is a random lower-scored one, or the worst.")
    ] = default_of(PairsConfig, "rule"),
    min_margin: Annotated[float, typer.Option(help="Scored completions: least score gap between chosen and rejected.")] = default_of(
        PairsConfig, "min_margin"
    ),
    score_field: Annotated[str, typer.Option(help="Scored completions: the score field (auto: overall_score, score, rating).")] = (
        default_of(PairsConfig, "score_field")
    ),
    pair_seed: Annotated[int, typer.Option(help="Scored completions: seed of the random draw.")] = default_of(PairsConfig, "seed"),
):
    """Convert a dataset between formats and file types. Rows that cannot be read are listed, not written.

    A record the output format cannot hold (a chat record written as preference pairs, a pair as KTO rows)
    stops the conversion with the reason and the fix, and no output file is left behind.
    """
    from ..curation.read.records import RecordReader, Reject
    from ..curation.write.writers import RecordWriter

    with exit_on_error():
        rule = pairs_rule({"rule": pair_rule, "min_margin": min_margin, "score_field": score_field, "seed": pair_seed})
        reader = RecordReader(data, fmt, pair_rule=rule)
        rejects = []
        with _removed_on_error(out_path), progress_bar("converting") as advance, RecordWriter(out_path, to, file_type or None) as w:
            for item in reader:
                if isinstance(item, Reject):
                    rejects.append(item)
                else:
                    w.write(item)
                advance()
    print_converted(w.count, out_path, rejects)


@contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    """A conversion that stops half-way leaves no half-written file that looks like a result."""
    existed = path.exists()
    try:
        yield
    except BaseException:
        if not existed and path.is_file():
            path.unlink()
        elif not existed and path.is_dir():
            shutil.rmtree(path)
        raise


def formats():
    """List the dataset formats curatune reads and writes, and the fields that identify each."""
    from ..curation.formats import FORMATS

    print_formats(FORMATS.values())


def steps(
    default: Annotated[bool, typer.Option("--default", help="Show the default recipe's steps only.")] = False,
    preference: Annotated[bool, typer.Option("--preference", help="Show the default recipe for preference data.")] = False,
):
    """List every registered curation step with its parameters and reason codes."""
    from ..config.recipe import default_steps
    from ..curation.registry import all_steps, get_step_class

    names = [sc.step for sc in default_steps(preference)] if default or preference else list(all_steps())
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
