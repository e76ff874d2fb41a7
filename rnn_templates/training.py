"""Fitting with the callbacks people expect, and seeds.

A run killed mid-training keeps its ``.partial`` run directory
(:mod:`rnn_templates.runs`); starting the same command again resumes from the
last finished epoch and ends as the uninterrupted run would have: the same
epochs, the same ``history.csv``, the same kept weights.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rnn_templates import io

BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"

# Bucketed tf.data pipelines have no known length, so Keras warns at the end of
# the first epoch that the input "ran out of data". That is expected here.
warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend; optionally force deterministic ops.

    Determinism (``tf.config.experimental.enable_op_determinism``) makes two
    runs bit-identical on the same machine at some cost in speed.
    """
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def progress_verbosity() -> int:
    """Keras ``verbose`` value: bars for a person, one line per epoch for logs, none in CI.

    ``RNNT_VERBOSE`` (0, 1, 2) overrides the guess.
    """
    if "RNNT_VERBOSE" in os.environ:
        return int(os.environ["RNNT_VERBOSE"])
    if os.environ.get("CI") or "PYTEST_CURRENT_TEST" in os.environ:
        return 0
    return 1 if sys.stdout.isatty() else 2


@keras.saving.register_keras_serializable(package="rnn_templates")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy from logits with label smoothing.

    Keras's ``SparseCategoricalCrossentropy`` has no ``label_smoothing``; this
    is the same loss against the target ``(1 - smoothing)`` on the true class
    plus ``smoothing`` spread evenly over all classes (Szegedy et al., 2016),
    which keeps a sequence model from growing over-confident on small data.
    Padding masks on the predictions apply as with any Keras loss.

    Example:
        >>> loss = SmoothedSparseCrossentropy(0.0)
        >>> round(float(loss([0], [[2.0, 0.0]])), 4)  # -log softmax([2, 0])[0]
        0.1269
    """

    def __init__(self, smoothing: float = 0.1, name: str = "smoothed_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0 <= smoothing < 1:
            raise ValueError(f"`smoothing` must be in [0, 1); received {smoothing}")
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_pred = ops.convert_to_tensor(y_pred, "float32")
        log_p = ops.log_softmax(y_pred, axis=-1)
        y_true = ops.convert_to_tensor(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):  # labels given as (..., 1)
            y_true = ops.squeeze(y_true, -1)
        true = ops.expand_dims(y_true, -1)
        nll = -ops.squeeze(ops.take_along_axis(log_p, true, axis=-1), -1)
        return (1 - self.smoothing) * nll - self.smoothing * ops.mean(log_p, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smoothing": self.smoothing}


def compile_model(
    model: keras.Model,
    *,
    loss: Any,
    metrics: list[Any] | None = None,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    global_clipnorm: float | None = None,
    weighted_metrics: list[Any] | None = None,
) -> keras.Model:
    """Compile with gradient clipping on by default.

    Clipping each gradient's norm (``clipnorm``) is the standard guard against
    the exploding gradients that long sequences produce in recurrent nets;
    it costs nothing when gradients are small. Pass ``clipnorm=None`` to turn
    it off. ``global_clipnorm`` instead rescales all gradients together when
    their joint norm exceeds it (Pascanu et al., 2013), which keeps the
    update's direction; it replaces ``clipnorm``. ``weight_decay`` is
    decoupled (AdamW-style) decay of every weight but embeddings and biases,
    a regulariser for small datasets. ``weighted_metrics`` are metrics that
    weigh their values by the data's sample weights, as the loss does.

    Example:
        >>> import rnn_templates as rt
        >>> model = rt.compile_model(rt.build_many_to_one(1, input_dim=3), loss="mse")
        >>> model.optimizer.clipnorm
        1.0
    """
    optimizers = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                  "sgd": keras.optimizers.SGD, "adamw": keras.optimizers.AdamW}
    if optimizer not in optimizers:
        raise ValueError(
            f"`optimizer` must be one of {', '.join(map(repr, optimizers))}; received {optimizer!r}"
        )
    for name, value in (("learning_rate", learning_rate), ("clipnorm", clipnorm),
                        ("global_clipnorm", global_clipnorm)):
        # 0 or less would never learn, or never clip (None turns clipping off).
        if isinstance(value, int | float) and not value > 0:
            raise ValueError(f"`{name}` must be above 0; received {value}")
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be 0 or more; received {weight_decay}")
    kwargs = {"learning_rate": learning_rate}
    if global_clipnorm is not None:
        kwargs["global_clipnorm"] = global_clipnorm
    elif clipnorm is not None:
        kwargs["clipnorm"] = clipnorm
    if weight_decay or optimizer == "adamw":  # AdamW decays by 0.004 unless told otherwise
        kwargs["weight_decay"] = weight_decay
    chosen = optimizers[optimizer](**kwargs)
    if weight_decay:
        chosen.exclude_from_weight_decay(var_names=["embeddings", "bias"])
    model.compile(optimizer=chosen, loss=loss, metrics=metrics or [],
                  weighted_metrics=weighted_metrics)
    return model


class EpochDecay(keras.callbacks.Callback):
    """Learning rate constant for ``after`` epochs, then multiplied by ``factor`` each epoch.

    Epoch ``e`` (from 0) trains at ``base * factor ** max(0, e + 1 - after)``,
    ``base`` being the optimizer's rate when training first begins (SegRNN is
    trained with a similar schedule, 0.9 per epoch after the first few). The
    rate follows from the epoch number alone, so a resumed run trains each
    epoch at the rate an uninterrupted one would; place it before the backup
    callback, which restores the optimizer, so ``base`` is the compiled rate.

    Example:
        >>> [round(EpochDecay(0.5, after=2).rate(1.0, e), 3) for e in range(4)]
        [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(self, factor: float, after: int = 3):
        super().__init__()
        if not 0 < factor <= 1 or after < 0:
            raise ValueError(f"`factor` must be in (0, 1] and `after` >= 0; received "
                             f"{factor}, {after}")
        self.factor, self.after, self.base = float(factor), int(after), None

    def rate(self, base: float, epoch: int) -> float:
        return base * self.factor ** max(0, epoch + 1 - self.after)

    def on_train_begin(self, logs=None):
        if self.base is None:
            self.base = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate(self.base, epoch)


def standard_callbacks(
    run_dir: str | os.PathLike,
    *,
    monitor: str = "val_loss",
    patience: int = 3,
    checkpoint: bool = True,
    tensorboard: bool = True,
    restore_best: bool = True,
    lr_decay: float = 1.0,
    lr_decay_after: int = 3,
) -> list[keras.callbacks.Callback]:
    """The callbacks every run gets, in the order they must run.

    ``monitor`` names a logged value, with its direction where Keras cannot
    infer it from the model's metrics: ``"val_loss"``, ``"val_bleu:max"``.

    - ``TerminateOnNaN``, since a NaN loss never recovers;
    - :class:`ResumableEarlyStopping` on ``monitor`` with the best weights
      restored at the end (``restore_best=False``: the last epoch's are kept);
    - :class:`RunLog`: ``history.csv`` and the state that makes a resumed run
      end like an uninterrupted one (early-stopping counters, best weights,
      dropout seeds), in ``backup/``;
    - :class:`AtomicBackupAndRestore` in ``backup/`` (weights, optimizer,
      epoch) so a killed run resumes;
    - ``ModelCheckpoint`` of the best model to ``checkpoints/best.keras``;
    - ``TensorBoard`` logs in ``logs/``;
    - with ``lr_decay < 1``, :class:`EpochDecay` (``lr_decay``, ``lr_decay_after``).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    monitor, _, mode = monitor.partition(":")
    mode = mode or "auto"
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`monitor` must be a name, or name:min or name:max; received "
                         f"{monitor}:{mode}")
    early_stopping = ResumableEarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                            restore_best_weights=restore_best)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TerminateOnNaN(),
        early_stopping,
        RunLog(run_dir, early_stopping),
        # Kept after training: the caller removes it once the model is saved,
        # so a kill between the two cannot cost the trained epochs.
        AtomicBackupAndRestore(str(run_dir / BACKUP_DIR), delete_checkpoint=False),
    ]
    if checkpoint:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                str(run_dir / "checkpoints" / "best.keras"), monitor=monitor, mode=mode,
                save_best_only=True)
        )
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
    if lr_decay != 1:  # before the backup callback restores the optimizer
        callbacks.insert(3, EpochDecay(lr_decay, lr_decay_after))
    return callbacks


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup a kill at any moment cannot leave half-written.

    Keras rewrites one weights file in place, so a kill during the write
    leaves a file that no longer opens, and the run cannot resume. Here each
    epoch's weights go to a new file (renamed into place once complete), the
    metadata naming it is replaced atomically after, and older files are
    removed last: the metadata always names a complete file.
    """

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}-{self._last_batch_seen}.weights.h5"
        io.save_weights(self.model, backup / name)
        io.write_json(self._training_metadata_path, {
            "epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name})
        for old in backup.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def _load_model(self):
        metadata = Path(self._training_metadata_path)
        if not metadata.is_file():
            return
        state = json.loads(metadata.read_text(encoding="utf-8"))
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(Path(self.backup_dir) / state["weights"]))
        self.model._initial_epoch = state["epoch"]
        # Said, so that a fit reusing a finished run's folder does not silently train on.
        done = "1 epoch was" if state["epoch"] == 1 else f"{state['epoch']} epochs were"
        print(f"note: resuming from the backup in {self.backup_dir}: {done} trained already "
              "(delete that folder to train from scratch)", file=sys.stderr)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` (best weights restored) whose counters can be saved and restored.

    A plain ``EarlyStopping`` forgets its best value and patience when a killed
    run resumes, so the resumed run trains longer and keeps another epoch.
    """

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("restore_best_weights", True)
        super().__init__(**kwargs)

    def get_state(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "best": None if self.best is None else float(self.best),
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }

    def set_state(self, state: dict[str, Any], best_weights: list[np.ndarray] | None) -> None:
        self.wait = state["wait"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = best_weights


def _seed_variables(model: keras.Model) -> list[Any]:
    # Dropout's random state: not part of saved weights, but it decides which
    # units each later epoch drops.
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class OpenGates(keras.callbacks.Callback):
    """Open every :class:`~rnn_templates.layers.GradientGate` from epoch ``epoch`` (0-based) on.

    Example: ``OpenGates(2)`` trains two epochs with pretrained vectors frozen,
    then fine-tunes them. Set at each epoch's start, so a resumed run agrees.
    """

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        from rnn_templates.layers import GradientGate

        value = 1.0 if epoch >= self.epoch else 0.0
        for layer in _all_layers(self.model):
            if isinstance(layer, GradientGate):
                layer.gate.assign(value)


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers += _all_layers(layer)
    return layers


class RunLog(keras.callbacks.Callback):
    """``history.csv`` plus per-epoch state, so a resumed run matches an uninterrupted one.

    After each epoch it records the epoch's logs, the early-stopping state, the
    dropout seed states and (when they improved) the best weights in
    ``backup/``. When ``BackupAndRestore`` resumes at epoch ``k``, the first
    ``on_epoch_begin(k)`` restores the state saved after epoch ``k - 1`` and
    drops any later rows from ``history.csv``. It must run before
    ``BackupAndRestore`` in the callback list, so its record of an epoch is
    never older than the backup of that epoch.
    """

    def __init__(self, run_dir: str | os.PathLike, early_stopping: ResumableEarlyStopping):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.early_stopping = early_stopping
        self.records: list[dict[str, Any]] = []
        self._restore_pending = False

    @property
    def _state_dir(self) -> Path:
        return self.run_dir / BACKUP_DIR / "run_log"

    def on_train_begin(self, logs=None):
        self._restore_pending = True
        self.records = []

    def on_epoch_begin(self, epoch, logs=None):
        if not self._restore_pending:
            return
        self._restore_pending = False
        state_file = self._state_dir / "records.json"
        if epoch == 0 or not state_file.is_file():
            return
        records = json.loads(state_file.read_text(encoding="utf-8"))
        self.records = [r for r in records if r["epoch"] < epoch]
        if not self.records:
            # Killed in the first epoch of a run that starts above epoch 0 (a Hyperband
            # round continuing another trial) before any backup: it starts over.
            self._write_history()
            return
        last = self.records[-1]
        stopping = last["early_stopping"]
        best_file = self._state_dir / f"best-{stopping['best_epoch']}.npz"
        best_weights = None
        if best_file.is_file():
            with np.load(best_file) as stored:
                best_weights = [stored[f"w{i}"] for i in range(len(stored.files))]
        self.early_stopping.set_state(stopping, best_weights)
        with np.load(self._state_dir / f"seeds-{last['epoch']}.npz") as stored:
            for index, variable in enumerate(_seed_variables(self.model)):
                variable.assign(stored[f"s{index}"])
        self._write_history()

    def on_epoch_end(self, epoch, logs=None):
        self._state_dir.mkdir(parents=True, exist_ok=True)
        stopping = self.early_stopping.get_state()
        if stopping["best_epoch"] == epoch and self.early_stopping.best_weights is not None:
            with io.atomic_path(self._state_dir / f"best-{epoch}.npz") as temporary:
                with open(temporary, "wb") as stream:
                    np.savez(stream, **{f"w{i}": w for i, w in
                                        enumerate(self.early_stopping.best_weights)})
        with io.atomic_path(self._state_dir / f"seeds-{epoch}.npz") as temporary:
            with open(temporary, "wb") as stream:
                np.savez(stream, **{f"s{i}": np.asarray(v) for i, v in
                                    enumerate(_seed_variables(self.model))})
        row = {key: float(value) for key, value in (logs or {}).items()}
        self.records.append({"epoch": epoch, "logs": row, "early_stopping": stopping})
        io.write_json(self._state_dir / "records.json", self.records)
        self._write_history()
        self._prune(keep={r["early_stopping"]["best_epoch"] for r in self.records[-2:]},
                    last=epoch)

    def _prune(self, keep: set[int], last: int) -> None:
        for path in self._state_dir.glob("*.npz"):
            kind, _, number = path.stem.partition("-")
            epoch = int(number)
            if (kind == "best" and epoch not in keep) or (kind == "seeds" and epoch < last - 1):
                path.unlink(missing_ok=True)

    def _write_history(self) -> None:
        keys = sorted({key for record in self.records for key in record["logs"]})
        io.write_table(
            self.run_dir / HISTORY_FILE, ["epoch", *keys],
            ([r["epoch"], *(r["logs"].get(k, "") for k in keys)] for r in self.records),
            delimiter=",",
        )


def history_is_finite(history: keras.callbacks.History) -> bool:
    """False when any logged loss became NaN or infinite."""
    return all(
        math.isfinite(value) for key, values in history.history.items() if "loss" in key
        for value in values
    )
