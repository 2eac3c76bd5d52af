"""The ``curatune`` command: one Typer app, each verb a short function that calls the library.

The verbs live by group (:mod:`.data`, :mod:`.curate`, :mod:`.split`, :mod:`.train`, :mod:`.evaluate`,
:mod:`.loop`), what they print in :mod:`.render`; this module registers them, in the order
``curatune --help`` lists them, and holds the entry point :func:`main`.

Exit codes: 0 ok (or skipped because nothing changed), 1 internal error,
2 bad usage or impossible recipe, 3 unreadable input, 4 failed consistency
check. See :mod:`curatune.errors`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import typer

from ..distributed import end_group
from ..errors import EXIT_INTERNAL, CuratuneError
from . import ablate, curate, data, evaluate, loop, split, train
from .render import console, show_library_progress, styled

app = typer.Typer(
    name="curatune",
    help="Audit, clean, filter and deduplicate fine-tuning data, with every decision recorded in a ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

VERBS: dict[str, Callable[..., Any]] = {
    # data in and out
    "generate": data.generate,
    "convert": data.convert,
    "formats": data.formats,
    # curation
    "steps": data.steps,
    "curate": curate.curate,
    "explain": curate.explain,
    "audit": data.audit,
    "select": curate.select,
    "split": split.split,
    # training
    "train": train.train,
    "lr-find": train.lr_find,
    "tune": train.tune,
    "ui": train.ui,
    "hw": train.hw,
    "accelerate-config": train.accelerate_config,
    # evaluation
    "eval": evaluate.eval_,
    "judge": evaluate.judge,
    # the whole loop
    "run": loop.run,
    "demo": loop.demo,
    "compare": loop.compare,
    "ablate": ablate.ablate,
    "reference": loop.reference,
    "report": loop.report,
}
for _name, _verb in VERBS.items():
    app.command(_name)(_verb)


# What the libraries print that a user cannot act on: progress bars of their inner steps (datasets' maps, transformers'
# weight loading and GGUF conversion, interleaved from parallel processes), MLflow's INFO lines on every run, and
# peft's use of a transformers name deprecated for v6. Our own lines say what each long phase is doing.
_LIBRARY_ENV = {
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "TQDM_DISABLE": "1",  # plain tqdm bars (transformers' GGUF conversion), one per parallel process
}
_DEPRECATION = r"`is_gradient_checkpointing` is deprecated"


def quiet_libraries() -> None:
    """Silence the libraries' noise here and in the processes we start (the settings travel in the environment)."""
    import warnings

    for key, value in _LIBRARY_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message=_DEPRECATION, category=FutureWarning)
    if "is_gradient_checkpointing" not in os.environ.get("PYTHONWARNINGS", ""):
        extra = f"ignore:{_DEPRECATION}:FutureWarning"
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), extra]))


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a scheduler, ``kill``) as an interrupt: staging folders are removed on the way out."""


def stop_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in this process, so it cleans up as Ctrl-C does.

    Without this, ``timeout 60 curatune select ...`` killed the process where it stood and left its
    ``.NAME.partial-*`` folder behind. Worker processes forked later inherit the handler; in them it
    does what SIGTERM does by default (a pool stops its workers with SIGTERM).
    """
    main_pid = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)


def main() -> None:
    stop_on_sigterm()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    quiet_libraries()
    show_library_progress()
    try:
        app()
    except CuratuneError as e:
        console.print(styled("error:", "bold red", str(e)), highlight=False)
        sys.exit(e.exit_code)
    except Terminated:
        console.print("terminated")
        sys.exit(143)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception:
        console.print_exception(max_frames=4)
        console.print(styled("This is a bug in curatune;", "bold red", "please report it with the command you ran."))
        sys.exit(EXIT_INTERNAL)
    finally:
        end_group()  # under accelerate launch or torchrun: the process group let go before exit


if __name__ == "__main__":
    main()
