"""Format adapters: one small class per dataset format, row dict <-> Record.

A format is recognised by its fields (see ``Format.required``) and can be
forced by name. ``parse`` raises :class:`RowProblem` for a row that cannot
become a record; the reader turns that into a ledger entry, never a crash.
``dump`` writes a record back in the format, so that reading a written file
gives the same records (fields curatune does not use ride along in
``meta["extra"]``).

To add a format: subclass ``Format``, set ``name`` and ``required``, implement
``parse`` and ``dump``, and add it to ``FORMATS``; the round-trip test picks
it up.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, overload

from ..errors import RecipeError
from .record import Record

# Reason codes for rows that cannot become records. Each has a fix the message points at.
PARSE_REASONS = {
    "invalid_utf8": "the bytes of this line are not UTF-8; re-encode the file as UTF-8",
    "bad_json": "this line is not valid JSON; fix or remove the line",
    "not_an_object": "each row must be a JSON object ({...}); wrap the value in an object",
    "unknown_format": "the row's fields match no known format; pass --format or rename the fields",
    "missing_field": "a field the format needs is absent or null; add it",
    "wrong_type": "a field has the wrong type; make it the type named",
    "empty_messages": "the conversation has no turns; remove the row or add turns",
    "unknown_role": "a turn has a role curatune does not know; use system/user/assistant/tool",
    "bad_row": "the CSV/TSV row has another number of columns than the header; quote cells that hold the delimiter",
    "multi_turn_answer": (
        "a chosen/rejected side must be one assistant answer; keep the last assistant turn in the side and move the turns "
        "before it into the prompt"
    ),
    "no_pair": (
        "no completion is scored far enough below the best to make a pair (ties are skipped); lower data.pairs.min_margin "
        "(--min-margin), or leave the row out"
    ),
    "too_long": "the record is longer than the recipe allows; raise data.max_record_bytes, or split the record (only its start is kept)",
}


class RowProblem(Exception):
    """A row that cannot become a record: a reason code, the field at fault, and a message."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        assert reason in PARSE_REASONS, reason
        self.reason = reason
        self.field = field
        self.message = message
        super().__init__(message)

    @property
    def detail(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"{where}{self.message}. Fix: {PARSE_REASONS[self.reason]}"


# ---- shared checks -----------------------------------------------------------


def _need(row: dict, key: str) -> Any:
    value = row.get(key)
    if value is None:
        raise RowProblem("missing_field", f"'{key}' is missing", key)
    return value


@overload
def _need_str(row: dict, key: str, *, optional: Literal[False] = False) -> str: ...
@overload
def _need_str(row: dict, key: str, *, optional: Literal[True]) -> str | None: ...
def _need_str(row: dict, key: str, *, optional: bool = False) -> str | None:
    value = row.get(key)
    if type(value) is str:  # the common case, checked first: this runs several times per record
        return value
    if value is None:
        if optional:
            return None
        raise RowProblem("missing_field", f"'{key}' is missing", key)
    if not isinstance(value, str):
        raise RowProblem("wrong_type", f"'{key}' must be a string, got {type(value).__name__}", key)
    return value


def _extra(row: dict, used: frozenset[str]) -> dict:
    if row.keys() <= used:  # most rows have no extra field: skip building a dict
        return {}
    return {k: v for k, v in row.items() if k not in used}


ROLE_ALIASES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}


def parse_messages(
    value: Any, field: str, role_key: str, content_key: str, turn_extra: dict[int, dict] | None = None
) -> tuple[list[dict], list[str]]:
    """Validate a list of turns; return ``(messages, original role names)``.

    Fields of a turn other than role and content (``name``, ``weight``, ...) go into ``turn_extra``
    (turn index -> fields) when a dict is given, so that a writer can put them back.
    """
    if not isinstance(value, list):
        raise RowProblem("wrong_type", f"'{field}' must be a list of turns, got {type(value).__name__}", field)
    if not value:
        raise RowProblem("empty_messages", f"'{field}' is an empty list", field)
    messages, raw_roles = [], []
    for i, turn in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(turn, dict):
            raise RowProblem("wrong_type", f"'{where}' must be an object, got {type(turn).__name__}", where)
        raw_role = turn.get(role_key)
        if raw_role is None:
            raise RowProblem("missing_field", f"'{where}.{role_key}' is missing", f"{where}.{role_key}")
        role = ROLE_ALIASES.get(str(raw_role).lower()) if isinstance(raw_role, str) else None
        if role is None:
            raise RowProblem("unknown_role", f"'{where}.{role_key}' is {raw_role!r}", f"{where}.{role_key}")
        content = turn.get(content_key)
        if content is None:
            raise RowProblem("missing_field", f"'{where}.{content_key}' is missing", f"{where}.{content_key}")
        if not isinstance(content, str):
            raise RowProblem(
                "wrong_type",
                f"'{where}.{content_key}' must be a string, got {type(content).__name__}",
                f"{where}.{content_key}",
            )
        messages.append({"role": role, "content": content})
        raw_roles.append(raw_role)
        if turn_extra is not None and len(turn) > 2:
            # None is skipped: columnar files give every turn every field that any turn had.
            more = {k: v for k, v in turn.items() if k != role_key and k != content_key and v is not None}
            if more:
                turn_extra[i] = more
    return messages, raw_roles


def _turn_extra_meta(meta: dict, turn_extra: dict[int, dict]) -> None:
    if turn_extra:
        # JSON object keys are strings: store the turn index as one so the meta round-trips through JSON.
        meta["turn_extra"] = {str(i): v for i, v in turn_extra.items()}


def _with_turn_extra(rec: Record, turns: list[dict]) -> list[dict]:
    extra = rec.meta.get("turn_extra")
    if not extra:
        return turns
    out = []
    for i, t in enumerate(turns):
        more = extra.get(str(i))
        out.append({**t, **more} if more else t)
    return out


# ---- the formats ---------------------------------------------------------------


def _describe(rec: Record) -> str:
    """What kind of record this is, in words, for a message."""
    if rec.kind == "preference":
        if rec.unpaired:
            return "an unpaired preference example (KTO, " + ("desirable)" if rec.chosen is not None else "undesirable)")
        return "a preference pair"
    return {"chat": "an instruction/chat record", "labelled": "a labelled record", "text": "a plain-text record"}[rec.kind]


def cannot_write(fmt: str, rec: Record, lacks: str, fix: str) -> RecipeError:
    """The error for a record that ``fmt`` cannot hold without inventing or nulling a field."""
    source, line = rec.meta.get("source"), rec.meta.get("line")
    where = f"{source} line {line} (id {rec.id!r})" if source is not None else f"record {rec.id!r}"
    return RecipeError([f"Cannot write {where} as {fmt}: it is {_describe(rec)} and {lacks}. Fix: {fix}"])


def conversation(rec: Record) -> list[dict[str, str]] | None:
    """The conversation a chat format writes for any record, or None when it has no answer to learn.

    A chat record is its messages; a preference pair (or a desirable KTO example) is its prompt and
    its chosen answer (supervised fine-tuning on the chosen side; the rejected answer is not written);
    a labelled record is its text and its label as the answer; plain text is one user turn.
    An undesirable KTO example has nothing to learn: None.
    """
    if rec.messages is not None and rec.chosen is None and rec.rejected is None:
        return rec.messages
    if rec.chosen is not None:
        return [*(rec.messages or ()), {"role": "assistant", "content": rec.chosen}]
    if rec.rejected is not None:
        return None
    messages = [{"role": "user", "content": rec.prompt_text or rec.text or ""}]
    if rec.label is not None:
        messages.append({"role": "assistant", "content": rec.label})
    return messages


class Format:
    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    # fields this format reads; everything else in a row goes to meta["extra"]
    fields: ClassVar[tuple[str, ...]]
    description: ClassVar[str]
    # A preference format (pairs or unpaired examples): the default curation recipe for its data is the preference one.
    preference: ClassVar[bool] = False

    def __init__(self) -> None:
        self._required = frozenset(self.required)
        self._used = frozenset(self.fields + ("id",))

    def matches(self, row: dict) -> bool:
        return self._required <= row.keys()

    def parse(self, row: dict, rid: str) -> Record:
        raise NotImplementedError

    def dump(self, rec: Record) -> dict:
        raise NotImplementedError

    def configured(self, rule: Any) -> Format:
        """This format with the pair-building rule of ``data.pairs`` (only scored completions use one)."""
        return self

    def _as_chat(self, rec: Record, need_answer: bool) -> Record:
        """``rec`` as a chat record (see :func:`conversation`); refused when it has no answer and one is needed."""
        if rec.kind == "chat" and (not need_answer or rec.contents("assistant")):
            return rec
        messages = conversation(rec)
        if messages is None or (need_answer and not any(m["role"] == "assistant" for m in messages)):
            lacks = "has no answer to learn" if rec.rejected is not None else "has no assistant answer"
            raise cannot_write(
                self.name, rec, lacks, "write it as curatune (lossless), or as a format without answers (text); drop such records first"
            )
        return Record(rec.id, messages=messages, meta=rec.meta)

    def _meta(self, row: dict) -> dict:
        extra = _extra(row, self._used)
        meta: dict[str, Any] = {"format": self.name}
        if extra:
            meta["extra"] = extra
        return meta

    @staticmethod
    def _with_extra(rec: Record, out: dict) -> dict:
        extra = rec.meta.get("extra")
        if extra:
            out.update(extra)
        return out


class Native(Format):
    name = "curatune"
    required = ("id", "meta")
    fields = ("id", "messages", "text", "label", "chosen", "rejected", "meta")
    description = "curatune's own lossless record JSONL (a run folder's kept.jsonl)"

    def matches(self, row: dict) -> bool:
        meta = row.get("meta")
        is_meta = isinstance(meta, dict) or (isinstance(meta, str) and meta.startswith("{"))
        return "id" in row and is_meta and any(k in row for k in ("messages", "text", "chosen"))

    def parse(self, row: dict, rid: str) -> Record:
        meta = row.get("meta")
        flat = isinstance(meta, str)
        if isinstance(meta, str):  # Parquet, CSV and datasets folders store meta as JSON text
            from .jsoncodec import loads

            try:
                meta = loads(meta)
            except ValueError:  # orjson.JSONDecodeError is a ValueError
                raise RowProblem("wrong_type", "'meta' must be an object (JSON text of one)", "meta") from None
        if not isinstance(meta, dict):
            raise RowProblem("wrong_type", "'meta' must be an object", "meta")
        values = {}
        for key in ("messages", "text", "label", "chosen", "rejected"):
            value = row.get(key)
            # CSV has no null, and columnar files give every row every column: an empty cell of a
            # field this kind of record does not use is "absent", not an empty text. (JSON writes no
            # absent field, so there an empty string is an empty text.)
            if flat and value == "" and key != "text":
                value = None
            values[key] = value
        if flat and (row.get("chosen") == "") != (row.get("rejected") == "") and meta.get("format") != "unpaired":
            # One side empty, the other not: a pair with an empty answer, not an unpaired example.
            for key in ("chosen", "rejected"):
                values[key] = row.get(key) if values[key] is None and row.get(key) == "" else values[key]
        if flat and values["text"] == "" and (values["messages"] is not None or values["chosen"] is not None):
            values["text"] = None
        rec = Record(rid, meta=meta, **values)
        if rec.messages is not None:
            rec.messages, _ = parse_messages(rec.messages, "messages", "role", "content")
        for key in ("text", "chosen", "rejected", "label"):
            if getattr(rec, key) is not None and not isinstance(getattr(rec, key), str):
                raise RowProblem("wrong_type", f"'{key}' must be a string", key)
        return rec

    def dump(self, rec: Record) -> dict:
        return rec.to_dict()


class Alpaca(Format):
    name = "alpaca"
    required = ("instruction", "output")
    fields = ("instruction", "input", "output")
    description = "instruction / input / output (Stanford Alpaca, Dolly in AlpaGasus form)"

    def parse(self, row: dict, rid: str) -> Record:
        # The hot path of reading instruction data: checks inlined, the slow helpers only for bad rows.
        instruction, inp, output = row.get("instruction"), row.get("input"), row.get("output")
        if type(instruction) is not str:
            instruction = _need_str(row, "instruction")
        if inp is not None and type(inp) is not str:
            inp = _need_str(row, "input")
        if type(output) is not str:
            output = _need_str(row, "output")
        meta: dict[str, Any] = {"format": "alpaca"}
        if not row.keys() <= self._used:
            meta["extra"] = _extra(row, self._used)
        if inp:
            user = f"{instruction}\n\n{inp}"
            # Where to split the user turn when writing back: after this many "\n\n" (which survives a step's edits).
            meta["alpaca_split"] = instruction.count("\n\n")
            if instruction.endswith("\n") or inp.startswith("\n"):
                # Newlines next to the joint make the count ambiguous ("a\n" + "\n\n" + "b"): where it is, exactly.
                meta["alpaca_split_at"] = len(instruction)
        else:
            user = instruction
            if inp is not None:
                meta["alpaca_split"] = -1  # an empty input field, written back as ""
        return Record(rid, messages=[{"role": "user", "content": user}, {"role": "assistant", "content": output}], meta=meta)

    def dump(self, rec: Record) -> dict:
        rec = self._as_chat(rec, need_answer=True)
        user = "\n\n".join(rec.contents("system") + rec.contents("user"))
        instruction, inp = alpaca_fields(user, rec.meta)
        out: dict[str, Any] = {"instruction": instruction}
        if inp is not None:
            out["input"] = inp
        out["output"] = "\n".join(rec.contents("assistant"))
        return self._with_extra(rec, out)


def alpaca_fields(user: str, meta: dict[str, Any]) -> tuple[str, str | None]:
    """An Alpaca record's user turn split back into ``(instruction, input)``; input None when the row had no input field.

    ``meta["alpaca_split"]``: the instruction holds that many "\n\n" (-1: an empty input);
    ``meta["alpaca_split_at"]``: where the joint is, when newlines beside it make the count ambiguous.
    """
    split = meta.get("alpaca_split")
    if split is None:
        return user, None
    at = meta.get("alpaca_split_at")
    if at is not None and user[at : at + 2] == "\n\n" and user[:at].count("\n\n") == split:
        return user[:at], user[at + 2 :]
    if split >= 0:
        parts = user.split("\n\n")
        if len(parts) > split + 1:
            return "\n\n".join(parts[: split + 1]), "\n\n".join(parts[split + 1 :])
    return user, ""


class ShareGPT(Format):
    name = "sharegpt"
    required = ("conversations",)
    fields = ("conversations", "system")
    description = "conversations: [{from: human|gpt|system, value}] (ShareGPT, Vicuna)"

    _back = {"user": "human", "assistant": "gpt", "system": "system", "tool": "tool"}

    def parse(self, row: dict, rid: str) -> Record:
        turn_extra: dict[int, dict] = {}
        messages, raw_roles = parse_messages(_need(row, "conversations"), "conversations", "from", "value", turn_extra)
        meta = self._meta(row)
        system = _need_str(row, "system", optional=True)
        if system:
            messages.insert(0, {"role": "system", "content": system})
            meta["sharegpt_system_field"] = True
        elif system is not None:
            meta["sharegpt_system_field"] = ""  # an empty system field, written back as ""
        if raw_roles != [self._back[m["role"]] for m in messages[1 if system else 0 :]]:
            meta["raw_roles"] = raw_roles
        _turn_extra_meta(meta, turn_extra)
        return Record(rid, messages=messages, meta=meta)

    def dump(self, rec: Record) -> dict:
        if rec.kind != "chat":
            rec = self._as_chat(rec, need_answer=False)
        messages = rec.messages or []
        out: dict[str, Any] = {}
        system_field = rec.meta.get("sharegpt_system_field")
        if system_field and messages and messages[0]["role"] == "system":
            out["system"] = messages[0]["content"]
            messages = messages[1:]
        elif system_field == "":
            out["system"] = ""
        raw = rec.meta.get("raw_roles") if rec.meta.get("format") == "sharegpt" else None
        if raw is None or len(raw) != len(messages):
            raw = [self._back[m["role"]] for m in messages]
        turns = [{"from": r, "value": m["content"]} for r, m in zip(raw, messages)]
        out["conversations"] = _with_turn_extra(rec, turns) if rec.meta.get("format") == "sharegpt" else turns
        return self._with_extra(rec, out)


class OpenAIChat(Format):
    name = "messages"
    required = ("messages",)
    fields = ("messages",)
    description = "OpenAI chat: messages: [{role, content}]"

    def parse(self, row: dict, rid: str) -> Record:
        turn_extra: dict[int, dict] = {}
        messages, raw_roles = parse_messages(_need(row, "messages"), "messages", "role", "content", turn_extra)
        meta = self._meta(row)
        if raw_roles != [m["role"] for m in messages]:
            meta["raw_roles"] = raw_roles
        _turn_extra_meta(meta, turn_extra)
        return Record(rid, messages=messages, meta=meta)

    def dump(self, rec: Record) -> dict:
        messages = rec.messages
        if rec.kind != "chat":  # a pair as its prompt and chosen answer, a labelled text with its label as the answer
            messages = self._as_chat(rec, need_answer=False).messages
        assert messages is not None, "a chat record has messages"
        meta = rec.meta
        if meta.get("format") == "messages":
            # Role spellings and turn fields of another format (ShareGPT's "human") do not belong here.
            raw = meta.get("raw_roles")
            if raw is not None and len(raw) == len(messages):
                messages = [{"role": r, "content": m["content"]} for r, m in zip(raw, messages)]
            if meta.get("turn_extra"):
                messages = _with_turn_extra(rec, messages)
        # orjson serialises the turns as they are: no copy needed (this is the hot path of export).
        out = {"messages": messages}
        extra = meta.get("extra")
        if extra:
            out.update(extra)
        return out


class PromptCompletion(Format):
    name = "prompt_completion"
    required = ("prompt", "completion")
    fields = ("prompt", "completion")
    description = "prompt / completion pairs"

    def parse(self, row: dict, rid: str) -> Record:
        prompt, completion = _need_str(row, "prompt"), _need_str(row, "completion")
        return Record(
            rid,
            messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}],
            meta=self._meta(row),
        )

    def dump(self, rec: Record) -> dict:
        rec = self._as_chat(rec, need_answer=True)
        out = {"prompt": "\n\n".join(rec.contents("system") + rec.contents("user")), "completion": "\n".join(rec.contents("assistant"))}
        return self._with_extra(rec, out)


class Labelled(Format):
    name = "labelled"
    required = ("text", "label")
    fields = ("text", "label")
    description = "labelled text for classification: text / label"

    def parse(self, row: dict, rid: str) -> Record:
        text = _need_str(row, "text")
        label = _need(row, "label")
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise RowProblem("wrong_type", f"'label' must be a string or an integer, got {type(label).__name__}", "label")
        meta = self._meta(row)
        if isinstance(label, int):
            meta["label_int"] = True
        return Record(rid, text=text, label=str(label), meta=meta)

    def dump(self, rec: Record) -> dict:
        if rec.label is None:
            raise cannot_write(
                self.name, rec, "has no label", "write it as curatune, messages or another format of its kind (curatune formats)"
            )
        label: Any = rec.label
        if rec.meta.get("label_int") and label is not None and label.lstrip("-").isdigit():
            label = int(label)
        return self._with_extra(rec, {"text": rec.text if rec.text is not None else rec.prompt_text, "label": label})


class PlainText(Format):
    name = "text"
    required = ("text",)
    fields = ("text",)
    description = "plain text for language modelling: text"

    def parse(self, row: dict, rid: str) -> Record:
        return Record(rid, text=_need_str(row, "text"), meta=self._meta(row))

    def dump(self, rec: Record) -> dict:
        return self._with_extra(rec, {"text": rec.text if rec.text is not None else rec.all_text})


# Detection order matters where fields overlap: the more specific format first. The preference formats
# (curation/preference_formats.py) are added ahead of ShareGPT by add_formats when the package is imported.
FORMATS: dict[str, Format] = {
    f.name: f for f in (Native(), ShareGPT(), OpenAIChat(), Alpaca(), PromptCompletion(), Labelled(), PlainText())
}
FORMAT_ALIASES = {"openai": "messages", "chat": "messages", "native": "curatune", "classification": "labelled"}


def add_formats(formats: list[Format], before: str, aliases: dict[str, str] | None = None) -> None:
    """Put ``formats`` into ``FORMATS`` just ahead of format ``before`` (detection tries them in this order)."""
    items = list(FORMATS.items())
    at = [name for name, _ in items].index(before)
    FORMATS.clear()
    FORMATS.update(items[:at] + [(f.name, f) for f in formats] + items[at:])
    FORMAT_ALIASES.update(aliases or {})


def get_format(name: str) -> Format:
    key = FORMAT_ALIASES.get(name, name)
    if key not in FORMATS:
        from ..errors import RecipeError

        raise RecipeError([f"Unknown format {name!r}. Known formats: {', '.join(FORMATS)} (or 'auto' to detect)."])
    return FORMATS[key]


def detect_format(rows: list[dict]) -> Format | None:
    """The format that most sample rows match; ties go to the earlier, more specific format."""
    best, best_count = None, 0
    for fmt in FORMATS.values():
        count = sum(1 for r in rows if fmt.matches(r))
        if count > best_count:
            best, best_count = fmt, count
    return best
