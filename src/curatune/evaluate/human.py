"""Blind side-by-side human evaluation of two systems: a sheet for raters, a key kept apart, the verdicts scored.

:func:`export_sheet` writes, for two systems' answers to the same prompts:

- ``sheet.csv``: item, prompt, answer_1, answer_2, judgment; raters fill the judgment with 1, 2 or tie;
- ``sheet.html``: the same items side by side, with the instructions, for reading (one file, no scripts, no network);
- ``key.json``: which system wrote answer_1 and answer_2 of each item. Raters must not see it.

Which system is answer_1 is drawn per item with the seed, half of the items each way, so that
a rater's leaning towards one side falls on both systems equally instead of on whichever the
dice favoured. :func:`import_judgments` reads a filled sheet back with its key.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import numpy as np
import orjson

from curatune.errors import InputError

from .metrics import wilson_interval

SHEET_COLUMNS = ("item", "prompt", "answer_1", "answer_2", "judgment")
JUDGMENTS = ("1", "2", "tie")
KEY_FORMAT = "curatune.side_by_side.key/1"
TIE = "tie"
_ALLOWED = "write 1 (answer 1 is better), 2 (answer 2 is better) or tie"
_MAX_LISTED = 20  # problems listed in one error; a sheet with a shifted column would otherwise list every row

DEFAULT_INSTRUCTIONS = """\
Each item shows a prompt and two answers to it, written by two different systems. Which system wrote \
which answer is hidden, and the order changes from item to item: an answer's position says nothing about \
where it came from.

Read the prompt, then both answers in full. Decide which answer serves the person who wrote the prompt \
better: correct first, then complete, then clear. Length is not a merit in itself.

Choose tie only when neither answer is better than the other. When both are bad, choose the less bad one."""


# --- export -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedSheet:
    sheet_csv: Path
    sheet_html: Path
    key_json: Path
    n_items: int


class _Item(NamedTuple):
    id: str
    prompt: str
    answers: Mapping[str, str]


def export_sheet(
    items: Sequence[Mapping[str, Any]],
    systems: Sequence[str],
    out_dir: str | Path,
    seed: int,
    *,
    instructions: str = DEFAULT_INSTRUCTIONS,
    key_path: str | Path | None = None,
) -> ExportedSheet:
    """Write ``sheet.csv``, ``sheet.html`` and ``key.json`` (or ``key_path``) for comparing two systems.

    ``items``: dicts ``{"id": ..., "prompt": str, "answers": {system name: answer text}}``; every item
    needs an answer from both ``systems``, other answers are ignored. Ids are written as text and
    must be unique. Give raters the sheet files only; ``key.json`` is what unblinds them.
    Refuses to overwrite a ``sheet.csv`` that already holds judgments.
    """
    pair = _checked_systems(systems)
    checked = _checked_items(items, pair)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    exported = ExportedSheet(out / "sheet.csv", out / "sheet.html", Path(key_path) if key_path else out / "key.json", len(checked))
    _refuse_to_overwrite_judgments(exported.sheet_csv)
    rows, key = [], {}
    for item, swapped in zip(checked, _balanced_swaps(len(checked), seed)):
        first, second = (pair[1], pair[0]) if swapped else pair
        rows.append(
            {"item": item.id, "prompt": item.prompt, "answer_1": item.answers[first], "answer_2": item.answers[second], "judgment": ""}
        )
        key[item.id] = {"answer_1": first, "answer_2": second}
    _write_csv(rows, exported.sheet_csv)
    exported.sheet_html.write_text(_render_html(rows, instructions), encoding="utf-8")
    key_doc = {"format": KEY_FORMAT, "systems": list(pair), "seed": seed, "sheet": exported.sheet_csv.name, "items": key}
    exported.key_json.parent.mkdir(parents=True, exist_ok=True)
    exported.key_json.write_bytes(orjson.dumps(key_doc, option=orjson.OPT_INDENT_2) + b"\n")
    return exported


def _checked_systems(systems: Sequence[str]) -> tuple[str, str]:
    pair = tuple(systems)
    if len(pair) != 2 or not all(isinstance(s, str) and s for s in pair) or pair[0] == pair[1]:
        raise InputError(f"systems must be two different system names, as in the items' answers: ('base', 'tuned'); got {systems!r}.")
    return pair


def _checked_items(items: Sequence[Mapping[str, Any]], systems: tuple[str, str]) -> list[_Item]:
    if not items:
        raise InputError("No items to export: give a list of {'id', 'prompt', 'answers': {system: text}} dicts.")
    checked: list[_Item] = []
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        missing = [f for f in ("id", "prompt", "answers") if not isinstance(item, Mapping) or f not in item]
        if missing:
            raise InputError(
                f"items[{i}] has no {', '.join(repr(f) for f in missing)}: every item needs id, prompt and answers ({{system name: text}})."
            )
        item_id = str(item["id"]).strip()
        if not item_id:
            raise InputError(f"items[{i}] has an empty id: give every item an id, which is how the key finds it.")
        if item_id in first_seen:
            raise InputError(
                f"items[{i}] repeats the id '{item_id}' of items[{first_seen[item_id]}]: ids must be unique, the key finds items by them."
            )
        first_seen[item_id] = i
        answers = item["answers"]
        for system in systems:
            if not isinstance(answers, Mapping) or system not in answers:
                have = ", ".join(map(repr, answers)) if isinstance(answers, Mapping) else repr(answers)
                raise InputError(
                    f"items[{i}] (id '{item_id}') has no answer from '{system}'; its answers are from: {have}. "
                    "Give every item an answer from both systems."
                )
            if not isinstance(answers[system], str):
                raise InputError(
                    f"items[{i}] (id '{item_id}'): the answer from '{system}' is a {type(answers[system]).__name__}, not text."
                )
        if not isinstance(item["prompt"], str):
            raise InputError(f"items[{i}] (id '{item_id}'): the prompt is a {type(item['prompt']).__name__}, not text.")
        checked.append(_Item(item_id, item["prompt"], answers))
    return checked


def _balanced_swaps(n: int, seed: int) -> list[bool]:
    """For each item, whether the second system goes first: exactly half swapped (the odd item by a coin), in seeded order."""
    rng = np.random.default_rng(seed)
    swaps = np.arange(n) < n // 2
    if n % 2:
        swaps[-1] = rng.random() < 0.5
    return [bool(s) for s in rng.permutation(swaps)]


def _refuse_to_overwrite_judgments(sheet: Path) -> None:
    if not sheet.is_file():
        return
    try:
        filled = sum(1 for row in _read_sheet(sheet) if row.judgment)
    except InputError:  # not a sheet with a judgment column: nothing a rater wrote is lost
        return
    if filled:
        raise InputError(
            f"'{sheet}' already holds {filled} judgments; exporting again would erase them. Export to another folder, "
            "or move the filled sheet away first."
        )


def _write_csv(rows: list[dict[str, str]], path: Path) -> None:
    # Plain UTF-8 with CRLF line ends (RFC 4180); import_judgments also reads the BOM and ';' that Excel may add.
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows({k: neutralise(v) for k, v in row.items()} for row in rows)


# A cell starting with one of these is run as a formula by a spreadsheet (=HYPERLINK(...), +cmd|...). A model's
# answer or a prompt from the data can start so; the rater opening the sheet must not run it. The full-width
# forms are read as formulas by some spreadsheets too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(cell: str) -> str:
    """A cell no spreadsheet runs as a formula: a ``'`` before text that starts like one (OWASP's advice on CSV injection).

    Text that already starts with ``'`` before such a character gets one more, so that :func:`restore` gives back exactly
    what was written.
    """
    return "'" + cell if cell.lstrip("'").startswith(_FORMULA_START) else cell


def restore(cell: str) -> str:
    """The text :func:`neutralise` was given (a cell that a spreadsheet saved without the ``'`` is already that text)."""
    return cell[1:] if cell.startswith("'") and cell.lstrip("'").startswith(_FORMULA_START) else cell


def _render_html(rows: list[dict[str, str]], instructions: str) -> str:
    template = resources.files("curatune.evaluate").joinpath("sheet.html.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    paragraphs = [" ".join(p.split()) for p in instructions.split("\n\n") if p.strip()]
    return env.from_string(template).render(rows=rows, instructions=paragraphs)


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemResult:
    """One system's record against the other; rates are fractions, intervals Wilson score intervals."""

    wins: int
    ties: int
    losses: int
    win_rate: float  # (wins + ties / 2) / judged
    win_rate_ci: tuple[float, float]
    decisive_win_rate: float | None  # wins / (wins + losses), ties left out; None when every judgment is a tie
    decisive_win_rate_ci: tuple[float, float]


@dataclass(frozen=True)
class SideBySideResult:
    systems: tuple[str, str]
    judged: int
    ties: int
    tie_rate: float
    unjudged: int  # items left without a judgment (only with allow_unjudged=True)
    confidence: float
    per_system: dict[str, SystemResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "systems": list(self.systems),
            "judged": self.judged,
            "ties": self.ties,
            "tie_rate": self.tie_rate,
            "unjudged": self.unjudged,
            "confidence": self.confidence,
            "per_system": {
                name: {k: list(v) if isinstance(v, tuple) else v for k, v in vars(r).items()} for name, r in self.per_system.items()
            },
        }


class _SheetRow(NamedTuple):
    line: int  # first physical line of the row in the file (an answer may span several)
    row: int  # the row number a spreadsheet shows
    item: str
    judgment: str

    def where(self) -> str:
        at = f"line {self.line}" if self.line == self.row else f"line {self.line} (spreadsheet row {self.row})"
        return f"{at}, item '{self.item}'" if self.item else at


def import_judgments(
    sheet_csv: str | Path, key_json: str | Path, *, allow_unjudged: bool = False, confidence: float = 0.95
) -> SideBySideResult:
    """Unblind a filled ``sheet.csv`` with its ``key.json``: wins, ties and losses per system, and win rates.

    A tie counts as half a win in ``win_rate``; ``decisive_win_rate`` leaves ties out. Every problem in
    the sheet (unknown judgment, item not in the key, repeated item) is reported at once, by line.
    Items without a judgment are an error unless ``allow_unjudged``, which scores the judged ones only.
    """
    sheet_path, key_path = Path(sheet_csv), Path(key_json)
    systems, key = _read_key(key_path)
    rows = _read_sheet(sheet_path)
    winners, unjudged, problems = _winners(rows, key, key_path)
    in_sheet = {r.item for r in rows}
    missing = [item for item in key if item not in in_sheet]
    if missing and not allow_unjudged:
        problems.append(
            f"the key has {len(missing)} items with no row in the sheet ({_listed(missing)}): restore their rows from the exported sheet."
        )
    if unjudged and not allow_unjudged and (winners or problems):
        lines = _listed([str(r.line) for r in unjudged])
        problems.append(
            f"{len(unjudged)} rows have no judgment yet (lines {lines}): {_ALLOWED}, "
            "or pass allow_unjudged=True to score the judged items only."
        )
    if problems:
        shown = problems[:_MAX_LISTED] + ([f"... and {len(problems) - _MAX_LISTED} more"] if len(problems) > _MAX_LISTED else [])
        raise InputError(f"'{sheet_path}' cannot be scored ({len(problems)} problems):\n" + "\n".join(f"  - {p}" for p in shown))
    if not winners:
        raise InputError(f"'{sheet_path}' has no judgments yet: in its judgment column, {_ALLOWED} for each of its {len(rows)} items.")
    return _tally(winners, systems, len(unjudged) + len(missing), confidence)


def _read_key(path: Path) -> tuple[tuple[str, str], dict[str, dict[str, str]]]:
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"Cannot find the key '{path}': give the key.json that export_sheet wrote with this sheet.") from None
    except orjson.JSONDecodeError as e:
        raise InputError(f"'{path}' is not valid JSON ({e}): give the key.json written by export_sheet, unedited.") from None
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise InputError(
            f"'{path}' is not a side-by-side key: its 'format' field should be '{KEY_FORMAT}'. Give the key.json written by export_sheet."
        )
    systems, items = doc.get("systems"), doc.get("items")
    if not (isinstance(systems, list) and len(systems) == 2 and isinstance(items, dict)):
        raise InputError(
            f"'{path}': the 'systems' field must list two names and 'items' map item ids to answers; the file was edited. "
            "Export the sheet again."
        )
    for item, sides in items.items():
        if not (isinstance(sides, dict) and sorted([sides.get("answer_1"), sides.get("answer_2")], key=str) == sorted(systems, key=str)):
            raise InputError(
                f"'{path}', field items.{item}: must map answer_1 and answer_2 to the systems {systems}; got {sides!r}. "
                "Export the sheet again."
            )
    return (systems[0], systems[1]), items


def _read_sheet(path: Path) -> list[_SheetRow]:
    try:
        # utf-8-sig: a spreadsheet that saves the sheet again may add a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as f:
            return _sheet_rows(f, path)
    except FileNotFoundError:
        raise InputError(
            f"Cannot find the sheet '{path}': give the sheet.csv that export_sheet wrote, with the judgments filled in."
        ) from None
    except UnicodeDecodeError as e:
        raise InputError(f"'{path}' is not UTF-8 text ({e.reason} at byte {e.start}): save the sheet as 'CSV UTF-8'.") from None


def _sheet_rows(f: Iterable[str], path: Path) -> list[_SheetRow]:
    lines = iter(f)
    first = next(lines, "")
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Excel in some locales saves with ';'
    reader = csv.reader(_chain(first, lines), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("item", "judgment") if c not in header]
    if missing:
        raise InputError(
            f"'{path}' line 1: no column {' or '.join(map(repr, missing))}. The header must be {','.join(SHEET_COLUMNS)}, "
            "as export_sheet wrote it."
        )
    item_at, judgment_at = header.index("item"), header.index("judgment")
    rows, next_line = [], reader.line_num + 1
    for row_number, cells in enumerate(reader, start=2):
        line, next_line = next_line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # blank rows that a spreadsheet adds at the end
        rows.append(_SheetRow(line, row_number, restore(_cell(cells, item_at)), restore(_cell(cells, judgment_at))))
    return rows


def _cell(cells: list[str], at: int) -> str:
    """A stripped cell; a row a spreadsheet saved short (trailing empty cells dropped) reads as empty."""
    return cells[at].strip() if at < len(cells) else ""


def _chain(first: str, rest: Iterable[str]) -> Iterable[str]:
    yield first
    yield from rest


def _winners(rows: list[_SheetRow], key: dict[str, dict[str, str]], key_path: Path) -> tuple[list[str], list[_SheetRow], list[str]]:
    """Per judged row the winning system or 'tie'; the rows without a judgment; every problem found."""
    winners, unjudged, problems = [], [], []
    first_line: dict[str, int] = {}
    for r in rows:
        if not r.item:
            problems.append(f"{r.where()}: the item column is empty; it must keep the item id that export_sheet wrote.")
            continue
        if r.item not in key:
            problems.append(f"{r.where()}: item '{r.item}' is not in the key '{key_path}'; score a sheet with the key exported with it.")
            continue
        if r.item in first_line:
            problems.append(f"{r.where()}: item '{r.item}' again (first on line {first_line[r.item]}); keep one row per item.")
            continue
        first_line[r.item] = r.line
        judgment = r.judgment.lower()
        if not judgment:
            unjudged.append(r)
        elif judgment not in JUDGMENTS:
            problems.append(f"{r.where()}, column 'judgment': '{r.judgment}' is not a judgment; {_ALLOWED}.")
        else:
            winners.append(TIE if judgment == TIE else key[r.item][f"answer_{judgment}"])
    return winners, unjudged, problems


def _listed(values: list[str], limit: int = 10) -> str:
    return ", ".join(values[:limit]) + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")


def _tally(winners: list[str], systems: tuple[str, str], unjudged: int, confidence: float) -> SideBySideResult:
    judged, ties = len(winners), winners.count(TIE)
    per_system = {}
    for name, other in (systems, systems[::-1]):
        wins, losses = winners.count(name), winners.count(other)
        decisive = wins + losses
        per_system[name] = SystemResult(
            wins=wins,
            ties=ties,
            losses=losses,
            win_rate=(wins + ties / 2) / judged,
            win_rate_ci=wilson_interval(wins + ties / 2, judged, confidence),
            decisive_win_rate=wins / decisive if decisive else None,
            decisive_win_rate_ci=wilson_interval(wins, decisive, confidence),
        )
    return SideBySideResult(systems, judged, ties, ties / judged, unjudged, confidence, per_system)
