"""Running the trials: in this process, or in ``n_jobs`` worker processes sharing the study through its storage."""

from __future__ import annotations

import multiprocessing as mp
import os
import warnings

import optuna

from ...errors import CuratuneError
from ...tracking import use_store
from .objective import Objective
from .study import Echo, Search, StopAtTotal


def optimize(study, objective: Objective, n_trials: int | None) -> None:
    """Run trials of ``objective`` until ``n_trials`` more, the study's total or the time budget is reached."""
    tc = objective.search.tc
    with warnings.catch_warnings():
        # Optuna's notes on experimental features (multivariate TPE) and on the grid running out are not the user's business.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*GridSampler.*")
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=tc.timeout_minutes * 60 if tc.timeout_minutes else None,
            callbacks=[StopAtTotal(tc.n_trials)] if tc.n_trials else [],
            catch=(),
        )


def optimize_in_processes(search: Search, remaining: int | None, echo: Echo) -> None:
    """``tc.n_jobs`` worker processes on the same study (its storage is how they share it), the remaining trials split between them.

    Processes, not threads: loading models in threads at once breaks transformers (meta-device
    initialisation and lazy imports are process-wide). With several GPUs, worker i sees GPU i only.
    """
    import torch

    n = search.tc.n_jobs
    shares = [None] * n if remaining is None else [remaining // n + (1 if i < remaining % n else 0) for i in range(n)]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    ctx = mp.get_context("spawn")  # a forked copy of a process that has used torch's threads or CUDA is not safe
    procs = [
        ctx.Process(target=_worker, args=(search, i, share, gpus), name=f"curatune-tune-{i}")
        for i, share in enumerate(shares)
        if share != 0
    ]
    echo(f"{len(procs)} worker processes" + (f", one GPU each of {gpus}" if gpus > 1 else ""))
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:  # they were interrupted too, and are saving a checkpoint of their trial
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
        raise
    failed = [f"{p.name} exited with {p.exitcode}" for p in procs if p.exitcode != 0]
    if failed:
        raise CuratuneError(
            f"{len(failed)} of {len(procs)} workers failed ({'; '.join(failed)}); their errors are printed above. "
            "Run the same command again to resume the search: failed trials are tried once more."
        )


def _worker(search: Search, index: int, n_trials: int | None, gpus: int) -> None:
    """One worker process: its own sampler seed, the same study."""
    if gpus > 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = search.open(worker=index)
    if search.store_dir is not None:
        use_store(search.base.tracking_uri, search.store_dir, search.base.experiment)

    def echo(line: str) -> None:
        print(line, flush=True)

    optimize(study, Objective(search, echo), n_trials)
