"""Records as rows within one run: the batches that cross the process boundary and the spool between passes.

A row is the list of a record's fields in :class:`~curatune.curation.record.Record`'s order (cheaper to
build and read back than a dict; ``Record(*row)`` makes the record again). Rows never leave a run: a
change of Record's fields changes both ends at once.
"""

from __future__ import annotations

from typing import Any

from ..record import Record


def row(r: Record) -> list[Any]:
    return [r.id, r.messages, r.text, r.label, r.chosen, r.rejected, r.meta]
