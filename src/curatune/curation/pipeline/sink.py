"""Where a run's records and decisions go: the :class:`Sink` protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..ledger import Event
from ..read.records import Reject
from ..record import Record


class Sink(Protocol):
    """What the pipeline writes to: every event, then each record once, kept or dropped.

    ``keep``, ``drop`` and ``event`` are required. Writing kept records encoded ahead of time is an
    ability a sink may have: a sink without it inherits :meth:`kept_encoder` (None) by subclassing
    this protocol, or defines it to return None.
    """

    def keep(self, rec: Record) -> None: ...

    def drop(self, item: Record | Reject, event: Event) -> None: ...

    def event(self, event: Event) -> None: ...

    def kept_encoder(self) -> Callable[[Record], bytes] | None:
        """The function that makes the exact bytes ``keep`` writes for a record, when they can be made ahead of
        time (one fixed line format); None when they cannot.

        With it, the pipeline spools the records of its last pass already encoded, and writes each kept one
        with :meth:`keep_encoded` without decoding it again (a dropped or flagged one is decoded and goes
        through ``drop`` or ``keep``).
        """
        return None

    def keep_encoded(self, line: bytes, rec_id: str, source: str | None, line_no: int | None) -> None:
        """``keep`` for a record already encoded by ``kept_encoder()``'s function; called only when it gave one."""
        # A body mypy reads as an implementation, not an abstract stub: sinks without the ability need not define it.
        message = f"{type(self).__name__}.kept_encoder() gave an encoder, so the sink must define keep_encoded"
        raise NotImplementedError(message)
