"""Token lengths per role and of each whole conversation as the chat template renders it.

Rendering the template with Jinja for every record and tokenising the result
would tokenise every text twice (once per role, once whole). Instead the
template is rendered once per *shape* (the sequence of roles) with marker
contents; the text between markers is the template's own text (role headers,
the default system prompt, end-of-turn tokens). The part of each such segment
up to its last added (special) token is constant and tokenised once; the rest
(``user\\n``, say) is prepended to the message content. Because the tokenizer
splits text at added tokens before anything else, the tokens of a piece
``tail + content`` plus the constant parts add up to exactly the tokens of the
rendered conversation, with one batch call over the pieces.

That holds when the template copies contents unchanged and its segments are
bounded by added tokens, as in SmolLM2's and other ChatML-style templates.
:meth:`TokenStats.calibrate` checks it on the first records against the real
template and falls back (``mode``) to rendering each record, tokenising the
whole text, when it does not hold.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from ..curation.record import Record
from .profile import Hist

MARK = "\ue000{}\ue001"  # private-use characters: no template changes them, no real text holds them
MAX_SHAPES = 4096
CHECK_RECORDS = 64
MAX_EXAMPLES = 50


@dataclass
class Shape:
    """How the chat template renders one sequence of roles."""

    segments: list[str]  # literal text before each content, and after the last
    heads: list[int]  # tokens of the constant part of segment i (through its last added token)
    tails: list[str]  # the rest of segment i, tokenised together with content i
    tail_tokens: list[int]
    end_tokens: int  # tokens of the last segment

    def render(self, contents: list[str]) -> str:
        return "".join(s + c for s, c in zip(self.segments, contents)) + self.segments[-1]


@dataclass
class Plan:
    """What one record needs tokenised: ``pieces`` of the batch from ``start``, and how to add them up."""

    start: int
    kind: str
    roles: list[str]
    shape: Shape | None = None
    whole: bool = False  # the last piece is the whole rendered conversation
    template_error: bool = False


def make_encoder(tok):
    """``encode(texts) -> [token count]``, with the Rust batch call when the tokenizer has one."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        fn = getattr(backend, "encode_batch_fast", None) or backend.encode_batch

        def encode(texts: list[str]) -> list[int]:
            return [len(e) for e in fn(texts, add_special_tokens=False)]

        return encode

    def encode_slow(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]

    return encode_slow


class TokenStats:
    """Plans token pieces per batch (main thread), encodes them (any thread), folds the counts in."""

    def __init__(self, tok, max_seq_len: int, tokenizer_name: str = "default"):
        self.tok = tok
        self.max_seq_len = max_seq_len
        self.tokenizer_name = tokenizer_name
        self.encode = make_encoder(tok)
        self.has_template = bool(getattr(tok, "chat_template", None))
        self.mode = "shortcut" if self.has_template else "no_template"
        self._shapes: dict[tuple[str, ...], Shape | None] = {}
        added = sorted((t.content for t in getattr(tok, "added_tokens_decoder", {}).values()), key=len, reverse=True)
        self._added = re.compile("|".join(re.escape(a) for a in added)) if added else None
        self.per_role: dict[str, Hist] = {}
        self.total = Hist()
        self.over = 0
        self.over_excess = Hist()
        self.answer_lost = 0  # the prompt alone fills max_seq_len: no answer token survives truncation
        self.over_examples: list[dict] = []
        self.template_errors = 0
        self.check: dict[str, Any] = {}
        self.seconds_encode = 0.0

    # ---- the template, rendered once per shape --------------------------------------------
    def _split(self, seg: str) -> tuple[str, str]:
        last = None
        if self._added is not None:
            for match in self._added.finditer(seg):
                last = match
        return (seg[: last.end()], seg[last.end() :]) if last else ("", seg)

    def shape(self, roles: tuple[str, ...]) -> Shape | None:
        if roles in self._shapes:
            return self._shapes[roles]
        shape = None
        try:
            text = self.tok.apply_chat_template([{"role": r, "content": MARK.format(i)} for i, r in enumerate(roles)], tokenize=False)
        except Exception:  # a template may refuse some role orders (e.g. "roles must alternate")
            text = None
        if isinstance(text, str):
            segments: list[str] = []
            pos = 0
            for i in range(len(roles)):
                mark = MARK.format(i)
                at = text.find(mark, pos)
                if at < 0 or text.count(mark) != 1:
                    break  # no shape: a marker is missing or repeated
                segments.append(text[pos:at])
                pos = at + len(mark)
            else:
                segments.append(text[pos:])
                splits = [self._split(s) for s in segments[:-1]]
                counts = self.encode([h for h, _ in splits] + [t for _, t in splits] + [segments[-1]])
                n = len(splits)
                shape = Shape(segments, counts[:n], [t for _, t in splits], counts[n : 2 * n], counts[-1])
        if len(self._shapes) < MAX_SHAPES:
            self._shapes[roles] = shape
        return shape

    @staticmethod
    def conversation(rec: Record) -> list[dict[str, str]] | None:
        """The messages training would render: a preference pair's prompt plus its chosen answer."""
        if rec.messages is None:
            return None
        if rec.chosen is not None:
            return rec.messages + [{"role": "assistant", "content": rec.chosen}]
        return rec.messages

    # ---- planning, encoding, folding ---------------------------------------------------------
    def plan(self, records: list[Record]) -> tuple[list[Plan], list[str]]:
        plans: list[Plan] = []
        pieces: list[str] = []
        for rec in records:
            conv = self.conversation(rec)
            p = Plan(len(pieces), rec.kind, [])
            if conv is None:
                p.roles = ["text"]
                pieces.append(rec.text or "")
            else:
                p.roles = [m["role"] for m in conv]
                shape = self.shape(tuple(p.roles)) if self.has_template else None
                if shape is None:
                    pieces.extend(m["content"] for m in conv)
                    p.template_error = self.has_template
                else:
                    p.shape = shape
                    pieces.extend(t + m["content"] for t, m in zip(shape.tails, conv))
                    p.whole = self.mode != "shortcut"
            if rec.rejected is not None:
                p.roles.append("rejected")
                pieces.append(rec.rejected)
            if p.whole:  # always the record's last piece
                conv = self.conversation(rec)
                assert conv is not None and p.shape is not None, "whole is set on a conversation with a shape"
                if self.mode == "rendered":
                    pieces.append(p.shape.render([m["content"] for m in conv]))
                else:
                    pieces.append(self.tok.apply_chat_template(conv, tokenize=False))
            plans.append(p)
        return plans, pieces

    def encode_timed(self, pieces: list[str]) -> tuple[list[int], float, float]:
        """Token counts, wall seconds and CPU seconds of this thread."""
        t0, c0 = time.perf_counter(), time.thread_time()
        counts = self.encode(pieces)
        return counts, time.perf_counter() - t0, time.thread_time() - c0

    def measure(self, p: Plan, counts: list[int]) -> tuple[dict[str, int], int | None, int | None]:
        """``(tokens per role, total tokens, tokens before the first answer)`` of one planned record."""
        n = len(p.roles)
        c = counts[p.start : p.start + n + (1 if p.whole else 0)]
        per_role: dict[str, int] = {}
        total = 0
        before_answer = None
        running = 0
        shape = p.shape
        for i, role in enumerate(p.roles):
            if role == "rejected":
                per_role["rejected"] = c[i]
                continue
            own = c[i] - (shape.tail_tokens[i] if shape else 0)
            per_role[role] = per_role.get(role, 0) + own
            if shape is not None:
                if role == "assistant" and before_answer is None:
                    before_answer = running + shape.heads[i] + shape.tail_tokens[i]
                running += shape.heads[i] + c[i]
            else:
                if role == "assistant" and before_answer is None:
                    before_answer = running
                running += c[i]
        total = running + (shape.end_tokens if shape else 0)
        if p.whole:
            total = c[n]
        if p.template_error:
            return per_role, None, None
        return per_role, total, before_answer

    def fold(self, plans: list[Plan], counts: list[int], records: list[Record]) -> None:
        per_role: dict[str, list[int]] = {}
        totals = []
        for p, rec in zip(plans, records):
            roles, total, before = self.measure(p, counts)
            for role, n in roles.items():
                per_role.setdefault(role, []).append(n)
            if total is None:
                self.template_errors += 1
                continue
            totals.append(total)
            if total > self.max_seq_len:
                self.over += 1
                self.over_excess.add([total - self.max_seq_len])
                lost = before is not None and before >= self.max_seq_len
                self.answer_lost += lost
                if len(self.over_examples) < MAX_EXAMPLES:
                    self.over_examples.append(
                        {"id": rec.id, "source": rec.meta.get("source"), "line": rec.meta.get("line"), "tokens": total, "answer_lost": lost}
                    )
        for role, values in per_role.items():
            self.per_role.setdefault(role, Hist()).add(values)
        self.total.add(totals)

    # ---- checking the shortcut against the real template --------------------------------------
    def real_tokens(self, conv: list[dict[str, str]]) -> tuple[str, int]:
        text = self.tok.apply_chat_template(conv, tokenize=False)
        return text, self.encode([text])[0]

    def calibrate(self, records: list[Record]) -> None:
        """Compare the shortcut with the real template on the first chat records; pick the mode."""
        if not self.has_template:
            return
        sample = [r for r in records if r.messages is not None][:CHECK_RECORDS]
        if not sample:
            return
        render_equal = tokens_equal = 0
        max_diff = 0
        self.mode = "shortcut"  # plan the sample the fast way, then see whether it holds
        plans, pieces = self.plan(sample)
        counts = self.encode(pieces)
        n = 0
        for p, rec in zip(plans, sample):
            if p.template_error:  # the template refuses this role order: no mode can count it
                continue
            n += 1
            conv = self.conversation(rec)
            assert conv is not None, "the sample holds records with messages"
            text, real = self.real_tokens(conv)
            if p.shape is not None and p.shape.render([m["content"] for m in conv]) == text:
                render_equal += 1
            _, total, _ = self.measure(p, counts)
            if total == real:
                tokens_equal += 1
            max_diff = max(max_diff, abs((total or 0) - real))
        if tokens_equal == n:
            self.mode = "shortcut"
        elif render_equal == n:
            self.mode = "rendered"
        else:
            self.mode = "template"
        self.check = {
            "records": n,
            "render_equal": render_equal,
            "tokens_equal": tokens_equal,
            "max_difference": max_diff,
            "mode": self.mode,
        }

    def to_dict(self) -> dict[str, Any]:
        over_pct = round(100 * self.over / self.total.n, 2) if self.total.n else 0.0
        return {
            "tokenizer": self.tokenizer_name,
            "chat_template": self.has_template,
            "mode": self.mode,
            "template_check": self.check,
            "template_errors": self.template_errors,
            "max_seq_len": self.max_seq_len,
            "per_role": {role: h.to_dict() for role, h in sorted(self.per_role.items())},
            "total": self.total.to_dict(),
            "over_max_seq_len": {
                "records": self.over,
                "percent": over_pct,
                "tokens_cut": self.over_excess.total,
                "excess": self.over_excess.to_dict(),
                "answer_lost": self.answer_lost,
                "examples": self.over_examples,
            },
        }
