"""What a search leaves in ``tune/``: ``trials.csv``, the plots, ``report.md`` and ``summary.json``.

(``best_recipe.yaml``, a whole recipe, is the tune stage's to write: :mod:`curatune.stages.tune`.)
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import orjson
from optuna.trial import FrozenTrial, TrialState

from ...config.tune import TuneConfig
from ...run_folder import TuneFolder
from .study import short


@dataclass
class TuneResult:
    folder: Path
    study: Any
    summary: dict[str, Any]
    best_recipe: Path | None
    files: dict[str, Path] = field(default_factory=dict)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The completed trial with the lowest validation loss; None before any trial completed."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(complete, key=_loss) if complete else None


def _loss(trial: FrozenTrial) -> float:
    assert trial.value is not None, "a completed trial of a one-objective study has its value"
    return trial.value


def write_outputs(
    tc: TuneConfig, study, folder: TuneFolder, storage: str, seconds: float, rate_source: dict | None, best_recipe: Path | None
) -> TuneResult:
    """Everything the search leaves, with ``best_recipe`` (already written) among the files when a trial completed."""
    files = {"trials": folder.trials}
    write_trials_csv(study, files["trials"])
    best = best_trial(study)
    if best_recipe is not None:
        files["best_recipe"] = best_recipe
    plots = plot_study(study, folder)
    files.update({k: v for k, v in plots.items() if isinstance(v, Path)})
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    summary = {
        "study": study.study_name,
        "storage": storage,
        "sampler": tc.sampler,
        "pruner": tc.pruner,
        "n_trials": tc.n_trials,
        "trials": counts,
        "best": {"number": best.number, "value": best.value, "params": best.params, "folder": best.user_attrs.get("folder")}
        if best
        else None,
        "steps_trained": sum(int(t.user_attrs.get("steps") or 0) for t in study.trials),
        "seconds": round(seconds, 1),
        "learning_rate": rate_source,
        "plots": {k: (str(v) if isinstance(v, Path) else {"skipped": v}) for k, v in plots.items()},
        "files": {k: str(v) for k, v in files.items()},
    }
    files["report"] = write_report(summary, study, folder.report)
    files["summary"] = folder.summary
    summary["files"] = {k: str(v) for k, v in files.items()}
    files["summary"].write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return TuneResult(folder.root, study, summary, best_recipe, files)


def write_trials_csv(study, path: Path) -> Path:
    names = sorted({n for t in study.trials for n in t.params})
    extra = ["steps", "seconds", "pruned_at_evaluation", "retry_of", "folder"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", *names, *extra])
        for t in study.trials:
            w.writerow(
                [
                    t.number,
                    t.state.name,
                    "" if t.value is None else t.value,
                    *[t.params.get(n, "") for n in names],
                    *[t.user_attrs.get(k, "") for k in extra],
                ]
            )
    return path


def plot_study(study, folder: TuneFolder) -> dict[str, Path | str]:
    """The optimisation history and the parameter importances as PNGs; a reason instead of a path when one cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as oplt

    plots: dict[str, Path | str] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete:
            ax = oplt.plot_optimization_history(study, target_name="validation loss")
            plots["optimization_history"] = _save(ax, folder.history_plot)
        else:
            plots["optimization_history"] = "no completed trial"
        varied = [n for n in {n for t in complete for n in t.params} if len({repr(t.params.get(n)) for t in complete}) > 1]
        if len(complete) < 2 or not varied:
            plots["param_importances"] = "needs at least two completed trials with different values"
        else:
            try:
                ax = oplt.plot_param_importances(study, target_name="validation loss")
                plots["param_importances"] = _save(ax, folder.importances_plot)
            except (RuntimeError, ValueError, ZeroDivisionError, ImportError) as e:  # too few distinct trials for the forest
                plots["param_importances"] = f"could not be computed: {e}"
    plt.close("all")
    return plots


def _save(ax, path: Path) -> Path:
    fig = ax.figure
    fig.set_size_inches(7, 4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_report(summary: dict, study, path: Path) -> Path:
    best = summary["best"]
    lines = [f"# Search: {summary['study']}", ""]
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(summary["trials"].items()))
    lines.append(
        f"{summary['sampler']} sampler, {summary['pruner']} pruning; trials: {counts}; {summary['steps_trained']} optimiser steps in all."
    )
    lines.append("")
    if best:
        lines += [
            f"**Best**: trial {best['number']}, validation loss {best['value']:.5f}, "
            + ", ".join(f"`{k}={short(v)}`" for k, v in best["params"].items())
            + ".",
            "",
            "Train it: `curatune train " + summary["files"].get("best_recipe", "best_recipe.yaml") + "`",
            "",
        ]
    else:
        lines += ["No trial completed: there is no best configuration yet.", ""]
    for key, title in (("optimization_history", "Optimisation history"), ("param_importances", "Parameter importances")):
        plot = summary["plots"].get(key)
        lines.append(f"![{title}]({Path(plot).name})" if isinstance(plot, str) else f"{title}: not drawn ({plot['skipped']}).")
        lines.append("")
    names = sorted({n for t in study.trials for n in t.params})
    lines.append("| trial | state | validation loss | " + " | ".join(names) + " | steps |")
    lines.append("|---:|---|---:|" + "---:|" * len(names) + "---:|")
    for t in study.trials:
        value = f"{t.value:.5f}" if t.value is not None else ""
        lines.append(
            f"| {t.number} | {t.state.name.lower()} | {value} | "
            + " | ".join(short(t.params.get(n, "")) for n in names)
            + f" | {t.user_attrs.get('steps', '')} |"
        )
    lines.append("")
    lines.append(
        "Each trial's training folder (curves.png, summary.json) is in `trial-<n>/train/`; the values per trial are in `trials.csv`."
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
