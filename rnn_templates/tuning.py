"""keras-tuner wiring: choose a tuner, resume a search, write a leaderboard.

A search lives in ``<directory>/<project_name>``. Running the same search again
reloads that directory and continues where it stopped (``overwrite=False``),
so a killed search loses at most its current trial.

Distributed search needs no code here: keras-tuner reads
``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``.
Start one process with ``KERASTUNER_TUNER_ID=chief`` and each worker with its
own id (``tuner0``, ``tuner1``...), all pointing at the chief's address and
sharing the tuner directory; the chief runs the oracle and the workers run
trials.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import keras_tuner

TUNERS = {
    "random": keras_tuner.RandomSearch,
    "hyperband": keras_tuner.Hyperband,
    "bayesian": keras_tuner.BayesianOptimization,
}


def make_tuner(
    hypermodel: keras_tuner.HyperModel,
    *,
    kind: str = "random",
    objective: str | keras_tuner.Objective = "val_loss",
    max_trials: int = 10,
    max_epochs: int = 10,
    directory: str | os.PathLike = "tuning",
    project_name: str = "search",
    seed: int | None = None,
    overwrite: bool = False,
    executions_per_trial: int = 1,
) -> keras_tuner.Tuner:
    """Build a tuner; an existing search in the same directory is resumed.

    Args:
        hypermodel: The app's HyperModel.
        kind: ``"random"``, ``"hyperband"`` or ``"bayesian"``.
        objective: Metric to optimise, e.g. ``"val_accuracy"`` (direction is
            inferred by keras-tuner from the name) or a ``keras_tuner.Objective``.
        max_trials: Trials for random and bayesian search.
        max_epochs: Epoch budget per model for hyperband.
        directory: Where searches are stored.
        project_name: Sub-directory for this search.
        seed: Random seed for the search.
        overwrite: Start afresh instead of resuming.
        executions_per_trial: Repeats per trial, averaged (noise reduction).
    """
    if kind not in TUNERS:
        raise ValueError(
            f"`tuner` must be one of {', '.join(map(repr, TUNERS))}; received {kind!r}"
        )
    common: dict[str, Any] = dict(
        hypermodel=hypermodel,
        objective=objective,
        directory=str(directory),
        project_name=project_name,
        seed=seed,
        overwrite=overwrite,
        executions_per_trial=executions_per_trial,
    )
    if kind == "hyperband":
        return keras_tuner.Hyperband(max_epochs=max_epochs, **common)
    return TUNERS[kind](max_trials=max_trials, **common)


def leaderboard(tuner: keras_tuner.Tuner, num_trials: int | None = None) -> list[dict[str, Any]]:
    """Completed trials, best first: rank, trial id, score, then each hyperparameter."""
    trials = [t for t in tuner.oracle.trials.values() if t.score is not None]
    direction = tuner.oracle.objective.direction
    trials.sort(key=lambda t: t.score, reverse=direction == "max")
    rows = []
    for rank, trial in enumerate(trials[:num_trials], start=1):
        row = {"rank": rank, "trial": trial.trial_id, "score": round(float(trial.score), 5)}
        row.update(trial.hyperparameters.values)
        rows.append(row)
    return rows


def write_leaderboard(rows: list[dict[str, Any]], directory: str | os.PathLike) -> None:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` (a Markdown table)."""
    directory = Path(directory)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text_atomic(directory / "leaderboard.csv", buffer.getvalue())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    _write_text_atomic(directory / "leaderboard.md", "\n".join(lines) + "\n")


def _write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
