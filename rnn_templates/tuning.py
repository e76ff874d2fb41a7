"""keras-tuner wiring: choose a tuner, resume a search, write a leaderboard.

A search lives in ``<directory>/<project_name>``. Running the same search again
reloads that directory and continues where it stopped (``overwrite=False``),
so a killed search loses at most its current trial.

Distributed search: keras-tuner reads ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. Start one process with
``KERASTUNER_TUNER_ID=chief`` and each worker with its own id (``tuner0``,
``tuner1``...), all pointing at the chief's address and sharing the tuner
directory. The chief serves the search (the oracle) and alone holds the
trials' results; a worker only runs trials (:func:`tuner_role` tells which).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import keras_tuner

from rnn_templates import io as atomic
from rnn_templates.config import TUNERS as TUNER_NAMES

# The names live in rnn_templates.config, so configs are checked without keras-tuner.
TUNERS = dict(zip(TUNER_NAMES, (keras_tuner.RandomSearch, keras_tuner.Hyperband,
                                keras_tuner.BayesianOptimization), strict=True))


def tuner_role() -> str:
    """``"single"``, ``"chief"`` or ``"worker"`` from keras-tuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


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
        # A worker never wipes the search it shares with the chief.
        overwrite=overwrite and tuner_role() != "worker",
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
    atomic.write_text(directory / "leaderboard.csv", buffer.getvalue())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    atomic.write_text(directory / "leaderboard.md", "\n".join(lines) + "\n")
