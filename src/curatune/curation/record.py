"""The one record type every format becomes, and every step works on.

A record is one training example. Its content is one of:

- ``messages``: a conversation, ``[{"role": ..., "content": ...}]`` with roles
  system/user/assistant/tool (instruction data becomes a user and an assistant
  turn);
- ``text``: plain language-model text;
- ``text`` + ``label``: a labelled example for classification;
- ``messages`` (the prompt) + ``chosen`` + ``rejected``: a preference pair;
- ``messages`` (the prompt) + one of ``chosen`` / ``rejected``: an unpaired
  preference example (KTO's ``prompt / completion / label``).

How a preference pair is held (every preference format reads into this, and
writes back from it):

- ``messages``: the prompt, the turns before the answer (system, user, and the
  earlier turns of a multi-turn conversation), as ``{"role", "content"}`` dicts.
  For the implicit-prompt form (TRL's ``chosen``/``rejected`` conversations with
  no ``prompt``) it is the shared prefix of the two conversations.
- ``chosen`` and ``rejected``: each one string, the assistant's answer that
  continues the prompt. A side given as a message list (TRL's conversational
  form) must be exactly one assistant turn; that it was a list is remembered in
  ``meta`` so it is written back as a list. A continuation of several turns is
  refused at read time (reason ``multi_turn_answer``), never flattened.
- An unpaired (KTO) example: ``chosen`` holds a desirable completion (label
  true) and ``rejected`` is None; an undesirable one (label false) is held in
  ``rejected`` with ``chosen`` None. :attr:`Record.unpaired` tells them apart
  from pairs; :attr:`Record.kind` is ``preference`` for both, so nothing trains
  on an undesirable completion as if it were an answer to learn.
- A pair built from scored completions (UltraFeedback) keeps every completion
  and its score in ``meta["scored"]``, and which two were picked.

So the conversation a trainer renders for one side is ``messages + [{"role":
"assistant", "content": chosen}]`` (:meth:`Record.side_messages`).

``meta`` holds where the record came from (``source``, ``line``, ``format``),
fields of the input that curatune does not interpret (``extra``, written back
unchanged) and scores written by steps (``scores``).

The native serialisation (:meth:`Record.to_dict`) is lossless and is what a
run folder's ``kept.jsonl`` holds; adapters in :mod:`curatune.curation.formats`
convert to and from the user's formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
CONTENT_KEYS = ("messages", "text", "label", "chosen", "rejected")


def message_path(i: int) -> str:
    """``messages[i].content``: how the ledger names a message's text."""
    return f"messages[{i}].content"


@dataclass(slots=True)
class Record:
    id: str
    messages: list[dict[str, str]] | None = None
    text: str | None = None
    label: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- what the record is -------------------------------------------------
    @property
    def kind(self) -> str:
        """One of ``chat``, ``preference`` (a pair, or an unpaired KTO example), ``labelled``, ``text``."""
        if self.chosen is not None or self.rejected is not None:
            return "preference"
        if self.messages is not None:
            return "chat"
        if self.label is not None:
            return "labelled"
        return "text"

    @property
    def unpaired(self) -> bool:
        """An unpaired preference example (KTO): exactly one of ``chosen`` (desirable) and ``rejected`` (undesirable)."""
        return (self.chosen is None) != (self.rejected is None)

    def side_messages(self, side: str) -> list[dict[str, str]]:
        """The prompt followed by one side's answer (``side``: ``chosen`` or ``rejected``), as a trainer renders it."""
        answer = getattr(self, side)
        if side not in ("chosen", "rejected") or answer is None:
            raise ValueError(f"record {self.id} has no {side!r} answer")
        return [*(self.messages or ()), {"role": "assistant", "content": answer}]

    # ---- text views that steps use -------------------------------------------
    def contents(self, role: str) -> list[str]:
        """Contents of every message with this role, in order."""
        return [m["content"] for m in self.messages or () if m["role"] == role]

    @property
    def prompt_text(self) -> str:
        """What the model is given: system and user turns joined (empty for plain text)."""
        if self.messages is None:
            return ""
        return "\n".join(m["content"] for m in self.messages if m["role"] in ("system", "user"))

    @property
    def response_text(self) -> str:
        """What the model learns to produce: assistant turns, the chosen answer, or the text."""
        if self.chosen is not None:
            return self.chosen
        if self.messages is not None:
            return "\n".join(self.contents("assistant"))
        return self.text or ""

    @property
    def all_text(self) -> str:
        """Every piece of text in the record, for record-wide checks (PII, dedup)."""
        parts = [m["content"] for m in self.messages or ()]
        for value in (self.text, self.chosen, self.rejected):
            if value is not None:
                parts.append(value)
        return "\n".join(parts)

    def text_fields(self) -> list[tuple[str, str]]:
        """``(path, text)`` for every text field, e.g. ``("messages[1].content", ...)``.

        Mappers use the paths to say in the ledger what they changed.
        """
        out = [(message_path(i), m["content"]) for i, m in enumerate(self.messages or ())]
        for name in ("text", "chosen", "rejected"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, value))
        return out

    def with_text_fields(self, new: dict[str, str]) -> Record:
        """A copy with the given ``text_fields`` paths replaced."""
        messages = None
        if self.messages is not None:
            messages = [dict(m) for m in self.messages]
            for i, m in enumerate(messages):
                key = message_path(i)
                if key in new:
                    m["content"] = new[key]
        return Record(
            id=self.id,
            messages=messages,
            text=new.get("text", self.text),
            label=self.label,
            chosen=new.get("chosen", self.chosen),
            rejected=new.get("rejected", self.rejected),
            meta=self.meta,
        )

    # ---- native serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        for key in CONTENT_KEYS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        return cls(
            id=d["id"],
            messages=d.get("messages"),
            text=d.get("text"),
            label=d.get("label"),
            chosen=d.get("chosen"),
            rejected=d.get("rejected"),
            meta=d.get("meta") or {},
        )

    def content_equal(self, other: Record) -> bool:
        """Same content, ignoring meta (used to detect what a mapper changed)."""
        return all(getattr(self, k) == getattr(other, k) for k in CONTENT_KEYS)
