"""The preference formats: pairs (TRL's, Argilla's, Intel's, LLaMA-Factory's), unpaired KTO examples, scored completions.

Every one reads into the one :class:`~curatune.curation.record.Record` (the prompt in
``messages``, each side one assistant answer in ``chosen`` / ``rejected``; see that module)
and writes back what it read, field for field: how a field was given (a string or a list of
turns, a role's spelling, a turn's other fields) rides in ``meta``.

- ``preference``: TRL's explicit-prompt form, ``prompt`` / ``chosen`` / ``rejected``, each a
  string or a list of ``{role, content}`` turns (the sides one assistant turn each).
- ``preference_implicit``: TRL's implicit-prompt form, ``chosen`` / ``rejected`` only, each the
  whole conversation (or text); the prompt is their shared start (:func:`split_implicit`).
- ``unpaired``: KTO's ``prompt`` / ``completion`` / ``label`` (true: desirable).
- ``argilla``: ``instruction`` / ``chosen_response`` / ``rejected_response`` (Argilla's sets,
  Axolotl's ``chatml.argilla``).
- ``intel``: ``system`` / ``question`` / ``chosen`` / ``rejected`` (Intel/orca_dpo_pairs,
  Axolotl's ``chatml.intel``).
- ``alpaca_pairs``: ``instruction`` / ``input`` / ``chosen`` / ``rejected`` (LLaMA-Factory's
  Alpaca-style preference data).
- ``sharegpt_pairs``: ``conversations`` / ``chosen`` / ``rejected``, the sides ``{from, value}``
  turns (LLaMA-Factory's ShareGPT-style preference data).
- ``scored``: a prompt and several scored completions (UltraFeedback's ``completions`` with
  ``overall_score``, or ``responses`` + ``scores``); one pair is made per row by the rule in
  :mod:`curatune.curation.pairs.build`.

Writing a record a format cannot hold is refused with :func:`~curatune.curation.formats.cannot_write`
(a chat record has no rejected answer; a pair is two KTO rows), never written with nulls.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

from .formats import (
    Alpaca,
    Format,
    RowProblem,
    ShareGPT,
    _extra,
    _need,
    _need_str,
    _turn_extra_meta,
    _with_turn_extra,
    add_formats,
    cannot_write,
    parse_messages,
)
from .pairs.build import SCORE_FIELDS, PairRule, as_score, pick_pair
from .record import Record

SIDES = ("chosen", "rejected")
_PAIR_FIX = (
    "a preference file needs a chosen and a rejected answer to each prompt: build pairs first (README, 'Preference data'), "
    "or write it as curatune, messages or alpaca"
)


def _need_pair(fmt: str, rec: Record) -> None:
    if rec.chosen is None or rec.rejected is None:
        lacks = "has no " + " and no ".join(repr(s) for s in SIDES if getattr(rec, s) is None) + " answer"
        fix = "write it as unpaired (KTO)" if rec.unpaired else _PAIR_FIX
        raise cannot_write(fmt, rec, lacks, fix)


def _simple_prompt(fmt: str, rec: Record, system: bool) -> tuple[str | None, str]:
    """``(system, user)`` of a prompt that is one user turn (after one system turn, where ``system``); refused otherwise."""
    roles = [m["role"] for m in rec.messages or ()]
    if roles != ["user"] and not (system and roles == ["system", "user"]):
        holds = "one question" + (" and a system prompt" if system else "")
        raise cannot_write(
            fmt,
            rec,
            f"its prompt is {len(roles)} turns ({', '.join(roles) or 'none'}), where {fmt} holds {holds}",
            "write it as preference (TRL's message lists) or curatune",
        )
    systems = rec.contents("system")
    return (systems[0] if systems else None), rec.contents("user")[0]


def _side_turn(value: Any, field: str, role_key: str = "role", content_key: str = "content", role: str = "assistant") -> tuple[str, dict]:
    """One side given as a list of turns: its answer, and how to write it back (the role's spelling, other fields)."""
    turn_extra: dict[int, dict] = {}
    messages, raw_roles = parse_messages(value, field, role_key, content_key, turn_extra)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        roles = ", ".join(m["role"] for m in messages)
        raise RowProblem("multi_turn_answer", f"'{field}' holds {len(messages)} turns ({roles}), not one assistant answer", field)
    form: dict[str, Any] = {}
    if raw_roles[0] != role:  # ``role``: how the format spells it, not worth remembering
        form["role"] = raw_roles[0]
    if turn_extra:
        form["extra"] = turn_extra[0]
    return messages[0]["content"], form


def _side_out(fmt: str, rec: Record, side: str, as_list: bool) -> Any:
    """One side as a string, or as a list of one assistant turn (with its role's spelling and fields when read from ``fmt``)."""
    text = getattr(rec, side)
    if not as_list:
        return text
    form = (rec.meta.get("side_turns") or {}).get(side) or {} if rec.meta.get("format") == fmt else {}
    return [{"role": form.get("role", "assistant"), "content": text, **form.get("extra", {})}]


def _prompt_turns(value: Any, field: str, meta: dict) -> list[dict[str, str]]:
    """A prompt given as a list of turns; role spellings and turn fields go to ``meta`` to be written back."""
    turn_extra: dict[int, dict] = {}
    messages, raw_roles = parse_messages(value, field, "role", "content", turn_extra)
    if raw_roles != [m["role"] for m in messages]:
        meta["raw_roles"] = raw_roles
    _turn_extra_meta(meta, turn_extra)
    return messages


def _prompt_out(fmt: str, rec: Record) -> list[dict]:
    turns = [dict(m) for m in rec.messages or ()]
    if rec.meta.get("format") != fmt:  # role spellings and turn fields of another format do not belong here
        return turns
    raw = rec.meta.get("raw_roles")
    if raw is not None and len(raw) == len(turns):
        turns = [{"role": r, "content": m["content"]} for r, m in zip(raw, turns)]
    return _with_turn_extra(rec, turns)


class Preference(Format):
    name = "preference"
    required = ("prompt", "chosen", "rejected")
    fields = ("prompt", "chosen", "rejected")
    description = "TRL preference pairs: prompt / chosen / rejected, strings or message lists (the sides one assistant turn)"
    preference = True

    def parse(self, row: dict, rid: str) -> Record:
        meta = self._meta(row)
        prompt = _need(row, "prompt")
        listed = []
        if isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}]
        else:
            messages = _prompt_turns(prompt, "prompt", meta)
            listed.append("prompt")
        sides: dict[str, str] = {}
        forms: dict[str, dict] = {}
        for side in SIDES:
            value = _need(row, side)
            if isinstance(value, str):
                sides[side] = value
                continue
            sides[side], form = _side_turn(value, side)
            listed.append(side)
            if form:
                forms[side] = form
        if listed:
            # Which fields were lists of turns (True: all three, TRL's conversational form), to write each back as it was.
            meta["conversational"] = True if len(listed) == 3 else listed
        if forms:
            meta["side_turns"] = forms
        return Record(rid, messages=messages, chosen=sides["chosen"], rejected=sides["rejected"], meta=meta)

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        conv = rec.meta.get("conversational")
        roles = [m["role"] for m in rec.messages or ()]
        if conv is None and roles != ["user"]:
            conv = True  # a prompt of several turns (or a system turn) is a list, and then so are the sides (TRL's rule)
        as_list = set(("prompt", *SIDES) if conv is True else conv or ())
        out: dict[str, Any] = {
            "prompt": _prompt_out(self.name, rec) if "prompt" in as_list else rec.prompt_text,
            "chosen": _side_out(self.name, rec, "chosen", "chosen" in as_list),
            "rejected": _side_out(self.name, rec, "rejected", "rejected" in as_list),
        }
        return self._with_extra(rec, out)


# Where the assistant's part of a text conversation starts ("\n\nHuman: ...\n\nAssistant: ..."): a marker line.
_ASSISTANT_MARK = re.compile(r"(?:^|\n)[ \t]*(?:assistant|gpt|bot)[ \t]*:", re.I)


def split_implicit(chosen: str, rejected: str) -> int:
    """Where the shared prompt of two texts ends: after the last assistant marker they share, else at a word boundary.

    TRL cuts at the first differing character, which splits words ("The cat" / "The car" -> "The ca");
    here the cut goes back to the last ``Assistant:`` marker inside the shared start, or else to the last
    whitespace in it, so each side starts at a word. Nothing is lost either way: a side is written back
    as prompt + side.
    """
    common = os.path.commonprefix([chosen, rejected])
    marks = list(_ASSISTANT_MARK.finditer(common))
    if marks:
        return marks[-1].end()
    cut = max(common.rfind(" "), common.rfind("\n"), common.rfind("\t"))
    return cut + 1 if cut >= 0 else 0


class ImplicitPreference(Format):
    name = "preference_implicit"
    required = ("chosen", "rejected")
    fields = ("chosen", "rejected")
    description = "TRL pairs with an implicit prompt: chosen / rejected whole conversations (or texts); the prompt is their shared start"
    preference = True

    def parse(self, row: dict, rid: str) -> Record:
        chosen, rejected = _need(row, "chosen"), _need(row, "rejected")
        meta = self._meta(row)
        if isinstance(chosen, str) and isinstance(rejected, str):
            cut = split_implicit(chosen, rejected)
            meta["implicit"] = "text"
            return Record(
                rid, messages=[{"role": "user", "content": chosen[:cut]}], chosen=chosen[cut:], rejected=rejected[cut:], meta=meta
            )
        if isinstance(chosen, str) or isinstance(rejected, str):
            raise RowProblem("wrong_type", "'chosen' and 'rejected' must both be strings or both lists of turns", "rejected")
        for side, value in (("chosen", chosen), ("rejected", rejected)):
            parse_messages(value, side, "role", "content")  # each turn checked, the problem named by its field
        # The prompt: the longest run of turns (whole turns, every field) both start with, short of the last turn of either.
        n = 0
        while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
            n += 1
        messages = _prompt_turns(chosen[:n], "chosen", meta) if n else []
        forms = {}
        sides = {}
        for side, value in (("chosen", chosen), ("rejected", rejected)):
            sides[side], form = _side_turn(value[n:], side)
            if form:
                forms[side] = form
        meta["implicit"] = "messages"
        if forms:
            meta["side_turns"] = forms
        return Record(rid, messages=messages, chosen=sides["chosen"], rejected=sides["rejected"], meta=meta)

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        # Texts only for a pair read as texts: a prompt joined to its answers as text would split back elsewhere.
        if rec.meta.get("implicit") == "text" and rec.meta.get("format") == self.name:
            prefix = rec.messages[0]["content"] if rec.messages else ""
            out: dict[str, Any] = {"chosen": prefix + (rec.chosen or ""), "rejected": prefix + (rec.rejected or "")}
        else:
            prompt = _prompt_out(self.name, rec)
            out = {side: [*prompt, *_side_out(self.name, rec, side, True)] for side in SIDES}
        return self._with_extra(rec, out)


def _label(row: dict) -> tuple[bool, str | None]:
    """KTO's label: a bool, or the text of one ("true"/"false", any case: CSV has no booleans); the text is kept."""
    value = _need(row, "label")
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true", value
    raise RowProblem("wrong_type", f"'label' must be true or false (desirable or not), got {value!r}", "label")


class Unpaired(Format):
    name = "unpaired"
    required = ("prompt", "completion", "label")
    fields = ("prompt", "completion", "label")
    description = "unpaired preference data (KTO): prompt / completion / label (true: desirable)"
    preference = True

    def parse(self, row: dict, rid: str) -> Record:
        meta = self._meta(row)
        prompt = _need(row, "prompt")
        listed = []
        if isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}]
        else:
            messages = _prompt_turns(prompt, "prompt", meta)
            listed.append("prompt")
        completion = _need(row, "completion")
        desirable, label_text = _label(row)
        side = "chosen" if desirable else "rejected"
        if not isinstance(completion, str):
            completion, form = _side_turn(completion, "completion")
            listed.append("completion")
            if form:
                meta["side_turns"] = {side: form}
        if listed:
            meta["conversational"] = True if len(listed) == 2 else listed
        if label_text is not None:
            meta["label_text"] = label_text
        return Record(rid, messages=messages, meta=meta, **{side: completion})

    def dump(self, rec: Record) -> dict:
        if not rec.unpaired:
            if rec.kind == "preference":
                lacks, fix = "is two KTO examples, not one", "write it as preference; TRL's unpair_preference_dataset splits pairs"
            else:
                lacks, fix = "has no desirable/undesirable label", "write it as curatune or a format of its kind (curatune formats)"
            raise cannot_write(self.name, rec, lacks, fix)
        side = "chosen" if rec.chosen is not None else "rejected"
        conv = rec.meta.get("conversational")
        if conv is None and [m["role"] for m in rec.messages or ()] != ["user"]:
            conv = True
        as_list = set(("prompt", "completion") if conv is True else conv or ())
        label: Any = rec.meta.get("label_text", side == "chosen")
        out: dict[str, Any] = {
            "prompt": _prompt_out(self.name, rec) if "prompt" in as_list else rec.prompt_text,
            "completion": _side_out(self.name, rec, side, "completion" in as_list),
            "label": label,
        }
        return self._with_extra(rec, out)


class NamedPairs(Format):
    """Pairs of strings under other field names: one question, an optional system prompt, two answers."""

    prompt_field: ClassVar[str]
    system_field: ClassVar[str | None] = None
    chosen_field: ClassVar[str] = "chosen"
    rejected_field: ClassVar[str] = "rejected"
    preference = True

    def parse(self, row: dict, rid: str) -> Record:
        messages = []
        system = _need_str(row, self.system_field, optional=True) if self.system_field else None
        meta = self._meta(row)
        if system:
            messages.append({"role": "system", "content": system})
        elif system is not None:
            meta["system_field"] = ""  # an empty system field (orca_dpo_pairs has many), written back as ""
        messages.append({"role": "user", "content": _need_str(row, self.prompt_field)})
        return Record(
            rid,
            messages=messages,
            chosen=_need_str(row, self.chosen_field),
            rejected=_need_str(row, self.rejected_field),
            meta=meta,
        )

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        system, user = _simple_prompt(self.name, rec, system=self.system_field is not None)
        out: dict[str, Any] = {}
        if self.system_field and (system is not None or rec.meta.get("system_field") == ""):
            out[self.system_field] = system or ""
        out[self.prompt_field] = user
        out[self.chosen_field] = rec.chosen
        out[self.rejected_field] = rec.rejected
        return self._with_extra(rec, out)


class Argilla(NamedPairs):
    name = "argilla"
    required = ("instruction", "chosen_response", "rejected_response")
    fields = required
    prompt_field, chosen_field, rejected_field = required
    description = "instruction / chosen_response / rejected_response (Argilla's sets; Axolotl's chatml.argilla)"


class Intel(NamedPairs):
    name = "intel"
    required = ("question", "chosen", "rejected")
    fields = ("system", "question", "chosen", "rejected")
    prompt_field, system_field = "question", "system"
    description = "system / question / chosen / rejected (Intel/orca_dpo_pairs; Axolotl's chatml.intel)"


class AlpacaPairs(Format):
    name = "alpaca_pairs"
    required = ("instruction", "chosen", "rejected")
    fields = ("instruction", "input", "chosen", "rejected")
    description = "instruction / input / chosen / rejected (LLaMA-Factory's Alpaca-style preference data)"
    preference = True
    _alpaca = Alpaca()  # the prompt is read and written exactly as Alpaca's instruction and input

    def parse(self, row: dict, rid: str) -> Record:
        prompt = {k: row[k] for k in ("instruction", "input") if k in row}
        base = self._alpaca.parse({**prompt, "output": ""}, rid)
        meta = self._meta(row)
        if "alpaca_split" in base.meta:
            meta["alpaca_split"] = base.meta["alpaca_split"]
        messages = (base.messages or [])[:1]
        return Record(rid, messages=messages, chosen=_need_str(row, "chosen"), rejected=_need_str(row, "rejected"), meta=meta)

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        _simple_prompt(self.name, rec, system=False)
        as_alpaca = Record(rec.id, messages=[*(rec.messages or ()), {"role": "assistant", "content": ""}], meta={**rec.meta, "extra": None})
        out = self._alpaca.dump(as_alpaca)
        del out["output"]
        out["chosen"], out["rejected"] = rec.chosen, rec.rejected
        return self._with_extra(rec, out)


class ShareGPTPairs(Format):
    name = "sharegpt_pairs"
    required = ("conversations", "chosen", "rejected")
    fields = ("conversations", "system", "chosen", "rejected")
    description = "conversations / chosen / rejected, the sides {from, value} turns (LLaMA-Factory's ShareGPT-style preference data)"
    preference = True
    _sharegpt = ShareGPT()  # the prompt is read and written exactly as a ShareGPT conversation

    def parse(self, row: dict, rid: str) -> Record:
        base = self._sharegpt.parse({k: row[k] for k in ("conversations", "system") if k in row}, rid)
        meta = {**base.meta, **self._meta(row)}
        forms = {}
        sides = {}
        for side in SIDES:
            value = _need(row, side)
            if not isinstance(value, dict):
                raise RowProblem("wrong_type", f"'{side}' must be one turn {{from, value}}, got {type(value).__name__}", side)
            sides[side], form = _side_turn([value], side, "from", "value", role="gpt")
            if form:
                forms[side] = form
        if forms:
            meta["side_turns"] = forms
        return Record(rid, messages=base.messages, chosen=sides["chosen"], rejected=sides["rejected"], meta=meta)

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        own = rec.meta.get("format") == self.name
        prompt = Record(
            rec.id, messages=rec.messages, meta={**rec.meta, "format": "sharegpt" if own else rec.meta.get("format"), "extra": None}
        )
        out = self._sharegpt.dump(prompt)
        forms = rec.meta.get("side_turns") or {}
        for side in SIDES:
            form = forms.get(side, {}) if own else {}
            out[side] = {"from": form.get("role", "gpt"), "value": getattr(rec, side), **form.get("extra", {})}
        return self._with_extra(rec, out)


# Keys a completion's text is found under, in this order.
_RESPONSE_KEYS = ("response", "text", "completion", "content", "output")


class Scored(Format):
    name = "scored"
    required = ("completions",)
    fields = ("prompt", "instruction", "completions", "responses", "scores")
    description = (
        "scored completions, one pair made per row (UltraFeedback): prompt or instruction / completions [{response, overall_score}], "
        "or prompt / responses / scores"
    )
    preference = True

    def __init__(self, rule: PairRule | None = None) -> None:
        super().__init__()
        self.rule = rule or PairRule()

    def configured(self, rule: Any) -> Format:
        return Scored(rule) if isinstance(rule, PairRule) and rule != self.rule else self

    def matches(self, row: dict) -> bool:
        if "completions" in row:
            return "prompt" in row or "instruction" in row
        return "responses" in row and "scores" in row and "prompt" in row

    def parse(self, row: dict, rid: str) -> Record:
        prompt_field = "prompt" if "prompt" in row else "instruction"
        prompt = _need_str(row, prompt_field)
        if "completions" in row:
            items = _need(row, "completions")
            if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
                raise RowProblem("wrong_type", "'completions' must be a list of objects", "completions")
            key = next((k for k in _RESPONSE_KEYS if any(k in c for c in items)), None)
            field = self._score_field(items)
            if key is None or field is None:
                raise RowProblem(
                    "missing_field", f"the completions have no text ({'/'.join(_RESPONSE_KEYS)}) or no score field", "completions"
                )
            texts = [c.get(key) for c in items]
            scores = [as_score(c.get(field)) for c in items]
            scored: dict[str, Any] = {"field": "completions", "key": key, "score_field": field, "items": items}
        else:
            texts, raw_scores = _need(row, "responses"), _need(row, "scores")
            if not isinstance(texts, list) or not isinstance(raw_scores, list) or len(texts) != len(raw_scores):
                raise RowProblem("wrong_type", "'responses' and 'scores' must be lists of the same length", "scores")
            scores = [as_score(s) for s in raw_scores]
            scored = {"field": "responses", "items": texts, "scores": raw_scores}
        used = frozenset(("id", prompt_field, scored["field"], *(("scores",) if scored["field"] == "responses" else ())))
        picked = pick_pair(scores, self.rule, rid)
        if picked is None:
            raise RowProblem("no_pair", f"scores {scores} give no pair under {self.rule.rule} with min_margin {self.rule.min_margin}")
        i, j = picked
        for k in picked:
            if not isinstance(texts[k], str):
                raise RowProblem("wrong_type", f"completion {k}'s text must be a string", scored["field"])
        meta: dict[str, Any] = {"format": self.name}
        extra = _extra(row, used)
        if extra:
            meta["extra"] = extra
        meta["scored"] = {**scored, "prompt_field": prompt_field, "chosen": i, "rejected": j}
        return Record(rid, messages=[{"role": "user", "content": prompt}], chosen=texts[i], rejected=texts[j], meta=meta)

    def _score_field(self, items: list[dict]) -> str | None:
        if self.rule.score_field != "auto":
            return self.rule.score_field
        return next((f for f in SCORE_FIELDS if any(f in c for c in items)), None)

    def dump(self, rec: Record) -> dict:
        _need_pair(self.name, rec)
        scored = rec.meta.get("scored")
        if not scored:
            raise cannot_write(
                self.name, rec, "has no scored completions (only records read from a scored file do)", "write it as preference instead"
            )
        items = list(scored["items"])
        out: dict[str, Any] = {scored["prompt_field"]: rec.prompt_text}
        for side in SIDES:
            k = scored[side]
            items[k] = getattr(rec, side) if scored["field"] == "responses" else {**items[k], scored["key"]: getattr(rec, side)}
        out[scored["field"]] = items
        if scored["field"] == "responses":
            out["scores"] = scored["scores"]
        return self._with_extra(rec, out)


# Ahead of ShareGPT and the chat formats, most specific first: each pair variant before TRL's implicit form
# (whose two fields every pair row has), Alpaca's pairs before Intel's (both have chosen/rejected), KTO's
# prompt/completion/label before prompt/completion.
add_formats(
    [Preference(), AlpacaPairs(), Argilla(), Intel(), ShareGPTPairs(), Scored(), Unpaired(), ImplicitPreference()],
    before="sharegpt",
    aliases={
        "dpo": "preference",
        "trl": "preference",
        "implicit_preference": "preference_implicit",
        "kto": "unpaired",
        "chosen_response": "argilla",
        "orca_pairs": "intel",
        "ultrafeedback": "scored",
    },
)
