"""Several processes, one training: which process this is, and the three collective steps the stages need.

Under ``accelerate launch`` or ``torchrun`` every process runs the same command. The launcher tells each
its place in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); :func:`launch` reads it, and a
plain ``curatune train`` is rank 0 of 1, where every function here does nothing more than call through.

What the stages do with it:

- rank 0 alone writes: the run folder, its keys and ledger-derived files, MLflow, the evaluation
  (:func:`from_main` runs a piece of work on rank 0 and hands its result, or its failure, to every rank);
- every rank reads and tokenises the same files the same way (deterministic, seeded), so nothing else is sent;
- every rank trains: the work there is transformers' and Accelerate's (DDP, FSDP, DeepSpeed), not curatune's.

The run folder's lock (:func:`curatune.staging.locked`) is rank 0's: the others take none, since they
only read what rank 0 wrote before it let them go on. The process group is Accelerate's
(:class:`accelerate.PartialState`: gloo on CPUs, NCCL on GPUs, DeepSpeed's when it is launched with it),
started here at the first collective step and reused by the Trainer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from .errors import CuratuneError

T = TypeVar("T")


@dataclass(frozen=True)
class Launch:
    """This process's place in a launch: rank ``rank`` of ``world_size`` (``local_rank`` on its machine)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launch() -> Launch:
    """This process's place, from the launcher's environment (torchrun and ``accelerate launch`` both set it)."""
    try:
        return Launch(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as e:
        raise CuratuneError(
            f"RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (got {os.environ.get('RANK')!r}, {os.environ.get('WORLD_SIZE')!r}, "
            f"{os.environ.get('LOCAL_RANK')!r}). They are the launcher's: unset them to run in one process."
        ) from e


def is_main() -> bool:
    return launch().is_main


def start_group() -> None:
    """The process group of a launch with several processes, started once (Accelerate's, which the Trainer then uses)."""
    if not launch().distributed:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        from accelerate import PartialState  # type: ignore[import-untyped]

        PartialState()


class RankFailed(CuratuneError):
    """Rank 0 failed in work the others waited for; they stop with its message and exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def share(value: T) -> T:
    """Rank 0's ``value`` on every rank (every rank must call it; the others' values are ignored). Unchanged in one process."""
    if not launch().distributed:
        return value
    start_group()
    import torch.distributed as dist

    box: list[object] = [value]
    dist.broadcast_object_list(box, src=0)
    return cast(T, box[0])


def from_main(work: Callable[[], T]) -> T:
    """``work()`` run by rank 0 alone, its result handed to every rank (it must pickle).

    The others wait for it; when it fails, rank 0 raises its own error and the others a :class:`RankFailed`
    with the same message and exit code, so that no process waits for one that has stopped.
    """
    me = launch()
    if not me.distributed:
        return work()
    outcome: tuple = ()
    failure: BaseException | None = None
    if me.is_main:
        try:
            outcome = ("ok", work())
        except BaseException as e:  # noqa: BLE001 (every failure, Ctrl-C included, must reach the others)
            failure = e
            outcome = failed(e)
    outcome = share(outcome)
    if outcome[0] == "failed":
        if failure is not None:
            raise failure
        raise_failed(outcome)
    return cast(T, outcome[1])


def failed(e: BaseException) -> tuple[str, str, int]:
    """What the other ranks are told of rank 0's failure ``e``: its message and exit code (:func:`raise_failed` raises it)."""
    return ("failed", str(e) or type(e).__name__, getattr(e, "exit_code", 130 if isinstance(e, KeyboardInterrupt) else 1))


def raise_failed(outcome: tuple) -> None:
    raise RankFailed(f"rank 0 failed, so rank {launch().rank} stops: {outcome[1]}", outcome[2])


def sum_over_ranks(values: list[int]) -> list[int]:
    """Each number summed over every rank (every rank must call it); unchanged in one process."""
    if not launch().distributed:
        return values
    start_group()
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return [int(v) for v in t.tolist()]


def end_group() -> None:
    """Let the process group go at the end of a command (torch warns when a process exits holding one)."""
    if launch().distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
