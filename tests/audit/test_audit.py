"""``run_audit`` on a small chat dataset with planted problems: exact counts, locations and outputs."""

from __future__ import annotations

import hashlib
import json
import re
import socket

import orjson
import pytest

from curatune.audit import run_audit
from curatune.models.tokenizer import load_tokenizer

EN_Q = "What is the capital of France? Please answer in one sentence."
EN_A = "The capital of France is Paris, which lies on the river Seine."
LONG_ANSWER = "The bicycle has a long and interesting history that began in Europe. " * 20
LONG_PROMPT = "Please read the following text carefully before you answer my question. " * 20


def chat(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


# line number -> row (a dict, or raw text for rows that are not JSON objects); line 10 is blank
LINES: dict[int, dict | str] = {
    1: chat(("user", EN_Q), ("assistant", EN_A)),
    2: '{"messages": [',  # bad_json
    3: chat(("user", "  what is the CAPITAL of France?   Please answer in one sentence."), ("assistant", EN_A)),  # duplicate of 1
    4: chat(("user", "Write a short poem about the sea and the wind."), ("assistant", "   ")),  # empty answer
    5: chat(("assistant", "Hello, how can I help you today with your work?"), ("user", "Tell me a joke about computers and programmers.")),
    6: chat(
        ("user", "Name three primary colours used in painting."),
        ("user", "Please also explain why they are called primary."),
        ("assistant", "Red, yellow and blue are the traditional primary colours in painting."),
    ),
    7: chat(("user", "Describe the water cycle in a few simple sentences.")),
    8: "[1, 2]",  # not_an_object
    9: chat(("wizard", "Abracadabra, show me the answer.")),  # unknown_role
    11: chat(
        ("user", "Quelle est la capitale de l'Allemagne et combien d'habitants y vivent ?"),
        ("assistant", "La capitale de l'Allemagne est Berlin, où vivent environ trois millions et demi de personnes."),
    ),
    12: chat(
        ("user", "Wie viele Tage hat eine Woche und wie heißen die Wochentage auf Deutsch?"),
        ("assistant", "Eine Woche hat sieben Tage: Montag, Dienstag, Mittwoch, Donnerstag, Freitag, Samstag und Sonntag."),
    ),
    13: {"messages": []},  # empty_messages
    14: chat(
        ("system", "  "),
        ("user", "Give me a tip for staying focused while studying at home."),
        ("assistant", "Put your phone in another room and work in short blocks with breaks between them."),
    ),
    15: chat(("user", "Tell me about the history of the bicycle in detail."), ("assistant", LONG_ANSWER)),
    16: chat(("user", LONG_PROMPT), ("assistant", "I have read the whole text carefully.")),
}
MAX_SEQ_LEN = 100


def write_data(path) -> None:
    lines = []
    for n in range(1, max(LINES) + 1):
        row = LINES.get(n, "")
        lines.append(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    data = root / "data.jsonl"
    write_data(data)
    before = (hashlib.sha256(data.read_bytes()).hexdigest(), data.stat().st_mtime_ns)

    def no_network(*args, **kwargs):
        raise AssertionError(f"the audit tried to reach the network: {args}")

    with pytest.MonkeyPatch.context() as mp:  # tokenizer, language model and preview all work offline
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        report = run_audit(str(data), root / "out", max_seq_len=MAX_SEQ_LEN)
    return data, root / "out", report, before


def test_counts_kinds_and_formats(audited):
    data, _, r, _ = audited
    assert r["records"] == 11
    assert r["parse_problems"] == 4
    assert r["kinds"] == {"chat": 11}
    assert r["formats"] == {str(data): "messages"}
    assert r["per_source"] == {str(data): 15}


def test_parse_problems_with_lines(audited):
    _, _, r, _ = audited
    p = r["parse"]
    assert p["total"] == 4
    assert p["reasons"] == {"bad_json": 1, "not_an_object": 1, "unknown_role": 1, "empty_messages": 1}
    lines = {reason: [e["line"] for e in ex] for reason, ex in p["examples"].items()}
    assert lines == {"bad_json": [2], "not_an_object": [8], "unknown_role": [9], "empty_messages": [13]}


def test_empty_fields_per_role(audited):
    _, _, r, _ = audited
    e = r["empty_fields"]
    assert e["fields"] == {"assistant": 1, "system": 1}
    assert e["records"] == 2
    assert [(x["line"], x["roles"]) for x in e["examples"]] == [(4, ["assistant"]), (14, ["system"])]


def test_role_order_problems(audited):
    _, _, r, _ = audited
    ro = r["role_order"]
    assert ro["records"] == 3
    assert ro["problems"] == {
        "bad_first_role": 1,
        "system_not_first": 0,
        "consecutive_same_role": 1,
        "not_ending_with_assistant": 2,
        "no_assistant_turn": 1,
    }
    assert {x["line"]: x["problems"] for x in ro["examples"]} == {
        5: ["bad_first_role", "not_ending_with_assistant"],
        6: ["consecutive_same_role"],
        7: ["not_ending_with_assistant", "no_assistant_turn"],
    }


def test_exact_duplicates_with_ids(audited):
    _, _, r, _ = audited
    d = r["duplicates"]["record"]
    assert (d["duplicates"], d["groups"], d["largest_group"]) == (1, 1, 2)
    (group,) = d["examples"]
    assert (group["first"]["id"], group["first"]["line"]) == ("data:1", 1)
    assert [(m["id"], m["line"]) for m in group["duplicates"]] == [("data:3", 3)]
    # Same question in lines 1 and 3; line 4's prompt has no answer and is not compared.
    assert r["duplicates"]["prompt"]["duplicates"] == 1


def test_chars_per_role(audited):
    _, _, r, _ = audited
    c = r["chars"]
    assert c["system"]["count"] == 1 and c["system"]["max"] == 2
    assert c["assistant"]["count"] == 10  # every record but line 7
    assert c["assistant"]["max"] == len(LONG_ANSWER)
    assert c["user"]["max"] == len(LONG_PROMPT)


def test_tokens_and_truncation(audited):
    data, _, r, _ = audited
    t = r["tokens"]
    assert t["mode"] == "shortcut"
    assert t["template_check"]["tokens_equal"] == t["template_check"]["records"] == 11
    tok = load_tokenizer("default")
    real = []
    for n in sorted(LINES):
        row = LINES[n]
        if isinstance(row, dict) and n not in (9, 13):
            text = tok.apply_chat_template(row["messages"], tokenize=False)
            real.append(len(tok(text, add_special_tokens=False)["input_ids"]))
    assert t["total"]["count"] == 11
    assert t["total"]["max"] == max(real)
    assert t["total"]["min"] == min(real)
    assert round(sum(real) / len(real), 2) == t["total"]["mean"]
    over = t["over_max_seq_len"]
    assert over["records"] == sum(n > MAX_SEQ_LEN for n in real) == 2
    assert over["tokens_cut"] == sum(n - MAX_SEQ_LEN for n in real if n > MAX_SEQ_LEN)
    assert {x["line"]: x["answer_lost"] for x in over["examples"]} == {15: False, 16: True}
    assert over["answer_lost"] == 1
    assert t["per_role"]["user"]["count"] == 11 and t["per_role"]["assistant"]["count"] == 10


def test_language_mix(audited):
    _, _, r, _ = audited
    lang = r["languages"]
    assert lang["per_role"]["user"] == {"en": 9, "fr": 1, "de": 1}
    assert lang["per_role"]["assistant"] == {"en": 7, "fr": 1, "de": 1}
    assert lang["short"] == {"assistant": 2}  # the blank answer (line 4) and no answer (line 7)
    assert lang["uncertain"] == {}
    assert lang["user_assistant_mismatch"]["records"] == 0


def test_preview_runs_default_steps_in_flag_mode(audited):
    from curatune.config.recipe import default_steps

    _, _, r, _ = audited
    p = r["preview"]
    assert "error" not in p, p.get("error")
    assert p["records"] == 11 and p["sampled"] is False
    assert [s["step"] for s in p["steps"]] == [sc.step for sc in default_steps()]
    assert all(s["dropped"] == 0 for s in p["steps"])  # flag mode: nothing is dropped
    if "dedup.exact" in [sc.step for sc in default_steps()]:
        assert p["events"]["dedup.exact:flag:exact_duplicate"] == 1
        assert p["examples"]["dedup.exact:flag:exact_duplicate"][0]["id"] == "data:3"


def test_outputs_json_and_self_contained_html(audited):
    _, out, r, _ = audited
    assert json.loads((out / "audit.json").read_text()) == json.loads(orjson.dumps(r))
    html = (out / "audit.html").read_text()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert html.count("<svg") >= 4  # problems, characters, tokens, languages (+ preview when it flags)
    assert "data:3" in html and "max_seq_len" in html


def test_input_file_unchanged(audited):
    data, _, _, before = audited
    assert (hashlib.sha256(data.read_bytes()).hexdigest(), data.stat().st_mtime_ns) == before


def test_without_tokens_languages_and_a_sampled_preview(tmp_path):
    data = tmp_path / "data.jsonl"
    write_data(data)
    r = run_audit([str(data)], tmp_path / "out", tokenizer=None, languages=False, preview_records=5, html=False)
    assert "tokens" not in r and "languages" not in r
    assert r["preview"]["records"] == 5 and r["preview"]["sampled"] is True
    assert (tmp_path / "out" / "audit.json").is_file() and not (tmp_path / "out" / "audit.html").exists()


def test_cli_audit(tmp_path):
    from typer.testing import CliRunner

    from curatune.cli import app

    data = tmp_path / "data.jsonl"
    write_data(data)
    result = CliRunner().invoke(app, ["audit", str(data), "--out", str(tmp_path / "out"), "--no-tokens"])
    assert result.exit_code == 0, result.output
    assert "Problems" in result.output
    report = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert report["records"] == 11 and report["role_order"]["records"] == 3


def test_preference_and_text_files_in_one_audit(tmp_path):
    pref = tmp_path / "pairs.jsonl"
    pref.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"prompt": "Which colour is the sky on a clear day?", "chosen": "It is blue on a clear day.", "rejected": "It is green."},
                {"prompt": "Name a large planet in our solar system.", "chosen": "Jupiter is the largest planet.", "rejected": " "},
            ]
        )
        + "\n"
    )
    text = tmp_path / "notes.jsonl"
    text.write_text(json.dumps({"text": "Plain language-model text about gardens and the plants that grow in them."}) + "\n")
    r = run_audit([str(pref), str(text)], tmp_path / "out", max_seq_len=MAX_SEQ_LEN)
    assert r["kinds"] == {"preference": 2, "text": 1}
    assert r["formats"] == {str(pref): "preference", str(text): "text"}
    assert r["empty_fields"]["fields"] == {"rejected": 1}
    assert r["role_order"]["records"] == 0  # a preference prompt ends with the user by design
    assert r["tokens"]["total"]["count"] == 3 and r["tokens"]["template_errors"] == 0
    assert set(r["tokens"]["per_role"]) == {"user", "assistant", "rejected", "text"}
    assert "<svg" in (tmp_path / "out" / "audit.html").read_text()
