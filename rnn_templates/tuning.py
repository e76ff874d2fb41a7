"""keras-tuner wiring: tuners whose searches survive kills, and their reports.

A search lives in ``<directory>/<project_name>``. Running the same search again
reloads that directory and continues where it stopped: finished trials are not
run again, and the trial that was interrupted resumes from its last finished
epoch (each execution of a trial keeps the same epoch backups as a training
run, in ``trial_<id>/execution_<n>/``). Every state file keras-tuner writes
(``oracle.json``, ``trial.json``, ``tuner.json``) is written to a temporary
name and renamed into place, so a kill at any moment leaves a readable search.

Each trial also records how it ran in ``trial_<id>/run.json``: the workers
that ran it, its wall time, its epochs, where it was resumed. The leaderboard
(:func:`leaderboard`, :func:`write_reports`) lists every trial with those facts
and its status, best first; :func:`plot_search` draws the objective over the
trials. On the TensorFlow backend each execution also writes TensorBoard logs
with its hyperparameters (the HParams dashboard) under ``<project>/logs``.

Distributed search uses keras-tuner's own protocol: ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (:func:`tuner_role`
tells the role). :mod:`rnn_templates.workers` serves the search and starts
workers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import numpy as np
from keras_tuner.oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    RandomSearchOracle,
)
from keras_tuner.src.engine import tuner_utils
from keras_tuner.src.engine.metrics_tracking import infer_metric_direction

from rnn_templates import io as atomic
from rnn_templates.config import TUNERS as TUNER_NAMES
from rnn_templates.training import standard_callbacks

RUN_FILE = "run.json"
# A trial whose worker died (or crashed) is run again this many times before it fails.
RETRIES = 2


def tuner_role() -> str:
    """``"single"``, ``"chief"`` or ``"worker"`` from keras-tuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def worker_name() -> str:
    """This process's name in a search: its ``KERASTUNER_TUNER_ID``, else ``"local"``."""
    return os.environ.get("KERASTUNER_TUNER_ID", "local")


def choice(hp: keras_tuner.HyperParameters, name: str, values, default, **kwargs):
    """``hp.Choice`` over ``values`` and the configured ``default`` (keras-tuner needs the
    default among the choices), so the configured model is always in the space."""
    values = sorted(set(values) | {default}, key=lambda v: (str(type(v)), v))
    return hp.Choice(name, values, default=default, **kwargs)


# A grid search tries a float hyperparameter at its default and this factor either side
# (log sampling without a step).
GRID_FACTOR = 3.0


def float_around(hp: keras_tuner.HyperParameters, name: str, low: float, high: float,
                 default: float, *, grid: bool = False, **kwargs) -> float:
    """``hp.Float`` from ``low`` to ``high``, stretched to include ``default``, which a
    trial without a search uses exactly (not rounded to the grid).

    With ``grid`` (a grid search), an ``hp.Choice`` of ``default`` and its neighbours
    one step either side, kept within the range, instead: ``step`` (a factor with log
    sampling), else a factor of :data:`GRID_FACTOR` with log sampling and a tenth of
    the range without. keras-tuner's grid varies the last hyperparameter declared
    first, and would try every value of the whole range (10 without a step) before
    any other hyperparameter changes.

    Example:
        >>> hp = keras_tuner.HyperParameters()
        >>> float_around(hp, "learning_rate", 3e-4, 1e-2, 2e-3, sampling="log", grid=True)
        0.002
        >>> hp.space[0].values
        [0.000666667, 0.002, 0.006]
    """
    low, high = min(low, default), max(high, default)
    if not grid:
        return hp.Float(name, low, high, default=default, **kwargs)
    step, log = kwargs.pop("step", None), kwargs.pop("sampling", "linear") == "log"
    if log:
        factor = step or GRID_FACTOR
        neighbours = (default / factor, default * factor)
    else:
        step = step or (high - low) / 10
        neighbours = (default - step, default + step)
    values = {float(default)} | {float(f"{min(max(value, low), high):.6g}")
                                 for value in neighbours}
    return hp.Choice(name, sorted(values), default=float(default), **kwargs)


# Scores a search maximises that keras-tuner does not know.
MAXIMIZED = ("bleu", "chrf")


def parse_objective(spec: str | keras_tuner.Objective) -> keras_tuner.Objective:
    """A ``keras_tuner.Objective`` from ``"name"`` or ``"name:min"`` / ``"name:max"``.

    Without a direction, BLEU, chrF and every accuracy (``pitch_accuracy``...) are
    maximised, and keras-tuner's rule decides for the rest (losses and errors
    minimised, AUC maximised).

    Example:
        >>> parse_objective("val_accuracy").direction, parse_objective("val_bleu").direction
        ('max', 'max')
        >>> parse_objective("val_pitch_accuracy").direction
        'max'
    """
    if isinstance(spec, keras_tuner.Objective):
        return spec
    name, _, direction = spec.partition(":")
    if not direction:
        direction = ("max" if name.removeprefix("val_") in MAXIMIZED
                     or name.endswith("accuracy") else infer_metric_direction(name))
    if direction not in ("min", "max"):
        raise ValueError(
            f"`objective` needs a direction: write {name}:min or {name}:max; received {spec!r}")
    return keras_tuner.Objective(name, direction)


# --- state files written atomically ----------------------------------------------


class _AtomicOracle:
    """Oracle mixin: ``oracle.json`` and each ``trial.json`` are renamed into place, and
    a trial that has ended is never handed out again.

    keras-tuner's ``end_trial`` saves the oracle before it takes the trial off
    the ongoing list, so the saved state always shows the last trial still
    running, and a search resumed after it (killed during the final retrain, or
    given more trials) ran that trial again. Saving once more after it, and
    dropping ended trials from the ongoing list of a state saved before,
    resume where the search really was.
    """

    @keras_tuner.synchronized  # the save too runs under the oracle's lock (a chief's threads)
    def end_trial(self, trial: Any) -> None:
        super().end_trial(trial)
        self.save()

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        status = keras_tuner.engine.trial.TrialStatus
        ended = (status.COMPLETED, status.FAILED, status.INVALID)  # INVALID: queued to retry
        self.ongoing_trials = {tuner: trial for tuner, trial in self.ongoing_trials.items()
                               if trial.status not in ended}

    def save(self) -> None:
        atomic.write_text(self._get_oracle_fname(), json.dumps(self.get_state()))

    def _save_trial(self, trial: Any) -> None:
        path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(trial.get_state()))


class _DefaultsFirst:
    """Oracle mixin: the search's first trial is the configured model.

    Every hyperparameter at its default, which the apps set to the configured
    value, so the leaderboard shows where the untuned model ranks and a random
    or Bayesian search never picks a model that did worse on validation.
    keras-tuner's grid search already starts this way; random, Bayesian and
    Hyperband search sample every later trial as before (the defaults are not
    drawn again).
    """

    def _random_values(self) -> dict[str, Any] | None:
        if not self.trials and self.hyperparameters.space:
            return default_values(self.hyperparameters)
        return super()._random_values()


class _CostliestFirst:
    """Random-search oracle mixin: with a ``trial_cost``, the remaining trials are drawn
    at once and handed out costliest first.

    With several workers, a search ends when its last trial does: handed out
    last, the costliest trial runs alone while the other workers idle.
    Costliest first (longest-processing-time scheduling), the short trials
    fill the gaps at the end instead. The draws are the ones the search
    would make anyway (same seed, same values, the configured model first);
    only their order changes, and the queue is saved with the oracle, so a
    resumed search hands out what the uninterrupted one would.
    """

    trial_cost: Any = None  # values -> a relative cost (:func:`trial_cost`); None: draw order

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._queue: list[dict[str, Any]] = []

    def _random_values(self) -> dict[str, Any] | None:
        # (a queue saved by a chief is served first, even if resumed without workers)
        if not self._queue and self.trial_cost is not None and self.trials and self.max_trials:
            drawn = []
            for _ in range(self.max_trials - len(self.trials)):
                values = super()._random_values()
                if values is None:
                    break
                drawn.append(values)
                self._tried_so_far.add(self._compute_values_hash(values))  # no repeat
            for values in drawn:  # recorded again as each trial is created
                self._tried_so_far.discard(self._compute_values_hash(values))
            self._queue = sorted(drawn, key=self.trial_cost, reverse=True)
            if not self._queue:
                return None
        return self._queue.pop(0) if self._queue else super()._random_values()

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "queued": self._queue}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._queue = list(state.get("queued", []))


def trial_cost(values: dict[str, Any], defaults: Any) -> float:
    """A trial's training cost relative to others of its search, from its hyperparameters
    (the config's ``defaults`` for those it does not set).

    The recurrent steps it runs per epoch: directions x layers x batches, a
    little more for wider layers. On the sentiment search of
    ``benchmarks/tuning_scale.py`` the order it gives had a rank correlation
    of 0.92 to 0.96 with the trials' measured times.
    """
    def get(name: str, fallback: Any) -> Any:
        return values.get(name, getattr(defaults, name, fallback))

    directions = 2 if get("bidirectional", False) else 1
    return (directions * get("num_layers", 1) * (1 + get("units", 64) / 256)
            / get("batch_size", 32))


def default_values(hyperparameters: keras_tuner.HyperParameters) -> dict[str, Any]:
    """Each active hyperparameter's default, conditions followed as declared."""
    chosen = keras_tuner.HyperParameters()
    for hp in hyperparameters.space:
        chosen.merge([hp])
        if chosen.is_active(hp):
            chosen.values[hp.name] = hp.default
    return dict(chosen.values)


def _atomic(oracle_class: type, *mixins: type) -> type:
    return type(oracle_class.__name__, (_AtomicOracle, *mixins, oracle_class), {})


ORACLES = {
    name: _atomic(oracle, *(() if name == "grid" else
                            (_CostliestFirst, _DefaultsFirst) if name == "random" else
                            (_DefaultsFirst,)))
    for name, oracle in zip(TUNER_NAMES, (RandomSearchOracle, HyperbandOracle,
                                          BayesianOptimizationOracle, GridSearchOracle),
                            strict=True)
}
# Kept for callers that list the kinds.
TUNERS = ORACLES


# --- trials that resume ------------------------------------------------------------


class _TrialClock(keras.callbacks.Callback):
    """Writes ``run.json`` after every epoch: workers, wall time, epochs, resumes."""

    def __init__(self, path: Path, record: dict[str, Any], execution: int, run_log: Any):
        super().__init__()
        self.path, self.record, self.execution, self.run_log = path, record, execution, run_log
        self.started = time.perf_counter()
        self.base = record["seconds"]

    def on_epoch_end(self, epoch, logs=None):
        self.record["seconds"] = round(self.base + time.perf_counter() - self.started, 2)
        self.record["epochs"][self.execution] = len(self.run_log.records)
        atomic.write_json(self.path, self.record)


class _ResumedBest(tuner_utils.SaveBestEpoch):
    """keras-tuner's trial checkpoint, of the epoch the trial is scored on.

    That is the epoch early stopping keeps (see :func:`_kept_record`); without
    one, the best epoch on the objective, the epochs before a resume included.
    """

    def __init__(self, objective, filepath, run_log, stopping):
        super().__init__(objective, filepath)
        self.run_log, self.stopping = run_log, stopping
        self._synced = False

    def on_epoch_end(self, epoch, logs=None):
        if self.stopping.best is not None:  # runs after early stopping has seen the epoch
            if self.stopping.best_epoch == epoch:
                self._save_model()
            return
        if not self._synced:  # the run log has restored the earlier epochs by now
            self._synced = True
            for record in self.run_log.records[:-1]:
                if self.objective.has_value(record["logs"]):
                    value = self.objective.get_value(record["logs"])
                    if self.objective.better_than(value, self.best_value):
                        self.best_value = value
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        # A worker hung or killed mid-write cannot leave the trial's next worker a locked
        # or half-written checkpoint.
        atomic.save_weights(self.model, self.filepath)


class _Resumable:
    """Tuner mixin: each execution of a trial trains like a run and resumes like one.

    An execution keeps ``history.csv`` and its epoch backups (weights,
    optimizer, early-stopping counters, dropout seeds) in
    ``trial_<id>/execution_<n>/``; a finished execution keeps ``result.json``.
    Whoever runs the trial next (this process after a kill, another worker
    after a worker died) starts from there. The trial's score is the metrics of
    the epoch its early stopping keeps (:func:`_kept_record`).

    With a ``seed``, execution ``n`` of every trial starts from the random
    state ``seed + n``: trials differ only by their hyperparameters (the same
    initial weights wherever the shapes agree, the same dropout and shuffling),
    whichever worker runs them and whatever ran before; a model trained
    afterwards with the same seed and hyperparameters repeats the trial.
    """

    monitor: str = "val_loss"
    patience: int = 3
    lr_decay: tuple[float, int] = (1.0, 3)
    seed: int | None = None

    def save(self) -> None:
        atomic.write_text(self._get_tuner_fname(), json.dumps(self.get_state()))

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:  # a Hyperband round: its epochs, after the last round's
            fit_kwargs["epochs"] = hp.values["tuner/epochs"]
            fit_kwargs["initial_epoch"] = hp.values["tuner/initial_epoch"]
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        trial_dir.mkdir(parents=True, exist_ok=True)
        run_file = trial_dir / RUN_FILE
        record = (json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file()
                  else {"workers": [], "seconds": 0.0, "epochs": [], "best_epochs": [],
                        "resumed_at": []})
        record["workers"].append(worker_name())
        record["epochs"] += [0] * (self.executions_per_trial - len(record["epochs"]))
        record["best_epochs"] += [None] * (self.executions_per_trial - len(record["best_epochs"]))
        atomic.write_json(run_file, record)
        given = fit_kwargs.pop("callbacks", [])
        try:
            return self._run_executions(trial, trial_dir, run_file, record, given, fit_args,
                                        fit_kwargs)
        except Exception as error:
            # keras-tuner's messages between workers and chief carry no error text:
            # the trial's own record keeps it for the leaderboard.
            record.setdefault("errors", []).append(
                _last_line(f"{type(error).__name__}: {error}"))
            atomic.write_json(run_file, record)
            raise

    def _run_executions(self, trial, trial_dir, run_file, record, given, fit_args, fit_kwargs):
        hp = trial.hyperparameters
        results = []
        for execution in range(self.executions_per_trial):
            work = trial_dir / f"execution_{execution}"
            done = work / "result.json"
            if done.is_file():
                results.append(json.loads(done.read_text(encoding="utf-8")))
                continue
            records = work / "backup" / "run_log" / "records.json"
            if records.is_file():
                finished = len(json.loads(records.read_text(encoding="utf-8")))
                if finished:
                    record["resumed_at"].append(finished)
            callbacks = standard_callbacks(work, monitor=self.monitor, patience=self.patience,
                                           checkpoint=False, tensorboard=False,
                                           lr_decay=self.lr_decay[0],
                                           lr_decay_after=self.lr_decay[1])
            stopping, run_log = callbacks[1], callbacks[2]
            extra = self._deepcopy_callbacks(given)
            if keras.backend.backend() == "tensorflow":
                extra.append(keras.callbacks.TensorBoard(str(trial_dir.parent / "logs")))
                self._configure_tensorboard_dir(extra, trial, execution)
            callbacks += [*extra, tuner_utils.TunerCallback(self, trial),
                          _ResumedBest(self.oracle.objective,
                                       self._get_checkpoint_fname(trial.trial_id), run_log,
                                       stopping),
                          _TrialClock(run_file, record, execution, run_log)]
            if self.seed is not None:
                keras.utils.set_random_seed(self.seed + execution)
            model = self._try_build(hp)
            self.hypermodel.fit(hp, model, *fit_args, callbacks=callbacks, **fit_kwargs)
            # Hyperband's next round rebuilds the model from it (Keras 3).
            atomic.write_json(self._get_build_config_fname(trial.trial_id),
                              model.get_build_config())
            best = _kept_record(run_log.records, stopping, self.oracle.objective)
            record["best_epochs"][execution] = best["epoch"]
            atomic.write_json(run_file, record)
            atomic.write_json(done, best["logs"])
            shutil.rmtree(work / "backup", ignore_errors=True)  # done: the backups can go
            results.append(best["logs"])
            del model
        return results


def _kept_record(records: list[dict[str, Any]], early_stopping: keras.callbacks.EarlyStopping,
                 goal: keras_tuner.Objective) -> dict[str, Any]:
    """The epoch whose weights early stopping kept, when it logged the objective; else the
    epoch with the best objective.

    A trial scores what its trained model scores, and what a model retrained the same
    way keeps: not the best of its epochs on the objective, which on a small validation
    split favours the trials whose scores swing most from epoch to epoch.
    """
    kept = [r for r in records if r["epoch"] == early_stopping.best_epoch
            and early_stopping.best is not None and goal.has_value(r["logs"])
            and math.isfinite(goal.get_value(r["logs"]))]
    return kept[0] if kept else _best_record(records, goal)


def _best_record(records: list[dict[str, Any]], goal: keras_tuner.Objective) -> dict[str, Any]:
    scored = [r for r in records if goal.has_value(r["logs"])
              and math.isfinite(goal.get_value(r["logs"]))]
    if not scored:
        raise keras_tuner.errors.FailedTrialError(
            f"no epoch logged a finite {goal.name!r}; the metrics were "
            f"{sorted(records[-1]['logs']) if records else 'none'}")
    sign = -1.0 if goal.direction == "max" else 1.0
    return min(scored, key=lambda r: sign * goal.get_value(r["logs"]))


class ResumableTuner(_Resumable, keras_tuner.Tuner):
    """A keras-tuner ``Tuner`` (random, bayesian, grid) whose trials resume."""


class ResumableHyperband(_Resumable, keras_tuner.Hyperband):
    """keras-tuner's ``Hyperband`` (epochs per round, weights carried) whose trials resume."""

    def __init__(self, oracle, hypermodel, **kwargs):
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)


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
    monitor: str = "val_loss",
    patience: int = 3,
    lr_decay: tuple[float, int] = (1.0, 3),
    trial_cost: Any = None,
) -> keras_tuner.Tuner:
    """Build a tuner; an existing search in the same directory is resumed.

    Args:
        hypermodel: The app's HyperModel.
        kind: ``"random"``, ``"hyperband"``, ``"bayesian"`` or ``"grid"``.
        objective: Metric to optimise: ``"val_accuracy"`` (direction inferred),
            ``"val_bleu:max"``, or a ``keras_tuner.Objective``.
        max_trials: Trials for random, bayesian and grid search.
        max_epochs: Epoch budget per model for hyperband.
        directory: Where searches are stored.
        project_name: Sub-directory for this search.
        seed: Random seed for the search, and the random state each trial starts
            from (see :class:`_Resumable`).
        overwrite: Start afresh instead of resuming.
        executions_per_trial: Repeats per trial, averaged (noise reduction).
        monitor: What each trial's early stopping watches.
        patience: Early-stopping patience per trial.
        lr_decay: ``(factor, after)`` of each trial's
            :class:`~rnn_templates.training.EpochDecay` (factor 1: none).
        trial_cost: ``values -> relative cost``: a random search hands out its
            costliest trials first (:class:`_CostliestFirst`), for parallel workers.
    """
    if kind not in ORACLES:
        raise ValueError(
            f"`tuner` must be one of {', '.join(map(repr, ORACLES))}; received {kind!r}"
        )
    options: dict[str, Any] = dict(objective=parse_objective(objective), seed=seed,
                                   max_retries_per_trial=RETRIES)
    if kind == "hyperband":
        options["max_epochs"] = max_epochs
    else:
        options["max_trials"] = max_trials
    tuner_class = ResumableHyperband if kind == "hyperband" else ResumableTuner
    tuner = tuner_class(
        oracle=ORACLES[kind](**options),
        hypermodel=hypermodel,
        directory=str(directory),
        project_name=project_name,
        # A worker never wipes the search it shares with the chief.
        overwrite=overwrite and tuner_role() != "worker",
        executions_per_trial=executions_per_trial,
    )
    tuner.monitor, tuner.patience, tuner.lr_decay = monitor, patience, lr_decay
    if kind == "random":
        tuner.oracle.trial_cost = trial_cost
    tuner.seed = seed
    return tuner


# --- reports --------------------------------------------------------------------------


def trial_runs(tuner: keras_tuner.Tuner) -> dict[str, dict[str, Any]]:
    """Each trial's ``run.json`` (workers, seconds, epochs, best epochs, resumes)."""
    runs = {}
    for trial_id in tuner.oracle.trials:
        path = Path(tuner.get_trial_dir(trial_id)) / RUN_FILE
        if path.is_file():
            runs[trial_id] = json.loads(path.read_text(encoding="utf-8"))
    return runs


def best_epochs(tuner: keras_tuner.Tuner, trial_id: str) -> int | None:
    """How many epochs the trial's best epoch took (mean over executions), if recorded."""
    epochs = [e for e in trial_runs(tuner).get(trial_id, {}).get("best_epochs", [])
              if e is not None]
    return round(float(np.mean(epochs))) + 1 if epochs else None


def leaderboard(tuner: keras_tuner.Tuner, num_trials: int | None = None) -> list[dict[str, Any]]:
    """Every trial, completed ones best first, then the others in order.

    Columns: rank (completed trials only), trial, status, score, epochs, best
    epoch, seconds, workers, note (failures, resumes), then each
    hyperparameter.
    """
    goal = tuner.oracle.objective
    trials = list(tuner.oracle.trials.values())
    done = [t for t in trials if t.score is not None and t.status == "COMPLETED"]
    done.sort(key=lambda t: t.score, reverse=goal.direction == "max")
    others = sorted((t for t in trials if t not in done), key=lambda t: t.trial_id)
    runs = trial_runs(tuner)
    # Hyperparameters in the order the search space declares them (workers report
    # them in any order); Hyperband's own bookkeeping values left out.
    order = [hp.name for hp in tuner.oracle.get_space().space]
    order += sorted({k for t in trials for k in t.hyperparameters.values} - set(order))
    order = [name for name in order if not name.startswith("tuner/")]
    rows = []
    for position, trial in enumerate(done + others, start=1):
        run = runs.get(trial.trial_id, {})
        notes = []
        if run.get("resumed_at"):
            notes.append("resumed after epoch " + ", ".join(map(str, run["resumed_at"])))
        if len(run.get("workers", [])) > 1:
            notes.append("run " + str(len(run["workers"])) + " times")
        if trial.status != "COMPLETED":
            if trial.message:
                notes.append(_last_line(trial.message))
            elif run.get("errors"):  # raised on a worker: the chief never got the text
                notes.append(run["errors"][-1])
        best = [e + 1 for e in run.get("best_epochs", []) if e is not None]
        row = {
            "rank": position if trial in done else "",
            "trial": trial.trial_id,
            "status": trial.status,
            "score": round(float(trial.score), 5) if trial in done else "",
            "epochs": sum(run.get("epochs", [])) or "",
            "best_epoch": "/".join(map(str, best)),
            "seconds": run.get("seconds", ""),
            "workers": ",".join(dict.fromkeys(run.get("workers", []))),
            "note": "; ".join(notes),
        }
        values = trial.hyperparameters.values
        row.update({name: _readable(values[name]) for name in order if name in values})
        rows.append(row)
    return rows[:num_trials] if num_trials else rows


def _readable(value: Any) -> Any:
    """Floats to 6 significant digits (0.30000000000000004 is 0.3 to a reader)."""
    return float(f"{value:.6g}") if isinstance(value, float) else value


def _last_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


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
    atomic.write_text(directory / "leaderboard.md", atomic.markdown_table(rows, columns))


def plot_search(tuner: keras_tuner.Tuner, path: str | os.PathLike) -> Path | None:
    """PNG of the objective of each trial in start order, the best so far as a line."""
    from rnn_templates.reporting import plt

    oracle = tuner.oracle
    order = [t for t in oracle.start_order if t in oracle.trials] or sorted(oracle.trials)
    points = [(n, oracle.trials[t]) for n, t in enumerate(order, start=1)]
    # Positions count trials as started (from 1); labels name them by id, as the
    # leaderboard and the trial_<id> folders do.
    scored = [(n, float(t.score)) for n, t in points
              if t.score is not None and t.status == "COMPLETED"]
    if not scored:
        return None
    goal = oracle.objective
    best = np.maximum.accumulate if goal.direction == "max" else np.minimum.accumulate
    numbers, scores = (np.array(v) for v in zip(*scored, strict=True))
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(numbers, scores, "o", color="tab:blue", label="completed trial")
    axes.step(numbers, best(scores), where="post", color="tab:orange", label="best so far")
    winner = int(np.argmax(scores) if goal.direction == "max" else np.argmin(scores))
    axes.plot(numbers[winner], scores[winner], "*", markersize=16, color="tab:red",
              label=f"best: trial {order[numbers[winner] - 1]}")
    failed = [n for n, t in points if t.status in ("FAILED", "INVALID")]
    if failed:
        axes.plot(failed, [scores.min() if goal.direction == "max" else scores.max()] *
                  len(failed), "x", color="grey", label="failed trial")
    if len(order) <= 30:  # each trial named by its id, in the order started
        axes.set_xticks(range(1, len(order) + 1), labels=order)
        axes.set_xlabel("trial id, in the order started")
    else:
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("trials started")
    axes.set_ylabel(f"{goal.name} ({goal.direction})")
    axes.set_title("Search progress")
    axes.legend(loc="best")
    figure.tight_layout()
    return atomic.save_figure(figure, path)


def write_reports(tuner: keras_tuner.Tuner, directory: str | os.PathLike
                  ) -> list[dict[str, Any]]:
    """``leaderboard.csv``, ``leaderboard.md`` and ``search.png`` in ``directory``."""
    rows = leaderboard(tuner)
    write_leaderboard(rows, directory)
    plot_search(tuner, Path(directory) / "search.png")
    return rows
