"""PII detection (curatune.curation.pii) and redaction (clean.pii): exact spans, placeholders and ledger details."""

from __future__ import annotations

import pickle

import pytest

from curatune.curation.pii import PII_TYPES, PiiDetector, iban_valid, luhn_valid
from curatune.curation.record import Record
from curatune.curation.registry import build_step

DETECTOR = PiiDetector()
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


def found(text: str, detector: PiiDetector = DETECTOR) -> list[tuple[str, str]]:
    return [(m.type, text[m.start : m.end]) for m in detector.find(text)]


# ---- positives: every type, several formats ---------------------------------------------------

POSITIVES = [
    ("Write to jane.doe+news@mail.example.co.uk today.", [("email", "jane.doe+news@mail.example.co.uk")]),
    ("Contact: J_Smith99@uni-heidelberg.de.", [("email", "J_Smith99@uni-heidelberg.de")]),
    ("Call (415) 555-0132 now", [("phone", "(415) 555-0132")]),
    ("Call 415-555-0132 or 415.555.0132", [("phone", "415-555-0132"), ("phone", "415.555.0132")]),
    ("Toll free: 1-800-273-8255.", [("phone", "1-800-273-8255")]),
    ("Ring +44 20 7946 0958 or +49 (0)30 1234 5678", [("phone", "+44 20 7946 0958"), ("phone", "+49 (0)30 1234 5678")]),
    ("Mobile: +33 6 12 34 56 78", [("phone", "+33 6 12 34 56 78")]),
    ("London office 020 7946 0958, Paris 06 12 34 56 78", [("phone", "020 7946 0958"), ("phone", "06 12 34 56 78")]),
    ("Berlin: 030-12345678", [("phone", "030-12345678")]),
    ("Office (020) 7946 0958 (or 06 12 34 56 78)", [("phone", "(020) 7946 0958"), ("phone", "06 12 34 56 78")]),
    ("my phone number is 4155550132", [("phone", "4155550132")]),
    ("Card 4111 1111 1111 1111 exp 12/27", [("credit_card", "4111 1111 1111 1111")]),
    ("Pay with 5500-0000-0000-0004 or 378282246310005", [("credit_card", "5500-0000-0000-0004"), ("credit_card", "378282246310005")]),
    ("IBAN: DE89 3704 0044 0532 0130 00 (Commerzbank)", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("Send to GB82WEST12345698765432.", [("iban", "GB82WEST12345698765432")]),
    ("FR14 2004 1010 0505 0001 3M02 606 is the account", [("iban", "FR14 2004 1010 0505 0001 3M02 606")]),
    ("Server at 8.8.4.4 and 203.0.113.7", [("ip_address", "8.8.4.4"), ("ip_address", "203.0.113.7")]),
    ("proxy 81.2.3.4:8080", [("ip_address", "81.2.3.4")]),
    ("ping 2001:db8:85a3::8a2e:370:7334 please", [("ip_address", "2001:db8:85a3::8a2e:370:7334")]),
    ("SSN 536-22-1234 on file", [("us_ssn", "536-22-1234")]),
    ("numbers 536 22 1234 and 536.22.1234", [("us_ssn", "536 22 1234"), ("us_ssn", "536.22.1234")]),
    ("social security number: 536221234", [("us_ssn", "536221234")]),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("OPENAI_API_KEY=sk-proj-4f9Kq2ZxT7mB1vR8wY3nL6pD0sH5jC", [("secret", "sk-proj-4f9Kq2ZxT7mB1vR8wY3nL6pD0sH5jC")]),
    ("token ghp_" + "a1B2c3D4e5" * 4 + " leaked", [("secret", "ghp_" + "a1B2c3D4e5" * 4)]),
    ("slack xoxb-123456789012-abcDEF123456", [("secret", "xoxb-123456789012-abcDEF123456")]),
    ("key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", [("secret", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW")]),
    ('config = {"api_key": "9f8e7d6c5b4a3f2e1d0c"}', [("secret", "9f8e7d6c5b4a3f2e1d0c")]),
    ("Contact: api_key=3IcKn7kMlDlCmaGXc7GE4Fyr1PW60DvN", [("secret", "3IcKn7kMlDlCmaGXc7GE4Fyr1PW60DvN")]),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", [("secret", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0")]),
    ("key:\n" + PEM + "\nend", [("secret", PEM)]),
]


@pytest.mark.parametrize("text,expected", POSITIVES)
def test_detects_each_type(text, expected):
    assert found(text) == expected


# ---- negatives: number-heavy text that is not PII ---------------------------------------------

NEGATIVES = [
    "The war ended in 1945; in 1999 sales rose 12.5% to $1,234,567.89.",
    "Released on 01.02.2023, 2023-01-02, 12/31/1999 and 05-06-2021 at 12:30:45.",
    "Install version 1.2.3.4 (or v2.10.1.3, release 4.0.0.1) of the package. Version: 10.0.1.2",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
    "The population was 12345678901 and the answer 3141592653589793.",
    "Card 4111 1111 1111 1112 fails the Luhn check.",
    "GB82 WEST 1234 5698 7654 33 has a wrong IBAN checksum; DE00 1234 5678 9012 3456 78 too.",
    "000-12-3456, 666-12-3456, 912-34-5678, 536-00-1234 and 536-22-0000 are never issued.",
    "id 550e8400-e29b-41d4-a716-446655440000 and commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "a task-force took a risk-free desk-top approach with sk-learn; see scikit-learn.",
    "token: the smallest unit of text; password: use a long phrase.",
    "Sort these: 8462735194 5267357841 and 1948571 236",
    "Write to me @john on twitter; icon@2x.png is a retina image.",
    "Run ssh-copy-id deploy@web-01.internal, then ssh ci@db-08.local or root@host.lan.",
    "Call 555-0132 (seven digits, no area code) or dial 911.",
    "C++ uses std::vector and a::b; the ratio is 3:2:1.",
    "Room 101, 221B Baker Street, phone extension 42.",
    "Order #4567-8901 shipped; part 12-345-6789-0.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_number_heavy_text_is_not_pii(text):
    assert found(text) == []


def test_validators():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE88 3704 0044 0532 0130 00")
    assert not iban_valid("XX89370400440532013000")  # unknown country


def test_private_ips_can_be_skipped():
    text = "router 192.168.1.1, loopback 127.0.0.1 and ::1, public 8.8.8.8"
    assert found(text) == [("ip_address", "192.168.1.1"), ("ip_address", "127.0.0.1"), ("ip_address", "8.8.8.8")]
    assert found(text, PiiDetector(ip_skip_private=True)) == [("ip_address", "8.8.8.8")]


def test_only_chosen_types_are_found():
    text = "mail a@b.org, call (415) 555-0132"
    assert found(text, PiiDetector(["phone"])) == [("phone", "(415) 555-0132")]
    with pytest.raises(ValueError, match="Unknown PII type"):
        PiiDetector(["emails"])


def test_overlap_prefers_longest_match():
    # An IBAN whose digit groups would also pass for a phone, and an international number with a NANP core.
    assert found("IBAN NL91 ABNA 0417 1643 00 ok") == [("iban", "NL91 ABNA 0417 1643 00")]
    assert found("+1 415 555 0132") == [("phone", "+1 415 555 0132")]


# ---- redaction ---------------------------------------------------------------------------------


def test_redact_exact_output():
    text = (
        "Mail bob@example.org, call +1 (415) 555-0132, card 4111-1111-1111-1111, IBAN DE89370400440532013000, "
        "ip 8.8.8.8, SSN 536-22-1234, key AKIAIOSFODNN7EXAMPLE."
    )
    out, counts = DETECTOR.redact(text)
    assert out == "Mail <EMAIL>, call <PHONE>, card <CREDIT_CARD>, IBAN <IBAN>, ip <IP_ADDRESS>, SSN <US_SSN>, key <SECRET>."
    assert dict(counts) == {t: 1 for t in PII_TYPES}


def test_clean_step_redacts_every_message_and_names_types_not_values():
    step = build_step("clean.pii", {})
    step.setup()
    rec = Record(
        "r1",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "My email is ann@corp.com and ann.b@corp.com, phone 020 3946 0958."},
            {"role": "assistant", "content": "Noted. I will not store ann@corp.com."},
        ],
        meta={"source": "x"},
    )
    edit = step.apply(rec)
    assert edit is not None and edit.reason == "pii_redacted"
    assert [m["content"] for m in edit.record.messages] == [
        "You are helpful.",
        "My email is <EMAIL> and <EMAIL>, phone <PHONE>.",
        "Noted. I will not store <EMAIL>.",
    ]
    assert edit.detail == "email=3, phone=1 in messages[1].content, messages[2].content"
    assert "ann@" not in edit.detail
    assert rec.messages[1]["content"].startswith("My email is ann@corp.com")  # the input record is untouched
    assert edit.record.id == "r1" and edit.record.meta == {"source": "x"}


def test_clean_step_preference_and_text_records():
    step = build_step("clean.pii", {"types": ["email"]})
    step.setup()
    pref = Record("p", messages=[{"role": "user", "content": "hi"}], chosen="write x@y.io", rejected="call (415) 555-0132")
    edit = step.apply(pref)
    assert (edit.record.chosen, edit.record.rejected) == ("write <EMAIL>", "call (415) 555-0132")
    assert edit.detail == "email=1 in chosen"
    assert step.apply(Record("t", text="nothing personal in 2024")) is None


def test_clean_step_keeps_private_ips_by_default_and_pickles():
    step = build_step("clean.pii", {})
    step.setup()
    assert step.apply(Record("t", text="gateway 192.168.0.1")) is None
    assert step.apply(Record("t", text="server 93.184.216.34")).record.text == "server <IP_ADDRESS>"
    clone = pickle.loads(pickle.dumps(step))
    assert clone.get_params() == step.get_params()


def test_clean_step_rejects_unknown_type():
    from curatune.errors import RecipeError

    with pytest.raises(RecipeError, match="types"):
        build_step("clean.pii", {"types": ["passport"]})


# ---- issue 15: reserved values are nobody's data; tasks about the value are not redacted ---------------
# Examples written for these tests (not the unseen-phrasing file's, not bench/heldout's).

RESERVED = [
    "Set SERVER_ADMIN to webmaster@example.org in the config.",
    "Send the form to signup@mail.example.com and copy qa@staging.example.net.",
    "Test with root@localhost or user@host.test.",
    "The fictional detective's number is (212) 555-0147.",
    "Call 1-800-555-0199 for the demo line.",
    "Drama number: 020 7946 0321.",
    "UK mobile for the script: +44 7700 900456.",
    "Use 4242 4242 4242 4242 with any future expiry date.",
    "Test card 5555-5555-5555-4444 is always approved.",
    "Point the client at 198.51.100.23 and 2001:db8::7 in the docs.",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "Placeholder phone: 123-456-7890.",
]


@pytest.mark.parametrize("text", RESERVED)
def test_reserved_values_are_not_redacted_by_the_steps(text):
    step = build_step("clean.pii", {})
    step.setup()
    rec = Record("r", messages=[{"role": "user", "content": "Show an example."}, {"role": "assistant", "content": text}])
    assert step.apply(rec) is None
    drop = build_step("filter.pii", {"types": list(PII_TYPES)})
    drop.setup()
    assert drop.keep(rec).action == "keep"


def test_the_library_still_finds_reserved_values_unless_asked_not_to():
    assert found("mail webmaster@example.org") == [("email", "webmaster@example.org")]
    assert found("mail webmaster@example.org", PiiDetector(keep_reserved=True)) == []


@pytest.mark.parametrize("text", ["Write to dmitri.volkov@yandex.ru.", "Her cell is (312) 847-2291.", "Card 4556 7375 8689 9855 on file."])
def test_personal_values_next_to_reserved_ones_are_still_found(text):
    assert PiiDetector(keep_reserved=True).find(text)


@pytest.mark.parametrize(
    ("instruction", "answer", "reason"),
    [
        ("Make up a plausible email address for a customer named Lena.", "lena.marsh84@gmail.com", "pii_is_the_task"),
        ("Write a regular expression for US phone numbers and show two it matches.",
         r"\d{3}-\d{3}-\d{4} matches 312-847-2291 and 773-290-1185.", "pii_is_the_task"),
        ("What is the support line?", "Call 0161 238 7345.", "answer_mostly_pii"),
        ("Give the server's IP address.", "It is 81.2.69.160.", "pii_is_the_task"),
    ],
)  # fmt: skip
def test_records_that_redaction_would_damage_are_dropped_with_a_reason(instruction, answer, reason):
    step = build_step("filter.pii_task", {})
    step.setup()
    rec = Record("r", messages=[{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}])
    v = step.keep(rec)
    assert (v.action, v.reason) == ("drop", reason)


@pytest.mark.parametrize(
    ("instruction", "answer"),
    [
        (
            "Write an email inviting the team to lunch.",
            "Hi all, lunch is on Friday at noon. Reply to sam.ortiz@fastmail.com if you can come.",
        ),
        ("Give an example of a valid email address.", "someone@example.com"),  # reserved: nothing to redact
        ("Name three rivers.", "The Nile, the Amazon and the Danube."),
    ],
)
def test_records_redaction_does_not_damage_pass(instruction, answer):
    step = build_step("filter.pii_task", {})
    step.setup()
    rec = Record("r", messages=[{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}])
    assert step.keep(rec).action == "keep"
