"""A seeded noisy dataset with planted defects, and the ground truth to score curation against.

``make_noisy_rows`` builds everything in memory; ``generate_noisy`` writes the
dataset and ``<name>.truth.jsonl`` beside it (one entry per line, in order:
``line, id, defect, duplicate_of, detail``). Same arguments, same bytes.

Clean records are software/IT help composed from ``vocab.yaml``; defects are
spread in roughly equal shares over ``defect_rate`` of the lines, at positions
shuffled with the seed. Malformed lines only exist in JSONL (other file types
cannot hold a broken row), and their ``detail`` is the exact reason code that
``curatune.curation.read`` reports for them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..curation.read.files import open_binary_write, split_suffixes
from ..curation.write.writers import RecordWriter
from ..errors import RecipeError
from . import defects as D
from .compose import Composer, item_text

DEFECTS = (
    "exact_duplicate",
    "near_duplicate",
    "empty_answer",
    "placeholder_answer",
    "truncated_answer",
    "refusal",
    "mojibake",
    "ocr_noise",
    "off_topic",
    "pii",
    "toxic",
    "malformed",
)
FORMATS = ("alpaca", "sharegpt", "messages")
MALFORMED_REASONS = {
    "alpaca": ("bad_json", "invalid_utf8", "not_an_object", "missing_field", "wrong_type"),
    "sharegpt": ("bad_json", "invalid_utf8", "not_an_object", "missing_field", "wrong_type", "empty_messages", "unknown_role"),
    "messages": ("bad_json", "invalid_utf8", "not_an_object", "missing_field", "wrong_type", "empty_messages", "unknown_role"),
}
_UNKNOWN_ROLES = ("bot", "narrator", "agent", "customer", "robot", "moderator")


@dataclass
class GenerateSummary:
    path: Path
    truth_path: Path
    n_lines: int
    counts: dict[str, int]  # lines per defect, "clean" included
    notes: list[str] = field(default_factory=list)  # e.g. why malformed lines were left out


def truth_path_for(out: str | Path) -> Path:
    """``demo/noisy.jsonl.zst`` -> ``demo/noisy.truth.jsonl``."""
    p = Path(out)
    return p.with_name(p.name.split(".")[0] + ".truth.jsonl")


def line_id(line: int) -> str:
    return f"gen-{line:06d}"


def _row(item: dict[str, str], rid: str, fmt: str) -> dict[str, Any]:
    if fmt == "alpaca":
        return {"id": rid, "instruction": item["instruction"], "input": item.get("input") or "", "output": item["output"]}
    user = item["instruction"] if not item.get("input") else f"{item['instruction']}\n\n{item['input']}"
    if fmt == "sharegpt":
        return {"id": rid, "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": item["output"]}]}
    return {"id": rid, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": item["output"]}]}


def _malformed(rng: random.Random, item: dict, rid: str, fmt: str, reason: str) -> tuple[bytes, str | None]:
    """One raw JSONL line that the reader rejects with ``reason``; and the id it carries, if any."""
    row = _row(item, rid, fmt)
    chat_key, role_key, content_key = ("conversations", "from", "value") if fmt == "sharegpt" else ("messages", "role", "content")
    if reason == "bad_json":
        style = rng.randrange(3)
        if style == 0:  # cut off mid-line, at a character boundary so the bytes stay UTF-8
            text = orjson.dumps(row).decode()
            return text[: rng.randint(len(text) // 3, len(text) * 4 // 5)].encode(), rid
        if style == 1:  # a Python dict printed instead of JSON
            return repr(row).encode(), rid
        return orjson.dumps(row)[:-1] + b",}", rid  # trailing comma
    if reason == "invalid_utf8":
        # The line saved as Windows-1252: curly quotes and accents become bytes that are not UTF-8.
        row = _row({**item, "output": D.ensure_non_ascii(item["output"])}, rid, fmt)
        return orjson.dumps(row).decode().encode("cp1252", errors="replace"), rid
    if reason == "not_an_object":
        if rng.random() < 0.5:
            return orjson.dumps([item["instruction"], item["output"]]), None
        return orjson.dumps(f"{item['instruction']} {item['output']}"), None
    if fmt == "alpaca":
        if reason == "missing_field":
            key = rng.choice(["output", "instruction"])
            if rng.random() < 0.5:
                del row[key]
            else:
                row[key] = None
        elif reason == "wrong_type":
            key = rng.choice(["output", "instruction"])
            row[key] = rng.choice([[row[key]], len(row[key]), {"text": row[key]}])
        return orjson.dumps(row), rid
    turns = row[chat_key]
    if reason == "missing_field":
        style = rng.randrange(3)
        if style == 0:
            del row[chat_key]
        else:
            del turns[rng.randrange(len(turns))][content_key if style == 1 else role_key]
    elif reason == "wrong_type":
        style = rng.randrange(3)
        if style == 0:
            row[chat_key] = turns[0][content_key]
        elif style == 1:
            turns[1][content_key] = [turns[1][content_key]]
        else:
            turns[0] = turns[0][content_key]
    elif reason == "empty_messages":
        row[chat_key] = []
    elif reason == "unknown_role":
        turns[rng.randrange(len(turns))][role_key] = rng.choice(_UNKNOWN_ROLES)
    return orjson.dumps(row), rid


def _assign(rng: random.Random, n: int, defect_rate: float, types: tuple[str, ...]) -> list[str]:
    """The defect of every line ("clean" or a type), equal shares, positions shuffled."""
    k = round(n * defect_rate)
    order = list(types)
    rng.shuffle(order)  # which types get the extra one when k is not a multiple
    planted = [order[i % len(order)] for i in range(k)]
    rng.shuffle(planted)
    labels = ["clean"] * n
    for pos, t in zip(sorted(rng.sample(range(n), k)), planted):
        labels[pos] = t
    # A duplicate needs an earlier clean line: swap it with a later non-duplicate defect.
    dups = ("exact_duplicate", "near_duplicate")
    seen_clean = False
    others = [t for t in types if t not in dups]
    for i, t in enumerate(labels):
        if t == "clean":
            seen_clean = True
        elif t in dups and not seen_clean:
            j = next((j for j in range(i + 1, n) if labels[j] not in dups and labels[j] != "clean"), None)
            if j is not None:
                labels[i], labels[j] = labels[j], labels[i]
            else:
                labels[i] = others[i % len(others)] if others else "clean"
    return labels


def make_noisy_rows(
    n: int = 2000, defect_rate: float = 0.2, seed: int = 0, fmt: str = "alpaca", malformed: bool = True
) -> tuple[list[bytes | dict], list[dict]]:
    """Lines (a row dict, or raw bytes for a malformed JSONL line) and one truth entry per line."""
    if fmt not in FORMATS:
        raise RecipeError([f"The 'fmt' parameter of generate must be one of {', '.join(FORMATS)}. Got {fmt!r} instead."])
    if not 0 <= defect_rate <= 1:
        raise RecipeError([f"The 'defect_rate' parameter of generate must be in [0, 1]. Got {defect_rate} instead."])
    if n < 0:
        raise RecipeError([f"The 'n' parameter of generate must be >= 0. Got {n} instead."])
    rng = random.Random(seed)
    composer = Composer()
    types = DEFECTS if malformed else tuple(t for t in DEFECTS if t != "malformed")
    labels = _assign(rng, n, defect_rate, types)
    reasons = list(MALFORMED_REASONS[fmt])
    rng.shuffle(reasons)
    n_malformed = 0

    lines: list[bytes | dict] = []
    truth: list[dict] = []
    clean_items: list[tuple[str, dict]] = []  # (id, item) of clean lines so far, for duplicates
    long_clean: list[int] = []  # indices into clean_items with enough words for a near duplicate
    for lineno, label in enumerate(labels, start=1):
        rid = line_id(lineno)
        detail: str | None = None
        duplicate_of: str | None = None
        if label == "exact_duplicate":
            duplicate_of, item = clean_items[rng.randrange(len(clean_items))]
        elif label == "near_duplicate":
            pool = long_clean or list(range(len(clean_items)))
            for _ in range(20):
                duplicate_of, original = clean_items[rng.choice(pool)]
                made = D.near_duplicate(rng, original)
                if made is not None:
                    item, j, edits = made
                    detail = f"jaccard5={j:.3f}; " + ", ".join(edits)
                    break
            else:  # every candidate too short: fall back to cosmetic edits only
                item = {**original, "output": original["output"] + " Hope this helps."}
                detail = "appended a sentence"
        elif label == "off_topic":
            item, detail = composer.off_topic(rng)
        else:
            item, slots = composer.clean(rng)
            if label == "clean":
                clean_items.append((rid, item))
                if len(item_text(item).split()) >= 45:
                    long_clean.append(len(clean_items) - 1)
            elif label == "refusal":
                item, detail = D.refusal(rng, item, slots)
            elif label == "pii":
                item, detail, _ = D.pii(rng, item)
            elif label == "malformed":
                reason = reasons[n_malformed % len(reasons)]
                n_malformed += 1
                raw, carried = _malformed(rng, item, rid, fmt, reason)
                lines.append(raw)
                truth.append({"line": lineno, "id": carried, "defect": "malformed", "duplicate_of": None, "detail": reason})
                continue
            elif label != "clean":
                item, detail = getattr(D, label)(rng, item)
        lines.append(_row(item, rid, fmt))
        truth.append({"line": lineno, "id": rid, "defect": label, "duplicate_of": duplicate_of, "detail": detail})
    return lines, truth


def generate_noisy(out: str | Path, n: int = 2000, defect_rate: float = 0.2, fmt: str = "alpaca", seed: int = 0) -> GenerateSummary:
    """Write ``n`` lines to ``out`` (type from its name) and the ground truth beside it."""
    path = Path(out)
    file_type, _ = split_suffixes(path)
    if file_type not in ("jsonl", "json", "csv", "parquet"):
        raise RecipeError(
            [f"Cannot tell what to write to '{path}' from its name: use .jsonl, .json, .csv or .parquet (optionally .gz or .zst)."]
        )
    jsonl = file_type == "jsonl"
    lines, truth = make_noisy_rows(n, defect_rate, seed, fmt, malformed=jsonl)
    notes = [] if jsonl else [f"no malformed lines: a .{file_type} file cannot hold a broken row (write .jsonl to get them)"]
    if jsonl:
        dumps = orjson.dumps
        with open_binary_write(path) as f:
            f.write(b"".join((x if isinstance(x, bytes) else dumps(x)) + b"\n" for x in lines))
    else:
        with RecordWriter(path, fmt, file_type) as w:
            for row in lines:
                assert isinstance(row, dict)
                w.write_row(row)
    truth_path = truth_path_for(path)
    with open_binary_write(truth_path) as f:
        f.write(b"".join(orjson.dumps(t) + b"\n" for t in truth))
    counts = {t: 0 for t in ("clean",) + DEFECTS}
    for t in truth:
        counts[t["defect"]] += 1
    return GenerateSummary(path, truth_path, len(truth), counts, notes)
