"""Unicode repair: mojibake, control characters, invisible characters.

Mojibake ("doesnâ€™t" for "doesn't") is text encoded in UTF-8 and decoded
in another code page; ftfy undoes it without guessing at text that is
merely unusual. Its configuration here is explicit and narrow: it never
uncurls quotes, folds ligatures or full-width letters, or touches line breaks
and HTML entities (``clean.whitespace`` and ``clean.html`` own those), so
legitimate French, German, code or emoji text comes out unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import ftfy

from ..record import Record
from ..registry import register
from ..step import Edit, Mapper
from ..text.diff import changed_spans as _changed_spans
from ..text.mojibake import ftfy_may_change
from ..text.paths import text_fields

# What ftfy may do: text.mojibake.ftfy_may_change assumes exactly this configuration.
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=True,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,  # done below, so that the ledger can count them
    normalization=None,  # done below, when asked for
    explain=False,
)

# Invisible characters that carry nothing in training text.
_ALWAYS_INVISIBLE = {"\u200b", "\ufeff", "\u00ad", "\u2060"}  # zero-width space, BOM, soft hyphen, word joiner
_JOINERS = {"\u200c", "\u200d"}  # ZWNJ, ZWJ: meaningful in emoji sequences and in Indic and Arabic scripts
_LINE_CONTROLS = {"\x0b", "\x0c", "\x85"}  # vertical tab, form feed, NEL: used as line breaks, so become one


def _is_emoji_part(ch: str) -> bool:
    cp = ord(ch)
    return cp >= 0x1F000 or 0x2600 <= cp <= 0x27BF or cp in (0xFE0F, 0x20E3) or 0x2190 <= cp <= 0x2BFF


def _is_script_letter(ch: str) -> bool:
    """A letter or mark of a script past Latin, where ZWJ/ZWNJ shape the writing (Persian, Hindi...)."""
    return ord(ch) > 0x24F and unicodedata.category(ch)[0] in "LM"


def _joiner_kept(prev: str, nxt: str) -> bool:
    if _is_emoji_part(prev) and _is_emoji_part(nxt):
        return True
    return bool(prev and nxt) and _is_script_letter(prev) and _is_script_letter(nxt)


# Every character _strip_invisible may touch: C0/C1 controls but \t \n \r, DEL, zero-width and invisible marks.
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2060\ufeff]")


def _strip_invisible(text: str) -> tuple[str, int, int]:
    """``text`` without control and zero-width characters; and how many of each went."""
    if not _SUSPECT.search(text):
        return text, 0, 0
    controls = invisible = 0

    def replace(m: re.Match) -> str:
        nonlocal controls, invisible
        ch, i = m.group(), m.start()
        if ch in _JOINERS:
            prev = text[i - 1] if i > 0 else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if _joiner_kept(prev, nxt):
                return ch
            invisible += 1
            return ""
        if ch in _ALWAYS_INVISIBLE:
            invisible += 1
            return ""
        controls += 1
        return "\n" if ch in _LINE_CONTROLS else ""

    return _SUSPECT.sub(replace, text), controls, invisible


@register("clean.unicode")
class UnicodeRepair(Mapper):
    """Repair mojibake with ftfy; remove control characters and zero-width characters.

    Control characters go except \\n, \\t and \\r; a vertical tab or a form feed becomes \\n.

    Zero-width: ZWSP, BOM, soft hyphen and word joiner always; ZWJ and ZWNJ
    unless they join emoji (👨‍👩‍👧) or letters of scripts that need them.
    ``normalization``: Unicode form applied last ("NFC" composes "e" + accent
    into "é", which helps deduplication; "none" leaves the code points as they are).
    The ledger detail counts what changed in each field.
    """

    reasons = ("mojibake", "control_chars", "zero_width", "unicode_normalized")

    def __init__(self, fix_mojibake: bool = True, normalization: Literal["NFC", "none"] = "NFC"):
        self.fix_mojibake = fix_mojibake
        self.normalization = normalization

    def apply(self, rec: Record) -> Edit | None:
        new: dict[str, str] = {}
        notes: list[str] = []
        totals = dict.fromkeys(self.reasons, 0)
        for path, text in text_fields(rec):
            fixed, counts = self.fix(text)
            if fixed != text:
                new[path] = fixed
                parts = [f"{n} {what}" for what, n in zip(_LABELS, counts) if n]
                notes.append(f"{path}: {', '.join(parts)}")
                for reason, n in zip(self.reasons, counts):
                    totals[reason] += n
        if not new:
            return None
        reason = next(r for r in self.reasons if totals[r])
        return Edit(rec.with_text_fields(new), reason, detail="; ".join(notes))

    def fix(self, text: str) -> tuple[str, tuple[int, int, int, int]]:
        """The repaired text and counts: mojibake sequences, control chars, zero-width chars, normalised spans."""
        mojibake = 0
        if self.fix_mojibake and not text.isascii():
            fixed = ftfy.fix_text(text, _FTFY) if ftfy_may_change(text) else text  # ftfy only where it can act
            if fixed != text:
                mojibake = _changed_spans(text, fixed)
                text = fixed
        elif "\x1b" in text:
            fixed = ftfy.fix_text(text, _FTFY)  # terminal escapes are ASCII
            mojibake, text = _changed_spans(text, fixed), fixed
        text, controls, invisible = _strip_invisible(text)
        normalized = 0
        if self.normalization != "none" and not text.isascii() and not unicodedata.is_normalized(self.normalization, text):
            nfc = unicodedata.normalize(self.normalization, text)
            if nfc != text:
                normalized, text = _changed_spans(text, nfc), nfc
        return text, (mojibake, controls, invisible, normalized)


_LABELS = ("mojibake sequences fixed", "control chars removed", "zero-width chars removed", "spans normalised to NFC")
