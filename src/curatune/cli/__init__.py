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
import sys
from collections.abc import Callable
from typing import Any

import typer

from ..errors import EXIT_INTERNAL, CuratuneError
from . import ablate, curate, data, evaluate, loop, split, train
from .render import console

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


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        app()
    except CuratuneError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception:
        console.print_exception(max_frames=4)
        console.print("[bold red]This is a bug in curatune[/]; please report it with the command you ran.")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
