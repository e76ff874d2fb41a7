"""The app lifecycle, written once: train, tune, evaluate, export, predict.

An app is a subclass of :class:`App` that fills in a few hooks (its data, its
splits, its HyperModel, its serving function, its metrics); :class:`Runner`
does everything else the same way for every app:

- run directories that are locked, resumable and never lose trained work
  (:mod:`rnn_templates.runs`);
- seeds, the standard callbacks, the divergence check;
- ``config.yaml``, ``metrics.json``, ``history.csv`` and learning curves;
- keras-tuner searches tied to their data and config, resumable and
  distributed (workers run trials, the chief retrains, reports and exports);
- the SavedModel export, with one serving function for the export, its
  fresh-process check and ``predict``;
- batched, streamed prediction.

Run directory layout: ``config.yaml``, ``artifacts.json`` (what the model needs
besides its weights: class names...), ``model.keras``, ``training.json``,
``metrics.json``, ``history.csv``, ``learning_curves.png``, the app's plots,
``logs/`` (TensorBoard), ``checkpoints/``, ``saved_model/``, the held-out
split the app writes (``evaluate`` reads it back), ``baselines.joblib``
(the app's reference models, scored beside the model in every report) and
``training_keys.npy`` (keys of the examples learnt from, :meth:`App.example_keys`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import numpy as np

from rnn_templates import distribute, io, reporting
from rnn_templates.config import AppConfig, searched
from rnn_templates.errors import UserInputError
from rnn_templates.export import (
    FRESH_PROCESS_TIMEOUT,
    check_in_fresh_process,
    export_saved_model,
)
from rnn_templates.runs import DirectoryLock, read_config, run_directory, served_model
from rnn_templates.standby import StandbyWorkers
from rnn_templates.text import batches
from rnn_templates.training import (
    BACKUP_DIR,
    HISTORY_FILE,
    history_is_finite,
    progress_verbosity,
    set_seed,
    standard_callbacks,
)
from rnn_templates.tuning import (
    best_epochs,
    leaderboard,
    make_tuner,
    trial_cost,
    tuner_role,
    write_reports,
)

MODEL_FILE = "model.keras"
ARTIFACTS_FILE = "artifacts.json"
# Which app wrote a run or an export, so another app's predict can refuse it by name.
APP_FILE = "app.json"
TRAINING_FILE = "training.json"
BASELINES_FILE = "baselines.joblib"
DATA_FINGERPRINT_FILE = "data.sha256"  # what the run trains on: a resume must match it
SEARCH_DATA_FILE = "search-data.sha256"  # what a tune run's search trained on
TRAINING_KEYS_FILE = "training_keys.npy"  # App.example_keys of the examples trained on
SAVED_MODEL_DIR = "saved_model"
SEARCH_CONFIG = "search.yaml"


@dataclasses.dataclass
class Prepared:
    """What an app's :meth:`App.prepare` returns.

    Attributes:
        splits: ``"train"``, ``"validation"`` and ``"test"`` as ``(inputs,
            targets)``; inputs are raw (what the serving model takes), targets
            what the metrics compare with.
        artifacts: JSON-able facts the trained model needs besides its weights
            (class names, units...), saved as ``artifacts.json``.
        state: Fitted preprocessing (vectorizers, scalers) for the app's hooks.
    """

    splits: dict[str, tuple[Any, Any]]
    artifacts: dict[str, Any]
    state: Any = None


class App:
    """Base class of an app: override the hooks, inherit the lifecycle.

    Class attributes:
        name: The app's name on the command line and in ``runs/<name>``.
        config_class: Its config dataclass (an :class:`~rnn_templates.config.AppConfig`).
        monitor: What early stopping watches (see :meth:`monitor_of`).
        refit_on_validation: Whether ``tune`` may retrain the best model on
            train + validation (False where validation calibrates something).
        needs_tensorflow: Whether its model runs on the TensorFlow backend
            only (it reads raw strings through ``TextVectorization``): then
            ``train``, ``tune`` and ``evaluate`` refuse another backend before
            doing any work. Exports are built under TensorFlow for every app.
    """

    name: str = "app"
    config_class: type[AppConfig] = AppConfig
    monitor: str = "val_loss"
    refit_on_validation: bool = True
    needs_tensorflow: bool = False

    def monitor_of(self, config: Any) -> str:
        """What early stopping watches for ``config``, and ``tune``'s trials too.

        A logged value, with its direction where Keras cannot infer it:
        ``"val_loss"``, ``"val_bleu:max"``. The default is :attr:`monitor`.
        """
        return self.monitor

    # --- 1. data ---------------------------------------------------------------

    def load_data(self, config: Any) -> Any:
        """Read and check the data ``config`` points at; raise UserInputError on mistakes."""
        raise NotImplementedError

    def from_arrays(self, config: Any, inputs: Any, targets: Any) -> Any:
        """The same data object as :meth:`load_data`, from in-memory arrays."""
        raise NotImplementedError

    def prepare(self, config: Any, data: Any) -> Prepared:
        """Split, and fit preprocessing on the training split only."""
        raise NotImplementedError

    def load_evaluation_data(self, config: Any) -> Any:
        """Read a file given to ``evaluate --data`` (default: as :meth:`load_data` does);
        an app may accept there what training refuses (one class, say)."""
        return self.load_data(config)

    def labelled(self, data: Any, artifacts: dict[str, Any]) -> tuple[Any, Any]:
        """``(inputs, targets)`` of other labelled data, in a trained run's terms."""
        raise NotImplementedError

    def write_held_out(self, directory: Path, inputs: Any, targets: Any,
                       artifacts: dict[str, Any]) -> None:
        """Save the test split so ``evaluate`` can read it back."""
        raise NotImplementedError

    def read_held_out(self, directory: Path, artifacts: dict[str, Any]) -> tuple[Any, Any]:
        raise NotImplementedError

    def example_keys(self, inputs: Any, targets: Any) -> np.ndarray | None:
        """One key per example, equal for examples the app counts as the same
        (:func:`rnn_templates.data.splits.example_keys` of their texts, say). The
        run keeps its training and validation examples' keys, and a file given to
        ``evaluate`` is checked against them: examples the model learnt from are
        counted and reported, since their scores overstate how it does on new data.
        None (the default): no such check, e.g. where windows of one series overlap
        by design.
        """
        return None

    # --- 2. model --------------------------------------------------------------

    def hypermodel(self, config: Any, prepared: Prepared) -> keras_tuner.HyperModel:
        """The search space; ``build(HyperParameters())`` is the config's own model."""
        raise NotImplementedError

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        """Keyword arguments for ``hypermodel.fit`` (training and validation data)."""
        raise NotImplementedError

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        """The saved ``.keras`` model: raw inputs to outputs (default: the core itself)."""
        return core

    def refit_data(self, prepared: Prepared) -> dict[str, Any]:
        """:meth:`fit_data` with the validation split added to the training split, and
        ``validation=None``: no held-out data is left to validate on, so the model's
        ``fit`` trains without ``validation_data`` (and logs no ``val_*``).

        ``tune`` retrains the best hyperparameters on it, unless
        ``refit_on_validation`` is False (the validation split calibrates
        something, so no model may train on it).
        """
        train, validation = prepared.splits["train"], prepared.splits["validation"]
        merged = tuple(merge_data(a, b) for a, b in zip(train, validation, strict=True))
        return {**self.fit_data(dataclasses.replace(
            prepared, splits={**prepared.splits, "train": merged})), "validation": None}

    # --- 3. serving ------------------------------------------------------------

    def input_signature(self) -> list[Any]:
        """The raw-input ``tf.TensorSpec`` list of the ``serve`` signature."""
        raise NotImplementedError

    def serve(self, model: keras.Model, artifacts: dict[str, Any]) -> Callable[..., dict]:
        """The serving function (raw input tensors to a dict of tensors), built once.

        The same function is exported, checked in a fresh process and used by
        ``predict`` on a ``.keras`` model.
        """
        raise NotImplementedError

    def extra_endpoints(self, model: keras.Model, artifacts: dict[str, Any]
                        ) -> dict[str, tuple[Callable[..., dict], list[Any]]]:
        """More SavedModel signatures beside ``serve``: name -> (function, input signature)."""
        return {}

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        """Called by ``predict`` with the model's artifacts before any input is parsed.

        An app whose inputs are read with the trained run's settings (the
        columns and history length of a forecaster) keeps them here.
        """

    def use_options(self, options: dict[str, Any]) -> None:
        """Called by ``rnnt ... predict`` with its parsed options before it starts.

        Options an app adds with ``AppSpec.arguments`` (a generator's length
        and temperature, say) arrive here; raise UserInputError on bad values.
        """

    def endpoint(self) -> str:
        """The signature ``predict`` calls: ``serve``, or one of :meth:`extra_endpoints`.

        Chosen from :meth:`use_options` (a translator's ``--beam-width``, say),
        before the model's artifacts are known; :meth:`to_batch` gives that
        signature's inputs.
        """
        return "serve"

    def parse_input(self, text: str) -> Any:
        """One prediction input from one command-line argument or input line."""
        return text

    def to_batch(self, items: list[Any], first: int = 0) -> list[Any]:
        """Tensors for the serving function from a list of parsed inputs.

        ``first`` is the position of ``items[0]`` among all the inputs of one call:
        an app that samples keys each input's random numbers on it, so that its
        outputs never depend on how the inputs were cut into batches.
        """
        import tensorflow as tf

        return [tf.constant(items)]

    def prediction_rows(self, outputs: dict[str, np.ndarray], items: list[str],
                        parsed: list[Any]) -> list[dict]:
        """One JSON-able dict per input from the serving outputs (``items``: the inputs
        as given; ``parsed``: what :meth:`parse_input` made of them)."""
        raise NotImplementedError

    def format_prediction(self, row: dict[str, Any]) -> str:
        return io.json_line(row)

    def prediction_header(self) -> str | None:
        """A first line for ``predict --output FILE`` (a CSV header, say); None: no header."""
        return None

    # --- 4. metrics and plots --------------------------------------------------

    def outputs(self, model: keras.Model, inputs: Any) -> np.ndarray:
        """The model's raw outputs for ``inputs``, in order, in batches."""
        parts = [np.asarray(model(*batch_of(self, list(chunk), 256 * number), training=False))
                 for number, chunk in enumerate(batches(iter(inputs), 256))]
        return np.concatenate(parts) if parts else np.zeros((0,))

    def scored_outputs(self, model: keras.Model, inputs: Any, artifacts: dict[str, Any]) -> Any:
        """What :meth:`metrics` scores (default: :meth:`outputs`); override when decoding
        needs the run's artifacts (a translator's vocabulary and beam width)."""
        return self.outputs(model, inputs)

    def metrics(self, targets: Any, outputs: np.ndarray, artifacts: dict[str, Any]) -> dict:
        raise NotImplementedError

    def plots(self, metrics: dict, artifacts: dict[str, Any], directory: Path, name: str) -> None:
        """Write the app's plots for one evaluated split (optional)."""

    def summary(self, name: str, metrics: dict) -> str:
        """One line for the terminal about one evaluated split."""
        return f"{name}: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                        if isinstance(v, float))

    def details(self, metrics: dict) -> str:
        """More lines ``evaluate`` prints (a confusion matrix, say)."""
        return ""

    def baselines(self, config: Any, prepared: Prepared) -> list[Any]:
        """Reference models fitted on the training split, reported beside the model.

        Each has ``name``, ``settings`` and ``outputs(inputs)`` returning what
        :meth:`outputs` returns for the model (see :mod:`rnn_templates.baselines`).
        """
        return []


def merge_data(first: Any, second: Any) -> Any:
    """Two splits' inputs (or targets) as one: arrays, lists, tuples and dicts of them.

    Example:
        >>> merge_data((np.array([[1, 2]]), ["a"]), (np.array([[3, 4]]), ["b"]))
        (array([[1, 2],
               [3, 4]]), ['a', 'b'])
    """
    if isinstance(first, dict):
        return {key: merge_data(first[key], second[key]) for key in first}
    if isinstance(first, tuple):
        return tuple(merge_data(a, b) for a, b in zip(first, second, strict=True))
    if isinstance(first, list):
        return first + list(second)
    a, b = np.asarray(first), np.asarray(second)
    if a.ndim and a.shape[1:] == b.shape[1:]:
        return np.concatenate([a, b])
    return list(first) + list(second)


def data_fingerprint(*arrays: Any) -> str:
    """A SHA-256 of arrays' contents (the identity of training data, for tuning and for
    resuming); an argument may also be a list, tuple or dict of them (several targets)."""
    digest = hashlib.sha256()
    for array in _leaves(arrays):
        array = np.asarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.astype(str).tobytes() if array.dtype == object else array.tobytes())
    return digest.hexdigest()


def _leaves(nest: Any) -> Iterator[Any]:
    """The arrays of a nest of lists, tuples and dicts (a string is a leaf), in order."""
    if isinstance(nest, dict):
        for key in sorted(nest):
            yield from _leaves(nest[key])
    elif isinstance(nest, list | tuple) and not (
            nest and all(isinstance(item, str | int | float) for item in nest)):
        for item in nest:
            yield from _leaves(item)
    else:
        yield nest


def _config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _load_artifacts(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ARTIFACTS_FILE
    if not path.is_file():
        raise UserInputError("run directory has no artifacts.json", where=str(run_dir),
                             fix="train again, or point --run-dir at a run written by rnnt")
    return json.loads(path.read_text(encoding="utf-8"))


def batch_of(app: App, items: list[Any], first: int) -> list[Any]:
    """``app.to_batch(items, first)``, or ``app.to_batch(items)`` for an app written
    before the hook took ``first`` (its outputs do not depend on it)."""
    parameters = inspect.signature(app.to_batch).parameters.values()
    if sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
           for p in parameters) >= 2:
        return app.to_batch(items, first)
    return app.to_batch(items)


def load_keras_model(path: Path) -> keras.Model:
    """Load a ``.keras`` file, turning a corrupt or truncated file into one clear line."""
    from rnn_templates.saving import register_all

    register_all()
    if not path.is_file():
        raise UserInputError("model file not found", where=str(path),
                             fix="train first, or check the path")
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # zip, h5 and deserialization errors vary by cause
        raise UserInputError(
            "cannot load the model file (corrupt, truncated or not a .keras file)",
            where=str(path), received=f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
            if str(error) else type(error).__name__,
            fix="train the run again, or point at another model",
        ) from None


class Runner:
    """The lifecycle of one :class:`App`: what the five CLI verbs call.

    ``distribution`` is where models are built and fitted (one device by
    default); :meth:`train` sets it from its ``strategy``; set it before
    :meth:`tune` to retrain the best model under one.
    """

    distribution: distribute.Distribution = distribute.SINGLE

    def __init__(self, app: App):
        self.app = app

    def _check_backend(self, verb: str) -> None:
        """Refuse, before any work, what this backend cannot finish."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return
        if self.app.needs_tensorflow and verb != "export":  # exports run on TensorFlow
            raise UserInputError(
                f"{self.app.name} {verb} needs the TensorFlow backend (its model reads raw "
                "strings, which only TensorFlow runs)", where="KERAS_BACKEND",
                received=backend, fix=f"run it with KERAS_BACKEND=tensorflow ({self.app.name} "
                "predict from an exported SavedModel runs on any backend)")
        if verb in ("train", "tune", "export"):
            # The export is built by a TensorFlow process that imports the app's class.
            app = type(self.app)
            try:
                found = getattr(importlib.import_module(app.__module__), app.__qualname__,
                                None) if app.__module__ != "__main__" else None
            except ImportError:
                found = None
            if found is not app:
                raise UserInputError(
                    f"on the {backend} backend the export is built by a TensorFlow process "
                    "that imports the app, and this app's class cannot be imported by name",
                    where="KERAS_BACKEND", received=f"{app.__module__}.{app.__qualname__}",
                    fix="define the app in an importable module (not a script or a function), "
                    "or run with KERAS_BACKEND=tensorflow")

    # --- train -----------------------------------------------------------------

    def train(self, config: Any, run_dir: str | os.PathLike, *, overwrite: bool = False,
              strategy: str | distribute.Distribution = "none") -> dict:
        """Train the configured model and write a complete run directory.

        ``strategy``: one of :data:`~rnn_templates.distribute.STRATEGIES`; with
        ``multiworker`` only the chief writes ``run_dir``, every other worker a
        private scratch directory it removes (:mod:`rnn_templates.distribute`).

        Returns:
            The run's metrics (also in ``metrics.json``).
        """
        self.distribution = distribute.distribution(strategy)  # before any TensorFlow op
        self._check_backend("train")
        data = self.app.load_data(config)  # bad input fails here, before anything is written
        run_dir = Path(run_dir)
        with (distribute.output_directory(run_dir, self.distribution) as mine,
              run_directory(mine, overwrite=overwrite, config=_config_dict(config)) as work):
            set_seed(config.seed, config.deterministic)
            prepared = self.app.prepare(config, data)
            metrics = self._train_in(config, prepared, work, keras_tuner.HyperParameters())
        print(self._summary(run_dir, metrics) if self.distribution.chief else
              f"{self.distribution}: finished; the chief writes {run_dir}")
        return metrics

    def _train_in(self, config: Any, prepared: Prepared, work: Path,
                  hyperparameters: keras_tuner.HyperParameters,
                  extra: dict[str, Any] | None = None, refit_epochs: int | None = None) -> dict:
        model, training = self._fit_or_resume(config, prepared, work, hyperparameters,
                                              epochs=refit_epochs)
        baselines = self._fit_baselines(config, prepared, work)
        metrics: dict[str, Any] = {"training": training, **(extra or {})}
        self._keep_training_keys(prepared, work)
        # A model refitted on train + validation is scored on the test split only.
        for split in ("test",) if refit_epochs else ("validation", "test"):
            inputs, targets = prepared.splits[split]
            if len(targets):
                metrics[split] = self._evaluate(model, inputs, targets, prepared.artifacts,
                                                work, split, baselines)
        self.app.write_held_out(work, *prepared.splits["test"], prepared.artifacts)
        held_out = prepared.splits["test"][0]
        if not len(held_out):
            held_out = prepared.splits["validation"][0]
        metrics["export"] = self._export(model, prepared.artifacts, work / SAVED_MODEL_DIR,
                                         list(held_out[:8]))
        io.write_json(work / "metrics.json", metrics)
        return metrics

    def _fit_or_resume(self, config: Any, prepared: Prepared, work: Path,
                       hyperparameters: keras_tuner.HyperParameters,
                       extra_callbacks: list[keras.callbacks.Callback] | None = None,
                       epochs: int | None = None) -> tuple[keras.Model, dict]:
        """Train, or reload the model a resumed run already trained (export failed, say).

        ``epochs``: train on train + validation (:meth:`App.refit_data`) for
        exactly that many epochs and keep the last, instead of early stopping.
        """
        distribute.check_same_start(self.distribution, work)
        self._check_same_data(prepared, work, epochs)
        if (work / MODEL_FILE).is_file() and (work / TRAINING_FILE).is_file():
            training = json.loads((work / TRAINING_FILE).read_text(encoding="utf-8"))
            return load_keras_model(work / MODEL_FILE), training
        hypermodel = self.app.hypermodel(config, prepared)
        with self.distribution.scope():  # variables on every replica
            core = hypermodel.build(hyperparameters)
        fit_data, fixed = self.app.fit_data(prepared), {}
        if epochs:
            fit_data, fixed = self.app.refit_data(prepared), {"epochs": epochs}
        # Refitted on train + validation for a fixed count of epochs: nothing held out
        # to watch, so the training loss is logged in its place.
        monitor = "loss" if epochs else self.app.monitor_of(config)
        callbacks = standard_callbacks(work, monitor=monitor,
                                       patience=epochs + 1 if epochs else config.patience,
                                       restore_best=not epochs, lr_decay=config.lr_decay,
                                       lr_decay_after=config.lr_decay_after)
        started = time.perf_counter()
        with self.distribution.scope():
            history = hypermodel.fit(hyperparameters, core, **fit_data,
                                     callbacks=[*callbacks, *(extra_callbacks or [])],
                                     verbose=progress_verbosity(), **fixed)
        if not history_is_finite(history):
            raise UserInputError(
                "training diverged (the loss became NaN or infinite)",
                where="config",
                received=f"learning_rate={hyperparameters.get('learning_rate')}",
                fix="lower --set learning_rate=..., or keep gradient clipping on (clipnorm=1.0)",
            )
        early_stopping, run_log = callbacks[1], callbacks[2]  # see standard_callbacks
        training = {
            "epochs_run": len(run_log.records),
            "kept_epoch": epochs or int(early_stopping.best_epoch) + 1,
            "train_examples": int(len(prepared.splits["train"][1]))
            + (int(len(prepared.splits["validation"][1])) if epochs else 0),
            "seconds": round(time.perf_counter() - started, 2),
            "hyperparameters": _chosen(hyperparameters),
            "strategy": self.distribution.name, "replicas": self.distribution.replicas,
        }
        model = self.app.serving_model(prepared, core)
        io.write_json(work / ARTIFACTS_FILE, prepared.artifacts)
        io.write_json(work / APP_FILE, {"app": self.app.name})
        with io.atomic_path(work / MODEL_FILE) as temporary:
            model.save(temporary)
        io.write_json(work / TRAINING_FILE, training)
        # The model is safe on disk: the epoch backups are no longer needed.
        shutil.rmtree(work / BACKUP_DIR, ignore_errors=True)
        reporting.plot_learning_curves(work / HISTORY_FILE, work / "learning_curves.png",
                                       kept_epoch=training["kept_epoch"] - 1)
        return model, training

    def _check_same_data(self, prepared: Prepared, work: Path, epochs: int | None,
                         name: str = DATA_FINGERPRINT_FILE) -> None:
        """Record what a run trains on (in ``work / name``); refuse to resume it on other
        data (its saved epochs, or the search it retrains the best of, belong to the data
        it started with)."""
        fit_data = self.app.refit_data(prepared) if epochs else self.app.fit_data(prepared)
        fingerprint = data_fingerprint(fit_data)
        path = work / name
        if path.is_file():
            started = path.read_text(encoding="utf-8").strip()
            if started != fingerprint:
                raise UserInputError(
                    "the data changed since this interrupted run started", where=str(work),
                    expected=f"the data it started with (fingerprint {started[:12]})",
                    received=f"other data (fingerprint {fingerprint[:12]})",
                    fix="restore that data to resume the run, or train into another "
                    f"--run-dir (the interrupted run stays in {work} until you delete it)")
        else:
            io.write_text(path, fingerprint + "\n")

    def _fit_baselines(self, config: Any, prepared: Prepared, work: Path) -> list[Any]:
        """The app's reference models, fitted once (a resumed run reloads them)."""
        import joblib

        path = work / BASELINES_FILE
        if path.is_file():
            return joblib.load(path)
        baselines = self.app.baselines(config, prepared)
        if baselines:
            with io.atomic_path(path) as temporary:
                joblib.dump(baselines, temporary)
        return baselines

    def _evaluate(self, model: keras.Model, inputs: Any, targets: Any,
                  artifacts: dict[str, Any], directory: Path, name: str,
                  baselines: list[Any] = ()) -> dict:
        metrics = self.app.metrics(targets, self.app.scored_outputs(model, inputs, artifacts),
                                   artifacts)
        if baselines:
            metrics["baselines"] = {
                baseline.name: {**self.app.metrics(targets, baseline.outputs(inputs), artifacts),
                                "settings": baseline.settings}
                for baseline in baselines}
        self.app.plots(metrics, artifacts, directory, name)  # the baselines' scores included
        return metrics

    def _keep_training_keys(self, prepared: Prepared, work: Path) -> None:
        """Write the keys of the examples the model learns from (training and validation
        splits) to the run directory, when the app has keys."""
        parts = [self.app.example_keys(*prepared.splits[name])
                 for name in ("train", "validation") if len(prepared.splits[name][1])]
        if not parts or any(part is None for part in parts):
            return
        with io.atomic_path(work / TRAINING_KEYS_FILE) as temporary, open(temporary, "wb") as f:
            np.save(f, np.unique(np.concatenate(parts)))

    def _note_seen(self, training_keys: np.ndarray, examples: tuple[Any, Any], source: str,
                   metrics: dict) -> None:
        """Count (in ``metrics["seen_in_training"]``) and report the examples of
        ``examples`` (read from ``source``) that the model learnt from."""
        keys = self.app.example_keys(*examples)
        if keys is None:
            return
        seen = int(np.isin(keys, training_keys).sum())
        metrics["seen_in_training"] = seen
        if seen:
            print(f"note: {seen} of {len(keys)} examples of {source} are also among the "
                  "examples the model learnt from (its training and validation splits): their "
                  "scores overstate how it does on new data", file=sys.stderr)

    def _lines(self, name: str, metrics: dict) -> list[str]:
        """The model's summary line for one split, then one per baseline."""
        lines = [self.app.summary(name, metrics)]
        for baseline, scores in metrics.get("baselines", {}).items():
            lines.append(self.app.summary(f"  {baseline}", scores))
        return lines

    def _summary(self, run_dir: Path, metrics: dict) -> str:
        lines = [f"run directory: {run_dir.resolve()}"]
        for split in ("validation", "test"):
            if split in metrics:
                lines += self._lines(split, metrics[split])
        return "\n".join(lines)

    # --- in-memory API (benchmarks, notebooks) ------------------------------------

    def _prepare_arrays(self, config: Any, inputs: Any, targets: Any) -> tuple[Any, Prepared]:
        if hasattr(config, "test_fraction"):
            config = dataclasses.replace(config, test_fraction=0.0)
        data = self.app.from_arrays(config, inputs, targets)
        set_seed(config.seed, config.deterministic)
        return config, self.app.prepare(config, data)

    def fit(self, config: Any, inputs: Any, targets: Any, work_dir: str | os.PathLike,
            hyperparameters: keras_tuner.HyperParameters | None = None, *,
            callbacks: list[keras.callbacks.Callback] | None = None,
            ) -> tuple[keras.Model, dict[str, Any], dict[str, Any]]:
        """Train on in-memory arrays; nothing is held out for testing.

        ``config``'s validation fraction drives early stopping; score the
        returned model with :meth:`predict_outputs` on data of your own.

        Args:
            config: The app's config.
            inputs: Raw inputs (texts for a text app).
            targets: Their targets (class names for a classifier).
            work_dir: Where the callbacks write (history, checkpoints, logs).
            hyperparameters: Tuned values (from :meth:`search`); default: the config's.
            callbacks: More callbacks for ``fit`` (a timer, say), after the standard ones.

        Returns:
            ``(model, artifacts, training)``: the serving model (raw inputs to
            outputs), what it needs besides its weights, and the training facts.
        """
        self._check_backend("fit")
        work = Path(work_dir)
        if (work / MODEL_FILE).exists():
            raise ValueError(f"`work_dir` already holds a trained model; received {work}; "
                             "use a new folder for each fit")
        config, prepared = self._prepare_arrays(config, inputs, targets)
        work.mkdir(parents=True, exist_ok=True)
        model, training = self._fit_or_resume(
            config, prepared, work, hyperparameters or keras_tuner.HyperParameters(),
            extra_callbacks=callbacks)
        return model, prepared.artifacts, training

    def search(self, config: Any, inputs: Any, targets: Any, tuning_dir: str | os.PathLike,
               *, restart: bool = False
               ) -> tuple[keras_tuner.HyperParameters, list[dict[str, Any]]]:
        """A search on in-memory arrays (validation split only); ``(best, leaderboard rows)``.

        Pass ``best`` to :meth:`fit` to retrain with it.
        """
        self._check_backend("search")
        config, prepared = self._prepare_arrays(config, inputs, targets)
        tuner, _ = self._search(config, prepared, Path(tuning_dir), restart=restart)
        return tuner.get_best_hyperparameters(1)[0], leaderboard(tuner)

    def predict_outputs(self, model: keras.Model, inputs: Any) -> np.ndarray:
        """The model's outputs for in-memory raw inputs, in order."""
        return self.app.outputs(model, list(inputs))

    # --- tune ------------------------------------------------------------------

    def tune(self, config: Any, run_dir: str | os.PathLike, *, tuning_dir: str | os.PathLike,
             overwrite: bool = False, restart: bool = False, workers: int = 0,
             oracle_address: str | None = None, worker_timeout: float = 0.0,
             standby: StandbyWorkers | None = None) -> dict | None:
        """Search hyperparameters, then retrain the best and write a run directory.

        The search lives in ``<tuning_dir>/<app>-<fingerprint>``, the
        fingerprint covering the training data's content and every setting but
        ``max_trials`` (and ``epochs``, which only the retraining uses, and the data
        files' paths): running
        the same command again resumes it (finished trials are kept, the
        interrupted one resumes from its last finished epoch), other data or
        settings start another search, and ``restart`` starts afresh.

        ``workers`` > 0 makes this process the chief: it serves the search at
        ``oracle_address`` (default ``127.0.0.1:0``) and starts that many local
        workers (:mod:`rnn_templates.workers`). An ``oracle_address`` with no
        local workers serves the search to workers on other hosts only. With
        keras-tuner's distribution variables set instead, a worker only runs
        trials and a chief serves. ``standby``: the local workers, if the caller
        started them already (:class:`rnn_templates.standby.StandbyWorkers`).

        The best hyperparameters are then retrained on train + validation for
        the best trial's epoch count (``refit=train+validation``, when the app
        allows it) or on train with early stopping (``refit=train``), scored
        once on the test split, and exported.
        """
        self._check_backend("tune")
        _check_apart(Path(run_dir), Path(tuning_dir))
        role = tuner_role()
        if role == "worker" and restart:
            raise UserInputError("--restart on a worker would wipe the shared search",
                                 where="--restart", fix="restart the search on the chief only")
        serve = bool(workers) or oracle_address is not None
        if serve and role != "single":
            option = "--workers" if workers else "--oracle-address"
            raise UserInputError(
                f"{option} makes this process the chief", where=option,
                received=f"KERASTUNER_TUNER_ID={os.environ.get('KERASTUNER_TUNER_ID')}",
                fix=f"unset the KERASTUNER_* variables, or drop {option}")
        if serve:
            from rnn_templates.standby import parse_address

            oracle_address = oracle_address or "127.0.0.1:0"
            parse_address(oracle_address)  # a typo fails now, not after the data is read
        # Local workers start now (if the caller has not): their imports overlap the
        # chief's reading of the data.
        if standby is None:
            standby = StandbyWorkers(workers if serve else 0, (type(self.app).__module__,))
        with standby:
            return self._tune(config, Path(run_dir), Path(tuning_dir), role=role, serve=serve,
                              overwrite=overwrite, restart=restart, workers=workers,
                              oracle_address=oracle_address, worker_timeout=worker_timeout,
                              standby=standby)

    def _tune(self, config: Any, run_dir: Path, tuning_dir: Path, *, role: str, serve: bool,
              overwrite: bool, restart: bool, workers: int, oracle_address: str | None,
              worker_timeout: float, standby: StandbyWorkers) -> dict | None:
        data = self.app.load_data(config)
        if role == "worker":
            set_seed(config.seed, config.deterministic)
            prepared = self.app.prepare(config, data)
            self._search(config, prepared, tuning_dir, restart=False)
            print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: trials finished")
            return None
        with run_directory(run_dir, overwrite=overwrite, config=_config_dict(config)) as work:
            set_seed(config.seed, config.deterministic)
            prepared = self.app.prepare(config, data)
            # A rerun of an interrupted tune on other data is refused before any trial.
            self._check_same_data(prepared, work, None, SEARCH_DATA_FILE)
            tuner, project = self._search(config, prepared, tuning_dir, restart=restart,
                                          workers=workers, oracle_address=oracle_address,
                                          worker_timeout=worker_timeout, serve=serve,
                                          standby=standby)
            best_trial = tuner.oracle.get_best_trials(1)[0]
            rows = write_reports(tuner, work)
            epochs = best_epochs(tuner, best_trial.trial_id)
            refit = (config.refit == "train+validation" and epochs is not None
                     and self.app.refit_on_validation)
            tuning = {
                "tuner": config.tuner, "objective": tuner.oracle.objective.name,
                "direction": tuner.oracle.objective.direction,
                "trials": sum(row["status"] == "COMPLETED" for row in rows),
                "failed": sum(row["status"] != "COMPLETED" for row in rows),
                "best_trial": best_trial.trial_id, "best_score": float(best_trial.score),
                "best": _chosen(best_trial.hyperparameters), "search": str(project),
                "refit": "train+validation" if refit else "train",
                "refit_epochs": epochs if refit else None,
            }
            set_seed(config.seed, config.deterministic)  # the retrained model starts as trained
            metrics = self._train_in(config, prepared, work, best_trial.hyperparameters,
                                     extra={"tuning": tuning},
                                     refit_epochs=epochs if refit else None)
        print(self._summary(run_dir, metrics))
        print(f"leaderboard: {run_dir / 'leaderboard.md'}")
        return metrics

    def _search(self, config: Any, prepared: Prepared, tuning_dir: Path, *, restart: bool,
                workers: int = 0, oracle_address: str | None = None,
                worker_timeout: float = 0.0, serve: bool = False,
                standby: StandbyWorkers | None = None):
        """Run (or serve, or join) the search; the chief's tuner and project folder."""
        from rnn_templates.workers import quiet_condition_messages

        quiet_condition_messages()  # trials cross between chief and workers as messages
        hypermodel = self.app.hypermodel(config, prepared)
        fit_data = self.app.fit_data(prepared)
        # The data's content is in the fingerprint, not how its path was spelt (nor the
        # test file, which no trial reads), nor the knobs no trial depends on (search=False).
        settings = {k: v for k, v in searched(config).items()
                    if k not in ("max_trials", "epochs", "refit", "data", "test_data")}
        fingerprint = data_fingerprint(
            json.dumps(settings, sort_keys=True, default=str),
            *(part for pair in fit_data.values() for part in pair))[:12]
        project = f"{self.app.name}-{fingerprint}"
        role = tuner_role()
        if role == "worker":
            state = f"joining as {os.environ.get('KERASTUNER_TUNER_ID')}"
        else:
            state = "resumed" if (tuning_dir / project).is_dir() and not restart else "new"
        lock = None
        if role != "worker":  # one chief per search: a second command would share its trials
            lock = DirectoryLock(io.make_folder(tuning_dir / ".locks" / project,
                                                option="--tuning-dir"),
                                 what="search", fix="wait for that search to finish (workers "
                                 "join it with the command it prints), or use another "
                                 "--tuning-dir")
            lock.acquire()
        try:
            return self._run_search(config, tuning_dir, project, role, state,
                                    hypermodel, fit_data, restart=restart, workers=workers,
                                    oracle_address=oracle_address,
                                    worker_timeout=worker_timeout, serve=serve,
                                    standby=standby)
        finally:
            if lock is not None:
                lock.release()

    def _run_search(self, config, tuning_dir: Path, project: str, role: str,
                    state: str, hypermodel, fit_data, *, restart: bool, workers: int,
                    oracle_address: str | None, worker_timeout: float, serve: bool,
                    standby: StandbyWorkers | None):
        print(f"search {tuning_dir / project} ({state})", file=sys.stderr)
        try:
            tuner = make_tuner(
                hypermodel, kind=config.tuner, objective=config.tuning_objective,
                max_trials=config.max_trials, max_epochs=config.tuning_epochs,
                directory=tuning_dir, project_name=project, seed=config.seed,
                overwrite=restart, executions_per_trial=config.executions_per_trial,
                monitor=self.app.monitor_of(config), patience=config.patience,
                lr_decay=(config.lr_decay, config.lr_decay_after),
                # Served to parallel workers: the costliest trials first.
                trial_cost=(lambda values: trial_cost(values, config))
                if serve or role == "chief" else None,
            )
        except RuntimeError as error:  # keras-tuner could not reload the folder
            raise UserInputError("the search folder cannot be resumed",
                                 where=str(tuning_dir / project), received=str(error)[:200],
                                 fix="add --restart to start this search afresh") from None
        if role != "worker":  # for workers on other hosts or in other folders: full paths
            from rnn_templates.data.readers import resolve_path

            # The files as this process found them (the shipped sample from any folder).
            io.write_yaml(tuning_dir / project / SEARCH_CONFIG, {
                key: os.path.abspath(resolve_path(value)) if key in ("data", "test_data")
                and value and isinstance(value, str) and "://" not in value else value
                for key, value in _config_dict(config).items()})
        started = time.perf_counter()
        if serve or role == "chief":
            from rnn_templates.standby import parse_address
            from rnn_templates.workers import Chief

            host, port = (parse_address(oracle_address) if serve else
                          (os.environ["KERASTUNER_ORACLE_IP"],
                           int(os.environ["KERASTUNER_ORACLE_PORT"])))
            argv = [self.app.name, "tune", "--config", str(tuning_dir / project / SEARCH_CONFIG),
                    "--tuning-dir", str(tuning_dir)]
            Chief(tuner, host=host, port=port, argv=argv, workers=workers,
                  log_dir=tuning_dir / project / "workers", worker_timeout=worker_timeout,
                  standby=standby).serve()
        else:
            tuner.search(**fit_data, epochs=config.tuning_epochs,
                         verbose=progress_verbosity())
        if role == "worker":
            return None
        print(f"search: {len(tuner.oracle.trials)} trials, "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        if not tuner.oracle.get_best_trials(1):
            raise UserInputError("the search finished no trial", where=str(tuning_dir / project),
                                 fix="raise --set max_trials, or check the trial errors above")
        write_reports(tuner, tuning_dir / project)
        return tuner, tuning_dir / project

    # --- evaluate --------------------------------------------------------------

    def evaluate(self, run_dir: str | os.PathLike, data_path: str | None = None,
                 overrides: list[str] | None = None, config_file: str | None = None) -> dict:
        """Metrics and plots on the run's held-out split, or on another labelled file.

        ``overrides`` may only name the config's ``DATA_KEYS`` (how to read the
        other file); the rest of the config is the run's own.
        Results go to ``evaluation-<name>.json`` (and the app's plots) in the
        run directory, ``<name>`` being ``test`` or the file's stem.
        """
        from rnn_templates.config import data_overrides, load_config

        self._check_backend("evaluate")
        run_dir = Path(run_dir)
        requested = data_overrides(self.app.config_class, config_file, overrides or [],
                                   has_data=data_path is not None)
        model = load_keras_model(self._model_file(run_dir, "evaluate"))
        artifacts = _load_artifacts(run_dir)
        if data_path is None:
            inputs, targets = self.app.read_held_out(run_dir, artifacts)
            source = HELD_OUT
            name = _report_name(run_dir, "test", source)
        else:
            stored = read_config(run_dir) or {}  # a run without one reads with the defaults
            stored.update(requested, data=data_path)
            stored.pop("test_data", None)  # the file given is the one evaluated
            config = load_config(self.app.config_class, None,
                                 {k: v for k, v in stored.items()
                                  if k in {f.name for f in dataclasses.fields(
                                      self.app.config_class)}})
            inputs, targets = self.app.labelled(self.app.load_evaluation_data(config),
                                                artifacts)
            source = str(Path(data_path).resolve())
            name = _report_name(run_dir, Path(data_path).stem, source)
        if not len(targets):
            raise UserInputError("nothing to evaluate: no labelled examples", where=source,
                                 fix="evaluate on a file with examples (--data FILE)")
        baselines = []
        if (run_dir / BASELINES_FILE).is_file():
            import joblib

            baselines = joblib.load(run_dir / BASELINES_FILE)
        metrics = self._evaluate(model, inputs, targets, artifacts, run_dir, f"evaluation-{name}",
                                 baselines)
        metrics["source"] = source
        if data_path is not None and (run_dir / TRAINING_KEYS_FILE).is_file():
            self._note_seen(np.load(run_dir / TRAINING_KEYS_FILE), (inputs, targets),
                            str(data_path), metrics)
        io.write_json(run_dir / f"evaluation-{name}.json", metrics)
        print("\n".join(self._lines(name, metrics)))
        details = self.app.details(metrics)
        if details:
            print(details)
        return metrics

    def _model_file(self, run_dir: Path, verb: str) -> Path:
        """The run's ``model.keras``, or a line that says why there is none (or that
        another app made it)."""
        path = run_dir / MODEL_FILE
        if not path.exists():
            hint = " (an interrupted run: train again to resume)" if Path(
                f"{run_dir}.partial").exists() else ""
            raise UserInputError(f"no trained model in the run directory{hint}",
                                 where=str(path), fix="train first, or check --run-dir")
        self._check_app(path, verb)
        return path

    # --- export ----------------------------------------------------------------

    def _export(self, model: keras.Model, artifacts: dict[str, Any], path: Path,
                sample: list[Any] | None) -> dict[str, float]:
        if keras.backend.backend() != "tensorflow":
            return self._export_under_tensorflow(model, artifacts, path, sample)
        serve = self.app.serve(model, artifacts)
        differences: dict[str, float] = {}

        def check(temporary: Path) -> None:
            # Before the export takes the place of the old one: a failed check leaves
            # the old export (or nothing) at the destination.
            batch = self.app.to_batch(sample)
            expected = {key: _numpy(value) for key, value in serve(*batch).items()}
            try:
                differences.update(check_in_fresh_process(
                    temporary, [_numpy(tensor) for tensor in batch], expected, atol=1e-4,
                    rtol=1e-5))
            except RuntimeError as error:
                raise UserInputError(
                    "the export failed its check (nothing was replaced)", where=str(path),
                    expected="a SavedModel that answers as the trained model does",
                    received=str(error), fix="export with --no-check to write it unchecked, "
                    "and report this as a bug") from None

        # The artifacts go inside the export (what predict needs to read inputs), written
        # with it and renamed into place with it: never an export without them.
        export_saved_model(model, path, serve, self.app.input_signature(),
                           extra_endpoints=self.app.extra_endpoints(model, artifacts),
                           extra_files={ARTIFACTS_FILE: json.dumps(artifacts, indent=2,
                                                                   sort_keys=True) + "\n",
                                        APP_FILE: json.dumps({"app": self.app.name}) + "\n"},
                           check=None if sample is None else check)
        return differences

    def _export_under_tensorflow(self, model: keras.Model, artifacts: dict[str, Any],
                                 path: Path, sample: list[Any] | None) -> dict[str, float]:
        """:meth:`_export` in a child process on the TensorFlow backend, same weights.

        A SavedModel is TensorFlow's own format. Keras writes one from JAX too
        (through jax2tf), but that export runs only on the platform it was
        traced on, cannot take strings, and carries none of the serving
        signature's input checks (nothing raises inside a JAX trace).

        The child also runs the model on a probe input (:func:`_probe_inputs`) and
        compares it with this backend's answer: an export that agrees with its
        TensorFlow model is only as good as that model's agreement with the one
        trained here. The largest difference is returned under ``"<backend>
        model"``.
        """
        import pickle
        import subprocess
        import tempfile

        app = type(self.app)
        with tempfile.TemporaryDirectory(prefix="rnnt-export-") as scratch:
            scratch = Path(scratch)
            model.save(scratch / MODEL_FILE)
            (scratch / ARTIFACTS_FILE).write_text(json.dumps(artifacts), encoding="utf-8")
            (scratch / "sample.pkl").write_bytes(pickle.dumps(sample))
            probe = None if sample is None else _probe_inputs(model)
            if probe is not None:
                answer = keras.tree.map_structure(keras.ops.convert_to_numpy,
                                                  model(probe, training=False))
                (scratch / "probe.pkl").write_bytes(pickle.dumps(
                    {"backend": keras.backend.backend(), "inputs": probe, "outputs": answer}))
            limit = 2 * FRESH_PROCESS_TIMEOUT  # the export, then its own reload check
            try:
                process = subprocess.run(
                    [sys.executable, "-c", _EXPORT_CHILD,
                     f"{app.__module__}:{app.__qualname__}", str(scratch),
                     str(Path(path).resolve())],
                    # On the CPU: the export needs no GPU, and the parent may hold its memory.
                    env=dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES=""),
                    capture_output=True, text=True, check=False, timeout=limit)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"the export under the TensorFlow backend did not finish "
                                   f"within {limit:g} s") from None
            result = scratch / "result.json"
            if process.returncode == 0 and result.is_file():
                answer = json.loads(result.read_text(encoding="utf-8"))
                if "error" in answer:
                    raise UserInputError(answer["error"])
                return answer["differences"]
        raise RuntimeError(f"the export under the TensorFlow backend failed (exit "
                           f"{process.returncode}):\n{process.stderr[-4000:]}")

    def export(self, run_dir: str | os.PathLike, output: str | None = None, *,
               check: bool = True) -> Path:
        """(Re)export a run's model as a SavedModel with the app's ``serve`` signature."""
        self._check_backend("export")
        run_dir = Path(run_dir)
        model_file = self._model_file(run_dir, "export")
        destination = Path(output) if output else run_dir / SAVED_MODEL_DIR
        io.check_replaceable(destination, option="--output", kind="export")
        model = load_keras_model(model_file)
        artifacts = _load_artifacts(run_dir)
        sample = None
        if check:
            inputs, _ = self.app.read_held_out(run_dir, artifacts)
            sample = list(inputs[:8])
            if not sample:
                raise UserInputError(
                    "nothing to check the export on: the run has no held-out examples",
                    where=str(run_dir), fix="export with --no-check, or train with a test "
                    "split (a test file, or a test fraction above 0)")
        differences = self._export(model, artifacts, destination, sample)
        if check:
            backend = differences.pop(f"{keras.backend.backend()} model", None)
            worst = max(differences.values(), default=0.0)
            across = ("" if backend is None else f"; the model on TensorFlow against "
                      f"{keras.backend.backend()}: {backend:.2g} relative")
            print(f"exported {destination}; fresh-process check passed "
                  f"(largest difference {worst:.2g}{across})")
        else:
            print(f"exported {destination}")
        return destination

    # --- predict ---------------------------------------------------------------

    def predict(self, model_path: str | os.PathLike, items: Iterable[str], *,
                batch_size: int = 256, progress: bool = False,
                describe: Callable[[int], str] | None = None) -> Iterator[dict[str, Any]]:
        """Stream predictions for raw inputs from a SavedModel or a run's ``model.keras``.

        ``describe(i)`` names the ``i``-th input (from 0) where the user gave it, e.g.
        ``"line 3 of inputs.txt"``; an input the app refuses is named so.
        """
        model_path = served_model(Path(model_path))
        self._check_app(model_path)
        serve = self._load_serving(model_path, self.app.endpoint())
        self.app.use_artifacts(_beside_model(model_path, ARTIFACTS_FILE))
        describe = describe or (lambda index: f"input {index + 1}")
        done = 0
        empty = True
        try:
            for chunk in batches(iter(items), batch_size):
                if empty:  # a model of another kind fails here, on its inputs or its outputs
                    rows = self._first_rows(model_path, serve, chunk, describe)
                else:
                    rows = self._rows(serve, chunk, done, describe)
                empty = False
                yield from rows
                done += len(chunk)
                if progress:
                    print(f"\r{done} predicted", end="", file=sys.stderr, flush=True)
        except UserInputError as error:
            error.inputs_done = done  # whose predictions were yielded before it
            raise
        if progress and done:
            print(file=sys.stderr)
        if empty:
            raise UserInputError("nothing to predict", where="predict",
                                 fix="give inputs as arguments, or --input FILE with one per line")

    def _rows(self, serve: Callable[..., dict], chunk: list[str], first: int,
              describe: Callable[[int], str]) -> list[dict[str, Any]]:
        parsed = []
        for index, item in enumerate(chunk, start=first):
            try:
                parsed.append(self.app.parse_input(item))
            except UserInputError as error:
                raise error.located(describe(index)) from None
        outputs = {k: _numpy(v) for k, v in serve(*batch_of(self.app, parsed, first)).items()}
        return list(self.app.prediction_rows(outputs, chunk, parsed))

    def _first_rows(self, path: Path, serve: Callable[..., dict], chunk: list[str],
                    describe: Callable[[int], str]) -> list[dict[str, Any]]:
        """The first batch's predictions; a model that does not fit the app is refused."""
        try:
            return self._rows(serve, chunk, 0, describe)
        except UserInputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as error:
            text = str(error).strip()
            detail = text.split(". ")[0].splitlines()[0][:100] if text else ""
            raise UserInputError(
                f"this model does not take or return what a {self.app.name} model does",
                where=str(path), received=f"{type(error).__name__} {detail}".strip(),
                fix=f"give a model made by `rnnt {self.app.name} train` or `export` (one "
                "exported by an earlier version: export its run again)") from None

    def _check_app(self, path: Path, verb: str = "predict") -> None:
        """Refuse a model another app wrote (its ``app.json``, beside it or in it)."""
        written_by = _beside_model(path, APP_FILE).get("app")
        if written_by and written_by != self.app.name:
            raise UserInputError(
                f"this model was made by the {written_by} app", where=str(path),
                expected=f"a {self.app.name} model",
                fix=f"use `rnnt {written_by} {verb}`, or give a {self.app.name} model")

    def _export_command(self, path: Path) -> str:
        """The ``rnnt <app> export`` that writes the SavedModel folder ``path`` again:
        from the run it sits in (a run's ``saved_model``), else from a run to name."""
        run = path.parent
        if path.name == "saved_model" and (run / "model.keras").is_file():
            return f"rnnt {self.app.name} export --run-dir {run}"
        return f"rnnt {self.app.name} export --run-dir RUN_DIR --output {path}"

    def _load_serving(self, path: Path, endpoint: str = "serve") -> Callable[..., dict]:
        if path.is_dir() and (path / "saved_model.pb").is_file():
            import tensorflow as tf

            try:
                loaded = tf.saved_model.load(str(path))
            except Exception as error:
                lines = str(error).strip().splitlines()
                detail = lines[0].strip()[:160] if lines else ""
                raise UserInputError(
                    "cannot load the SavedModel (corrupt or incomplete)", where=str(path),
                    received=f"{type(error).__name__}: {detail}" if detail
                    else type(error).__name__,
                    fix=f"export it again with {self._export_command(path)}",
                ) from None
            serve = getattr(loaded, endpoint, None)
            if serve is None:
                raise UserInputError(f"the SavedModel has no `{endpoint}` function",
                                     where=str(path),
                                     fix=f"export it with {self._export_command(path)}")
            serve._keep_alive = loaded  # the function needs the object that owns the variables
            return serve
        if path.suffix == ".keras" and path.is_file():
            backend = keras.backend.backend()
            if backend != "tensorflow":
                raise UserInputError(
                    "predicting from a .keras model runs the app's serving function, which "
                    "needs the TensorFlow backend", where=str(path),
                    received=f"KERAS_BACKEND={backend}", fix="give the exported SavedModel "
                    "folder (the run's saved_model, which runs on any backend), or run with "
                    "KERAS_BACKEND=tensorflow")
            model, artifacts = load_keras_model(path), _load_artifacts(path.parent)
            if endpoint != "serve":
                return self.app.extra_endpoints(model, artifacts)[endpoint][0]
            return self.app.serve(model, artifacts)
        raise UserInputError(
            "no exported model found", where=str(path),
            expected="a SavedModel folder (with saved_model.pb) or a run's model.keras",
            fix=f"run `rnnt {self.app.name} export --run-dir ...` first, or check --model",
        )


HELD_OUT = "the run's held-out test split"


def _beside_model(path: Path, name: str) -> dict[str, Any]:
    """The JSON file ``name`` of a model: in an exported folder, or in the run that holds
    it; empty if neither has it."""
    for candidate in (path / name, path.parent / name):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    return {}



def _report_name(run_dir: Path, stem: str, source: str) -> str:
    """``stem``, or ``stem-2``... so one file's report never replaces another's."""
    candidate, number = stem, 1
    while (run_dir / f"evaluation-{candidate}.json").is_file():
        previous = json.loads((run_dir / f"evaluation-{candidate}.json").read_text("utf-8"))
        if previous.get("source") == source:
            break  # the same file evaluated again: its own report is updated
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


def _check_apart(run_dir: Path, tuning_dir: Path) -> None:
    """The search folder is neither a file, nor the run directory, nor inside or around it
    (replacing the run would delete the search, or the search would sit in the run)."""
    io.check_folder_path(tuning_dir, option="--tuning-dir")  # nothing written yet
    run, search = Path(os.path.abspath(run_dir)), Path(os.path.abspath(tuning_dir))
    if run == search or run in search.parents or search in run.parents:
        raise UserInputError(
            "--tuning-dir and --run-dir overlap", where=str(tuning_dir),
            received=f"--run-dir {run_dir}", expected="two separate folders",
            fix="give the search its own folder (the default is runs/<app>/tuning)")


# Runner._export in a TensorFlow-backend process: argv = app ("module:Class"), the
# scratch folder (model, artifacts, sample), the destination.
_EXPORT_CHILD = """
import importlib, json, pickle, sys
from pathlib import Path
from rnn_templates.app import (ARTIFACTS_FILE, MODEL_FILE, Runner, backend_difference,
                               load_keras_model)
from rnn_templates.errors import UserInputError
target, scratch, destination = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
module, name = target.split(":")
runner = Runner(getattr(importlib.import_module(module), name)())
artifacts = json.loads((scratch / ARTIFACTS_FILE).read_text(encoding="utf-8"))
sample = pickle.loads((scratch / "sample.pkl").read_bytes())
try:
    model = load_keras_model(scratch / MODEL_FILE)
    differences = {}
    if (scratch / "probe.pkl").is_file():
        probe = pickle.loads((scratch / "probe.pkl").read_bytes())
        differences[probe["backend"] + " model"] = backend_difference(
            model, probe["inputs"], probe["outputs"], probe["backend"])
    differences.update(runner._export(model, artifacts, destination, sample))
    answer = {"differences": differences}
except UserInputError as error:
    answer = {"error": str(error)}
(scratch / "result.json").write_text(json.dumps(answer), encoding="utf-8")
"""


def _probe_inputs(model: keras.Model) -> Any:
    """A deterministic input for ``model`` (two rows; a free length is 8): whole numbers
    from 0 to 99 (pitches, say, or values a window could hold). ``None`` for a model
    that reads strings, or whose inputs the shapes do not say."""
    rng = np.random.default_rng(0)
    probes = []
    for tensor in model.inputs:
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype == "string" or tensor.shape is None or not len(tensor.shape):
            return None
        shape = [2] + [8 if size is None else int(size) for size in tensor.shape[1:]]
        probes.append(rng.integers(0, 100, shape).astype(dtype))
    return probes[0] if len(probes) == 1 else probes


def backend_difference(model: keras.Model, inputs: Any, outputs: Any, backend: str,
                       tolerance: float = 1e-3) -> float:
    """The largest difference, relative to the answer's scale, between ``model``'s answer
    to ``inputs`` here and ``outputs``, its answer on ``backend``.

    Raises:
        RuntimeError: beyond ``tolerance``: the model computes differently here.
    """
    here = keras.tree.map_structure(keras.ops.convert_to_numpy, model(inputs, training=False))
    largest = 0.0
    for got, want in zip(keras.tree.flatten(here), keras.tree.flatten(outputs), strict=True):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
        largest = max(largest, float(np.abs(got - want).max()) / scale if want.size else 0.0)
    if largest > tolerance:
        raise RuntimeError(f"the model answers differently on TensorFlow than on {backend} "
                           f"(relative difference {largest:g}): the export would not serve "
                           "the model trained here")
    return largest


def _chosen(hyperparameters: keras_tuner.HyperParameters) -> dict[str, Any]:
    """The hyperparameters' values, without Hyperband's bookkeeping (``tuner/...``)."""
    return {name: value for name, value in hyperparameters.values.items()
            if not name.startswith("tuner/")}


def _numpy(value: Any) -> np.ndarray:
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    if array.dtype == object:  # tf.string comes back as bytes
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v
                         for v in array.ravel()], dtype=object).reshape(array.shape)
    return array

