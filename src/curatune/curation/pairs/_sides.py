"""What the pair steps read of a record: its sides, and the prompt they answer."""

from __future__ import annotations

from ..record import Record

SIDES = ("chosen", "rejected")


def present_sides(rec: Record) -> list[tuple[str, str]]:
    """``(side, answer)`` for each side a preference record has: two for a pair, one for a KTO example, none otherwise."""
    return [(side, text) for side in SIDES if (text := getattr(rec, side)) is not None]


def is_pair(rec: Record) -> bool:
    return rec.chosen is not None and rec.rejected is not None


def prompt_turns(rec: Record) -> list[dict[str, str]]:
    """The system and user turns of the prompt: what a side answers (earlier assistant turns left out)."""
    return [m for m in rec.messages or () if m["role"] in ("system", "user")]
