"""How the ledger names the texts of a record, with the names of the first messages made once.

Every filter names the texts it reads, per record and per message: a table
look-up costs a third of formatting ``messages[i].content`` again. The
references are :func:`curatune.curation.record.message_path` and
:meth:`Record.text_fields <curatune.curation.record.Record.text_fields>`,
which the record type keeps plain.
"""

from __future__ import annotations

from ..record import Record
from ..record import message_path as message_path_reference

_PATHS = tuple(message_path_reference(i) for i in range(64))


def message_path(i: int) -> str:
    """``messages[i].content``: how the ledger names a message's text."""
    return _PATHS[i] if i < 64 else message_path_reference(i)


def text_fields(rec: Record) -> list[tuple[str, str]]:
    """``rec.text_fields()``: ``(path, text)`` for every text field, the message paths from the table."""
    out = [(_PATHS[i] if i < 64 else message_path_reference(i), m["content"]) for i, m in enumerate(rec.messages or ())]
    for name in ("text", "chosen", "rejected"):
        value = getattr(rec, name)
        if value is not None:
            out.append((name, value))
    return out


def text_fields_reference(rec: Record) -> list[tuple[str, str]]:
    return rec.text_fields()
