"""Fitting with the callbacks people expect, seeds, and run directories.

A run directory is written under a ``.partial`` name and renamed into place
only when the run succeeds, so a crashed or rejected run never leaves a
directory that looks finished. A run killed mid-training keeps its
``.partial`` directory: starting the same command again with the same
``--run-dir`` resumes from the last finished epoch (``BackupAndRestore``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from rnn_templates.errors import UserInputError

PARTIAL_SUFFIX = ".partial"

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


def compile_model(
    model: keras.Model,
    *,
    loss: Any,
    metrics: list[Any] | None = None,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    optimizer: str = "adam",
) -> keras.Model:
    """Compile with gradient clipping on by default.

    Clipping each gradient's norm (``clipnorm``) is the standard guard against
    the exploding gradients that long sequences produce in recurrent nets;
    it costs nothing when gradients are small. Pass ``clipnorm=None`` to turn
    it off.
    """
    optimizers = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                  "sgd": keras.optimizers.SGD, "adamw": keras.optimizers.AdamW}
    if optimizer not in optimizers:
        raise ValueError(
            f"`optimizer` must be one of {', '.join(map(repr, optimizers))}; received {optimizer!r}"
        )
    kwargs = {"learning_rate": learning_rate}
    if clipnorm is not None:
        kwargs["clipnorm"] = clipnorm
    model.compile(optimizer=optimizers[optimizer](**kwargs), loss=loss, metrics=metrics or [])
    return model


def standard_callbacks(
    run_dir: str | os.PathLike,
    *,
    monitor: str = "val_loss",
    patience: int = 3,
    checkpoint: bool = True,
    tensorboard: bool = True,
) -> list[keras.callbacks.Callback]:
    """The callbacks every run gets.

    - ``EarlyStopping`` on ``monitor`` with the best weights restored;
    - ``ModelCheckpoint`` of the best model to ``checkpoints/best.keras``;
    - ``BackupAndRestore`` in ``backup/`` so a killed run resumes;
    - ``TensorBoard`` logs in ``logs/`` and a CSV history in ``history.csv``;
    - ``TerminateOnNaN``, since a NaN loss never recovers.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)  # CSVLogger does not create it
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=patience, restore_best_weights=True
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if checkpoint:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                str(run_dir / "checkpoints" / "best.keras"), monitor=monitor, save_best_only=True
            )
        )
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
    return callbacks


def history_is_finite(history: keras.callbacks.History) -> bool:
    """False when any logged loss became NaN or infinite."""
    return all(
        math.isfinite(value) for key, values in history.history.items() if "loss" in key
        for value in values
    )


def default_run_dir(root: str | os.PathLike, app: str) -> Path:
    """``<root>/<app>/<timestamp>``, unique per second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / app / stamp


@contextlib.contextmanager
def run_directory(final: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Work in ``<final>.partial`` and rename it to ``final`` on success.

    - An existing ``final`` is refused unless ``overwrite``.
    - An existing ``<final>.partial`` (a killed run) is reused: training resumes.
    - On an exception the partial directory is removed, except on Ctrl-C,
      where it is kept so the same command resumes.
    """
    final = Path(final)
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    if final.exists() and not overwrite:
        raise UserInputError(
            "run directory already exists",
            where=str(final),
            fix="choose another --run-dir, or add --overwrite to replace it",
        )
    resumed = partial.exists()
    partial.mkdir(parents=True, exist_ok=True)
    if resumed:
        print(f"resuming the interrupted run in {partial}", file=sys.stderr)
    try:
        yield partial
    except KeyboardInterrupt:
        print(f"interrupted; run the same command again to resume from {partial}", file=sys.stderr)
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)


def write_json_atomic(data: Any, path: str | os.PathLike) -> None:
    """Write JSON through a temporary file renamed into place."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
