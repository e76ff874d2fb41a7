"""Forecasting windows: tf.data pipelines for training, strided NumPy views for evaluation.

A window is ``rows`` consecutive steps of every column (``lookback`` steps of
history, plus the ``horizon`` steps that follow when the model reads
known-future covariates) and its target: the next ``horizon`` steps of the
target columns. Neither function loops over windows in Python: training uses
a tf.data pipeline that cuts a whole batch of windows with one gather;
evaluation uses ``numpy.lib.stride_tricks.sliding_window_view`` (a view, no
copy), so a backtest over every origin is one batched prediction.
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


def scored_windows(values: np.ndarray, lookback: int, horizon: int, targets: int, *,
                   future_rows: bool, truth: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of every window of ``values`` and its target columns over history and
    horizon, ``(n, lookback + horizon, targets)``: what a backtest scores and plots.

    ``truth``: ``(steps, targets)`` to score against instead of the target columns
    of ``values``, e.g. with NaN where a value was filled in rather than observed
    (:func:`rnn_templates.data.series.observed_targets`).

    Example:
        >>> x, y = scored_windows(np.arange(12.0).reshape(6, 2), 3, 2, 1, future_rows=False)
        >>> x.shape, y[:, :, 0].tolist()
        ((2, 3, 2), [[0.0, 2.0, 4.0, 6.0, 8.0], [2.0, 4.0, 6.0, 8.0, 10.0]])
    """
    values = np.asarray(values, dtype="float32")
    inputs, _ = forecast_windows(values, values[:, :targets], lookback, horizon,
                                 future_rows=future_rows)
    truth = values[:, :targets] if truth is None else np.asarray(truth, dtype="float32")
    full = sliding_windows(truth, lookback + horizon)
    return inputs, full[: len(inputs)]


def window_dataset(values: np.ndarray, targets: np.ndarray, lookback: int, horizon: int, *,
                   future_rows: bool, batch_size: int, stride: int = 1,
                   shuffle: Any = False, seed: int | None = None,
                   observed: np.ndarray | None = None) -> Any:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches (see :func:`forecast_windows`).

    ``observed``: per row, whether every target value in it was observed (not
    filled in). Given, and where some but not all horizon steps were, each batch
    also carries weights ``(batch, horizon)`` (see :func:`observed_weights`), so a
    loss weighted by them counts observed steps only.

    The series stays one tensor; the dataset yields batches of window start
    rows and cuts each batch with a single ``tf.gather`` of ``starts + offsets``.
    ``shuffle``: ``False`` keeps the windows in order; an
    :class:`~rnn_templates.data.shuffle.EpochShuffle` (pass it to ``fit`` too)
    orders each epoch by ``(its seed, epoch)`` alone, so a resumed run repeats
    the order; ``True`` shuffles every epoch from ``seed`` (a resumed run
    starts the sequence of orders again).
    ``keras.utils.timeseries_dataset_from_array`` gives the same windows but
    gathers them one at a time, which on ETTh1 (lookback and horizon 96)
    takes about 9x as long per epoch. The last partial batch is kept.
    """
    import tensorflow as tf

    from rnn_templates.data.pipeline import prefetched
    from rnn_templates.data.shuffle import EpochShuffle

    values = np.asarray(values, dtype="float32")
    targets = np.asarray(targets, dtype="float32")
    width = values.shape[1]
    rows = lookback + (horizon if future_rows else 0)
    count = window_count(len(values), lookback, horizon, stride)
    weights = (None if observed is None
               else observed_weights(observed, lookback, horizon, stride))
    columns = [values, targets] if weights is None else [values, targets, weights[:, None]]
    series = tf.constant(np.concatenate(columns, axis=1))
    starts = tf.data.Dataset.range(0, count * stride, stride)
    if isinstance(shuffle, EpochShuffle):
        starts = shuffle.indices(count).map(lambda index: index * stride)
    elif shuffle:
        starts = starts.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
    offsets = tf.range(lookback + horizon, dtype=tf.int64)

    def cut(batch_starts):
        windows = tf.gather(series, batch_starts[:, None] + offsets)
        if weights is not None:
            return (windows[:, :rows, :width], windows[:, lookback:, width:-1],
                    windows[:, lookback:, -1])
        return windows[:, :rows, :width], windows[:, lookback:, width:]

    return prefetched(starts.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE))


def observed_weights(observed: np.ndarray, lookback: int, horizon: int,
                     stride: int = 1) -> np.ndarray | None:
    """Per row, the weight of a horizon step in a loss over the windows of
    :func:`window_dataset`: 0 where a target value was filled in (``observed``
    False), else the one constant that makes the weighted mean over every
    window's horizon the mean over its observed steps. ``None`` where every
    horizon step is observed (no weights needed) or none is (nothing to weigh).

    Example:
        >>> observed_weights(np.array([1, 1, 1, 0, 1], bool), lookback=2, horizon=1).tolist()
        [1.5, 1.5, 1.5, 0.0, 1.5]
    """
    observed = np.asarray(observed, bool).reshape(-1)
    count = window_count(len(observed), lookback, horizon, stride)
    if not count:
        return None
    totals = np.concatenate([[0], np.cumsum(observed)])
    starts = np.arange(count) * stride + lookback
    kept = int((totals[starts + horizon] - totals[starts]).sum())
    if kept in (0, count * horizon):
        return None
    return np.where(observed, count * horizon / kept, 0.0).astype("float32")
