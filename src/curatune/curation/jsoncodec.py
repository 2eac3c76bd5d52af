"""JSON in and out without changing a value: orjson, and the standard library where orjson would round a number.

orjson reads an integer outside 64 bits (``18446744073709551616``, a snowflake id, a hash as a
number) as a float, silently, and refuses to write one. Such a number is rare, and always data:
an id or a field the user will read back. So:

- :func:`loads` reads with orjson, and reads again with the standard library (which keeps every
  integer exact) when the result holds a float of 2^63 or more in size, the only floats a too-large
  integer becomes. Most rows hold no such float, and cost one walk over their non-text values.
- :func:`dumps` writes with orjson, and with the standard library when orjson refuses an integer.
- :func:`pack` and :func:`unpack` carry rows inside a run (the worker batches, the spool): a payload
  the standard library wrote starts with a marker byte, so reading it back costs nothing extra
  in the common case.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# A float this large (or larger) may be an integer that orjson rounded: -2^63 <= int64 and uint64 < 2^64.
_EXACT_LIMIT = 2.0**63
_MARKER = b"\x00"  # never the first byte of JSON


def _default(value: Any) -> Any:
    # Scores written by steps may be numpy scalars, tuples become lists anyway; anything else as text.
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def may_hold_big_int(value: Any) -> bool:
    """Whether a value orjson read may hold an integer it rounded (a float of 2^63 or more in size).

    Text is skipped at once; a list of turns (dicts of text) is looked through without a call per turn:
    this runs on every row read.
    """
    t = type(value)
    if t is float:
        return not -_EXACT_LIMIT < value < _EXACT_LIMIT
    if t is dict:
        values = value.values()
    elif t is list:
        values = value
    else:
        return False
    for v in values:
        tv = type(v)
        if tv is str or tv is int or tv is bool or v is None:
            continue
        if tv is dict:
            for w in v.values():
                if type(w) is not str and may_hold_big_int(w):
                    return True
        elif may_hold_big_int(v):
            return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def exact(data: bytes | str) -> Any:
    """``data`` read by the standard library: integers of any size exact (for text orjson has already found valid)."""
    return json.loads(data, parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """JSON text as Python values, every integer exact; raises ``orjson.JSONDecodeError`` on invalid JSON."""
    value = orjson.loads(data)
    if type(value) is not str and may_hold_big_int(value):
        return exact(data)
    return value


def dumps(value: Any, option: int = 0) -> bytes:
    """``value`` as JSON (orjson's options: ``OPT_APPEND_NEWLINE``, ``OPT_INDENT_2`` ...); integers of any size exact."""
    try:
        return orjson.dumps(value, default=_default, option=option | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as e:
        if "64-bit" not in str(e):
            raise
    text = json.dumps(
        value,
        default=_default,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ": ") if option & orjson.OPT_INDENT_2 else (",", ":"),
        indent=2 if option & orjson.OPT_INDENT_2 else None,
    )
    out = text.encode("utf-8", "surrogatepass")
    return out + b"\n" if option & orjson.OPT_APPEND_NEWLINE else out


def pack(value: Any) -> bytes:
    """``value`` for :func:`unpack` in this run (not a file format: the rare exact payload is marked)."""
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as e:
        if "64-bit" not in str(e):
            raise
    return _MARKER + dumps(value)


def unpack(payload: bytes) -> Any:
    if payload[:1] == _MARKER:
        return exact(payload[1:])
    return orjson.loads(payload)
