"""Forecasting windows: tf.data pipelines for training, strided NumPy views for evaluation.

A window is ``rows`` consecutive steps of every column (``lookback`` steps of
history, plus the ``horizon`` steps that follow when the model reads
known-future covariates) and its target: the next ``horizon`` steps of the
target columns. Neither function loops over windows in Python: training uses
``keras.utils.timeseries_dataset_from_array``; evaluation uses
``numpy.lib.stride_tricks.sliding_window_view`` (a view, no copy), so a
backtest over every origin is one batched prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def window_count(steps: int, lookback: int, horizon: int, stride: int = 1) -> int:
    """How many windows ``steps`` rows give (0 when too short).

    Example:
        >>> window_count(10, lookback=4, horizon=2)
        5
    """
    return max(0, (steps - lookback - horizon) // stride + 1)


def sliding_windows(values: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Every ``length``-row window of ``values (steps, columns)``: ``(n, length, columns)``.

    Example:
        >>> sliding_windows(np.arange(5.0)[:, None], 3)[:, :, 0].tolist()
        [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
    """
    values = np.asarray(values)
    if len(values) < length:
        return np.zeros((0, length, values.shape[1]), dtype=values.dtype)
    view = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)
    return view.transpose(0, 2, 1)[::stride]


def forecast_windows(values: np.ndarray, targets: np.ndarray, lookback: int, horizon: int,
                     *, future_rows: bool, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of every window, as strided views.

    Args:
        values: ``(steps, columns)`` model inputs (raw units).
        targets: ``(steps, targets)`` what the model is scored against.
        lookback: History steps per window.
        horizon: Steps forecast.
        future_rows: Whether inputs include the horizon's rows (known-future
            covariates); the model reads only those columns from them.
        stride: Steps between origins.

    Returns:
        ``(inputs (n, lookback [+ horizon], columns), targets (n, horizon, targets))``.
    """
    n = window_count(len(values), lookback, horizon, stride)
    rows = lookback + (horizon if future_rows else 0)
    inputs = sliding_windows(values, rows, stride)[:n]
    outputs = sliding_windows(targets[lookback:], horizon, stride)[:n]
    return inputs, outputs


def window_dataset(values: np.ndarray, targets: np.ndarray, lookback: int, horizon: int, *,
                   future_rows: bool, batch_size: int, stride: int = 1,
                   shuffle: bool = False, seed: int | None = None) -> Any:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches (see :func:`forecast_windows`).

    Built on ``keras.utils.timeseries_dataset_from_array`` over one array that
    holds the inputs and the targets side by side, then split per batch; the
    last partial batch is kept.
    """
    import keras
    import tensorflow as tf

    values = np.asarray(values, dtype="float32")
    targets = np.asarray(targets, dtype="float32")
    width = values.shape[1]
    rows = lookback + (horizon if future_rows else 0)
    dataset = keras.utils.timeseries_dataset_from_array(
        np.concatenate([values, targets], axis=1), None, sequence_length=lookback + horizon,
        sequence_stride=stride, batch_size=batch_size, shuffle=shuffle, seed=seed)

    def split(batch):
        return batch[:, :rows, :width], batch[:, lookback:, width:]

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
