"""filter.pii: exact drop reasons per type, counts, fields, and drop-or-redact split across two steps."""

from __future__ import annotations

import pytest

from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.curation.step import KEEP

ALL = ["email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "secret"]


def chat(rid: str, user: str, answer: str = "Sure.") -> Record:
    return Record(rid, messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


@pytest.mark.parametrize(
    "text,reason",
    [
        ("reach me at kim.lee@protonmail.com", "pii_email"),
        ("phone (212) 684-4700", "pii_phone"),
        ("card 4556 7375 8689 9855", "pii_credit_card"),
        ("IBAN GB30 NWBK 6016 1331 9268 01", "pii_iban"),
        ("host 93.184.216.34", "pii_ip_address"),
        ("SSN 536-22-1234", "pii_us_ssn"),
        ("export KEY=AKIAJ7Q2X4LMN8PZ3RTV", "pii_secret"),
    ],
)
def test_reason_per_type(text, reason):
    step = build_step("filter.pii", {"types": ALL})
    step.setup()
    v = step.keep(chat("r", text))
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", reason, 1, 1)
    assert v.detail == f"{reason[4:]}=1 in messages[0].content"


def test_clean_records_are_kept():
    step = build_step("filter.pii", {"types": ALL})
    step.setup()
    for text in ("In 1999 it cost $12.99.", "Use version 1.2.3.4.", "Sort 8462735194 and 5267357841.", "Call me later."):
        assert step.keep(chat("r", text)) == KEEP


def test_multi_message_conversation_counts_every_turn_and_names_the_worst_type():
    step = build_step("filter.pii", {"types": ALL})
    step.setup()
    rec = Record(
        "c",
        messages=[
            {"role": "system", "content": "Support bot."},
            {"role": "user", "content": "I am ann@corp.com, card 4556 7375 8689 9855."},
            {"role": "assistant", "content": "Thanks. We will mail ann@corp.com."},
            {"role": "user", "content": "Also call 020 3946 0958."},
        ],
    )
    v = step.keep(rec)
    assert (v.reason, v.value) == ("pii_credit_card", 4)
    assert v.detail == "email=2, phone=1, credit_card=1 in messages[1].content, messages[2].content, messages[3].content"


def test_default_types_drop_secrets_and_financial_ids_only():
    step = build_step("filter.pii", {})
    step.setup()
    assert step.types == ["secret", "credit_card", "iban", "us_ssn"]
    assert step.keep(chat("r", "mail kim.lee@protonmail.com")) == KEEP
    assert step.keep(chat("r", "ok", answer="password = 'Zq8#mK2$vL9pW4xR'")).reason is None  # '#' ends the value: too short
    assert step.keep(chat("r", "ok", answer="api_key: 'Zq8mK2vL9pW4xR7t'")).reason == "pii_secret"


def test_min_count():
    step = build_step("filter.pii", {"types": ["email"], "min_count": 2})
    step.setup()
    assert step.keep(chat("r", "a@b.org")) == KEEP
    assert step.keep(chat("r", "a@b.org", "c@d.org")).value == 2


def test_preference_and_text_records():
    step = build_step("filter.pii", {"types": ["email", "phone"]})
    step.setup()
    pref = Record("p", messages=[{"role": "user", "content": "q"}], chosen="fine", rejected="mail x@y.io")
    v = step.keep(pref)
    assert (v.reason, v.detail) == ("pii_email", "email=1 in rejected")
    assert step.keep(Record("t", text="call +1 415 838 0132", label="spam")).reason == "pii_phone"


class _ListSink(Sink):
    def __init__(self):
        self.kept, self.dropped, self.events = [], [], []

    def keep(self, rec):
        self.kept.append(rec)

    def drop(self, item, event):
        self.dropped.append((item, event))

    def event(self, event):
        self.events.append(event)


def test_drop_some_types_redact_others_in_one_pipeline():
    recs = [
        chat("secret", "my key is sk-proj-4f9Kq2ZxT7mB1vR8wY3nL6pD0sH5jC"),
        chat("email", "write to kim.lee@protonmail.com"),
        chat("clean", "what is 2 + 2?", "4"),
    ]
    sink = _ListSink()
    steps = [
        PipelineStep(build_step("filter.pii", {"types": ["secret"]})),
        PipelineStep(build_step("clean.pii", {"types": ["email", "phone"]})),
    ]
    result = Pipeline(steps).run(recs, sink)
    assert (result.input, result.kept, result.dropped) == (3, 2, 1)
    assert [e.reason for _, e in sink.dropped] == ["pii_secret"]
    assert [r.id for r in sink.kept] == ["email", "clean"]
    assert sink.kept[0].messages[0]["content"] == "write to <EMAIL>"


def test_on_fail_flag_keeps_the_record():
    sink = _ListSink()
    steps = [PipelineStep(build_step("filter.pii", {"types": ["email"]}), on_fail="flag")]
    result = Pipeline(steps).run([chat("e", "kim.lee@protonmail.com")], sink)
    assert (result.kept, result.dropped) == (1, 0)
    assert sink.kept[0].meta["flags"] == ["filter.pii:pii_email"]
