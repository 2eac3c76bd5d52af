"""Exact verdicts of filter.conversation on role orders."""

from __future__ import annotations

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step

S, U, A, T = "system", "user", "assistant", "tool"


def chat(*roles: str) -> Record:
    return Record("c:1", messages=[{"role": r, "content": f"turn {i}"} for i, r in enumerate(roles)])


def verdict(rec: Record, **params) -> tuple[str, str | None]:
    v = build_step("filter.conversation", params).keep(rec)
    return v.action, v.reason


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        ((U,), "no_assistant_turn"),
        ((S, U), "no_assistant_turn"),
        ((A, U, A), "bad_first_role"),
        ((T, U, A), "bad_first_role"),
        ((U, A, S, U, A), "system_not_first"),
        ((S, S, U, A), "system_not_first"),
        ((U, U, A), "consecutive_same_role"),
        ((S, U, A, A), "consecutive_same_role"),
        ((U, A, U), "does_not_end_with_assistant"),
        ((U, A, T), "does_not_end_with_assistant"),
    ],
)
def test_conversation_drops(roles, reason):
    assert verdict(chat(*roles)) == ("drop", reason)


@pytest.mark.parametrize(
    "roles",
    [
        (U, A),
        (S, U, A),
        (U, A, U, A),
        (S, U, A, U, A, U, A),
        (U, A, T, A),  # a tool result between two assistant turns
        (U, A, T, T, A),  # parallel tool results
        (S, U, A, T, A, U, A),
        (U, A, U, A, U, A, U, A),
    ],
)
def test_conversation_keeps(roles):
    assert verdict(chat(*roles)) == ("keep", None)


def test_conversation_options():
    assert verdict(chat(U, U, A), allow_consecutive=True) == ("keep", None)
    assert verdict(chat(U, A, U), require_final_assistant=False) == ("keep", None)
    assert verdict(chat(U, A, A, U), allow_consecutive=True, require_final_assistant=False) == ("keep", None)


def test_conversation_preference_and_plain_records():
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    assert verdict(Record("p:1", messages=prompt, chosen="a", rejected="b")) == ("keep", None)
    bad = [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}]
    assert verdict(Record("p:2", messages=bad, chosen="a", rejected="b")) == ("drop", "consecutive_same_role")
    assert verdict(Record("t:1", text="plain text")) == ("keep", None)


def test_conversation_detail_names_the_turns():
    v = build_step("filter.conversation").keep(chat(S, U, A, A))
    assert v.detail == "messages[2] and messages[3] are both 'assistant'; roles: system,user,assistant,assistant"
