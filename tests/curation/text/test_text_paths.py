"""Message paths from the table equal the record's own."""

from __future__ import annotations

from curatune.curation.record import Record, message_path
from curatune.curation.text import paths


def test_message_paths_and_text_fields_equal_the_records_own():
    assert [paths.message_path(i) for i in range(200)] == [message_path(i) for i in range(200)]
    records = [
        Record("c", messages=[{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(70)]),
        Record("p", messages=[{"role": "user", "content": "q"}], chosen="a", rejected="b"),
        Record("t", text="plain"),
        Record("l", text="x", label="pos"),
        Record("e"),
        Record("m", messages=[]),
    ]
    for rec in records:
        assert paths.text_fields(rec) == paths.text_fields_reference(rec) == rec.text_fields()
