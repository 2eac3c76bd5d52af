"""The step contract: Filter, Mapper, Scorer and GlobalStep, and the verdicts they return.

A step is a small class with one job, in the style of datatrove's filters and
scikit-learn's estimators:

- ``__init__`` stores its parameters unchanged under the same names, so a step
  can be written back to YAML (``get_params``); the signature's annotations
  are the schema the recipe loader validates against.
- ``reasons`` declares every reason code the step may return; returning any
  other is a bug the contract test catches.
- The step never prints, counts or writes the ledger: the pipeline does.
- A step that cannot run with pure defaults (it needs a model or an eval set
  given by path) sets ``contract_params``: the parameters the contract
  (:func:`curatune.testing.check_step`) builds it with, e.g. a tiny fixture file
  shipped in the package. Every other step builds with ``cls()``.

Kinds:

- :class:`Filter`: ``keep(rec) -> Verdict`` (``KEEP`` or ``Drop(...)``); a
  recipe may turn its drops into flags with ``on_fail: flag``.
- :class:`Mapper`: ``apply(rec) -> Edit | None``; rewrites a record, the ledger
  keeps what changed.
- :class:`Scorer`: ``score(rec) -> float | dict``; written to ``meta["scores"]``.
- :class:`GlobalStep`: sees every record before deciding any (dedup,
  selection). ``prepare`` runs in worker processes and returns compact state
  (a MinHash signature, not the document); ``observe`` collects it in the main
  process; ``finish`` decides; ``decide`` returns each record's verdict on a
  second pass over the spooled records. Memory is what ``observe`` keeps.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .record import Record


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # keep | drop | flag
    reason: str | None = None
    value: Any = None
    threshold: Any = None
    duplicate_of: str | None = None
    detail: str | None = None

    @property
    def kept(self) -> bool:
        return self.action != "drop"


KEEP = Verdict("keep")


def Drop(reason: str, value: Any = None, threshold: Any = None, *, duplicate_of: str | None = None, detail: str | None = None) -> Verdict:
    """A filter's verdict that the record goes, with the measured value and the threshold it failed."""
    return Verdict("drop", reason, value, threshold, duplicate_of, detail)


def Flag(reason: str, value: Any = None, threshold: Any = None, *, duplicate_of: str | None = None, detail: str | None = None) -> Verdict:
    """A verdict that keeps the record but records a concern in the ledger and in ``meta["flags"]``."""
    return Verdict("flag", reason, value, threshold, duplicate_of, detail)


@dataclass(slots=True)
class Edit:
    """A mapper's result: the new record, why, and (optionally) what changed.

    When ``detail`` is None the pipeline writes which fields changed and by how much.
    """

    record: Record
    reason: str
    detail: str | None = None


class Step:
    name: ClassVar[str] = ""  # set by @register
    kind: ClassVar[str] = "step"
    reasons: ClassVar[tuple[str, ...]] = ()
    # Parameters for the contract test when the defaults cannot build a working step (see the module doc).
    contract_params: ClassVar[dict[str, Any]] = {}

    def setup(self) -> None:
        """Load models or tables; called once per process before the first record."""

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters, read back from the attributes of the same name."""
        return {p: getattr(self, p) for p in init_params(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Filter(Step):
    kind = "filter"

    def keep(self, rec: Record) -> Verdict:
        raise NotImplementedError


class Mapper(Step):
    kind = "mapper"

    def apply(self, rec: Record) -> Edit | None:
        raise NotImplementedError


class Scorer(Step):
    kind = "scorer"

    def score(self, rec: Record) -> float | dict[str, float]:
        raise NotImplementedError


class GlobalStep(Step):
    kind = "global"
    # True when ``decide`` reads nothing of a record but its ``id`` (verdicts kept by id since ``finish``):
    # the pipeline may then decide on a record it has not decoded.
    decides_by_id: bool = False

    def prepare(self, rec: Record) -> Any:
        """Compact per-record state, computed in a worker process (default: nothing)."""
        return None

    def prepare_batch(self, recs: list[Record]) -> list[Any]:
        """``prepare`` of each record of a batch; a step whose work vectorises over records overrides this."""
        return [self.prepare(r) for r in recs]

    def observe(self, rec: Record, prepared: Any) -> None:
        raise NotImplementedError

    def decides_on_observe(self) -> bool:
        """True when ``decide(rec)`` is final as soon as ``rec`` was observed: no later record can change it.

        The pipeline then asks for the verdict right away, and the next global step (when no streaming
        step lies between) observes the survivors in the same pass instead of a pass of its own.
        """
        return False

    def finish(self) -> None:
        """Called once after every record was observed."""

    def decide(self, rec: Record) -> Verdict:
        raise NotImplementedError

    def write_artifacts(self, out_dir: Path) -> list[str]:
        """Write anything worth keeping (clusters, reports) to the run folder; return file names."""
        return []

    # ---- on a cluster (issue 19): a step that sets ``finishes_on_cluster`` implements the two methods below ----

    # True when the step's finish can run on a cluster (:class:`Cluster`), its state left where it was prepared.
    finishes_on_cluster: ClassVar[bool] = False

    def state_columns(self, recs: list[Record], prepared: list[Any]) -> dict[str, Any]:
        """The state ``observe`` would keep of each record, as columns (numpy arrays, one row a record): made where
        ``prepare_batch`` ran, and kept there."""
        raise NotImplementedError

    def finish_on(self, cluster: Cluster) -> Any:
        """``finish`` over the state on ``cluster`` instead of what ``observe`` collected: afterwards ``decide`` answers
        as it would have locally. Returns the positions (``cluster``'s ``pos`` column) of the records it drops."""
        raise NotImplementedError


class Cluster(Protocol):
    """A pass's per-record state where it was made (the blocks of a cluster's object store), and the work on it.

    Each block holds, per surviving record of the pass, its ``pos`` (its position in the pass's input: the order in
    which the local executor would have observed it), its ``id``, and the step's ``state_columns``. Records an earlier
    step of the chain dropped are left out, as they were never observed locally.
    """

    def shuffle(self, map_fn: Any, reduce_fn: Any, *args: Any) -> Iterator[Any]:
        """``map_fn(columns, parts, *args)`` on each block gives ``parts`` payloads; ``reduce_fn(payloads, *args)`` on
        each part's payloads from every block; the results of the reduces, here, in part order, one at a time."""
        ...

    def rows(self, column: str) -> Any:
        """``column`` indexed by an array of positions (``m[pos]``): those rows read from the blocks that hold them (or
        from what ``load`` read)."""
        ...

    def load(self, positions: Any, columns: tuple[str, ...]) -> None:
        """Read these rows of these columns from the blocks in one go, for the ``rows`` asked next (replacing the rows
        loaded before: memory is one load's rows)."""
        ...


def init_params(cls: type[Step]) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [p for p, v in sig.parameters.items() if p != "self" and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
