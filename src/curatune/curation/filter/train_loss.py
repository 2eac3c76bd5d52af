"""Flag or drop the training examples a trained model fits worst: the next curation pass after training.

``curatune train`` ends by scoring every training example under the final
model (``runs/<name>/train/losses.jsonl``, highest loss first). The examples
a model still cannot fit after training are disproportionately wrong ones:
mislabelled classes, wrong answers, answers to another question. This step
reads that file and fails the worst of the records it lists (the loss is the
ledger's value): the top ``top_fraction`` of the listed scores, or any loss
above ``max_loss``. Records the file does not list (new data, the validation
part) pass unscored.

The ranking is by each row's ``score``: its loss against those of examples of about
its length (see ``train/loss_rank.py``; a short correct answer has a high mean loss
per token only because it is short); a file without scores ranks by ``loss``.

Use it with ``on_fail: flag`` first: a high loss is evidence, not proof; read
the flagged records (``curatune explain``) before dropping them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from pydantic import Field

from ...errors import InputError
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict


def read_losses(path: Path) -> dict[str, tuple[float, float]]:
    """id -> (score, loss) of each row; the score is the loss where the file has none."""
    if not path.is_file():
        raise InputError(
            f"'{path}' does not exist. It is written by curatune train (runs/NAME/train/losses.jsonl); train first or fix "
            "filter.train_loss's losses path."
        )
    out = {}
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            row = orjson.loads(line)
            loss = float(row["loss"])
            out[str(row["id"])] = (float(row.get("score", loss)), loss)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise InputError(
                f"{path}:{n}: expected a JSON object with 'id' and 'loss' ({e}). The file should be a losses.jsonl written by curatune "
                "train."
            ) from e
    return out


@register("filter.train_loss")
class TrainLoss(Filter):
    # One line on purpose: the docstring's first line is the summary `curatune steps` shows.
    """Fail the records a trained model fits worst (from ``losses.jsonl`` of ``curatune train``): the top ``top_fraction``, or any over ``max_loss``."""  # noqa: E501

    reasons = ("high_train_loss",)
    contract_params = {"losses": str(Path(__file__).with_name("resources") / "train_losses_example.jsonl")}

    def __init__(self, losses: str, top_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02, max_loss: float | None = None):
        self.losses = losses
        self.top_fraction = top_fraction
        self.max_loss = max_loss
        self._by_id = read_losses(Path(losses))
        ranked = sorted((score for score, _ in self._by_id.values()), reverse=True)
        n_top = int(len(ranked) * top_fraction)
        self._cut = ranked[n_top - 1] if n_top else float("inf")

    def keep(self, rec: Record) -> Verdict:
        found = self._by_id.get(rec.id)
        if found is None:
            return KEEP
        score, loss = found
        if score >= self._cut:
            return Drop("high_train_loss", value=round(score, 4), threshold=round(self._cut, 4), detail=f"loss {loss:.4g}")
        if self.max_loss is not None and loss > self.max_loss:
            return Drop("high_train_loss", value=round(loss, 4), threshold=self.max_loss, detail="over max_loss")
        return KEEP
