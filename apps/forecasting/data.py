"""Forecasting data: the config's file read into a checked series, split in time.

Reading and checking live in :mod:`rnn_templates.data.series` (every problem
reported with its line and column, then fixed by the ``missing`` policy or
refused); this module adds the config's choices, the chronological split and
reading the history to forecast from at prediction time.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from rnn_templates.data.readers import resolve_path
from rnn_templates.data.series import Series, read_series
from rnn_templates.data.windows import window_count
from rnn_templates.errors import UserInputError


def load(config, path: str | None = None, *, report: bool = True) -> Series:
    """Read the series a :class:`~apps.forecasting.config.ForecastingConfig` points at."""
    series = read_series(
        resolve_path(path or config.data), time_column=config.time_column,
        targets=config.targets, past=config.past_covariates, future=config.future_covariates,
        calendar=config.calendar, freq=config.freq, date_format=config.date_format,
        missing=config.missing)
    if report:
        for note in series.notes:
            print(note, file=sys.stderr)
    return series


def _position(series: Series, start: str, option: str) -> int:
    try:
        moment = pd.Timestamp(start)
    except ValueError:
        raise UserInputError("timestamp not understood", where=option, received=repr(start),
                             fix="write it like 2001-06-30 or 2001-06-30 12:00") from None
    return int(series.index.searchsorted(moment))


def split_points(series: Series, config) -> tuple[int, int]:
    """Rows where validation and test start; every part must hold at least one window.

    Validation and test windows read their history from the rows before
    them (the usual protocol), so each part needs ``horizon`` rows and the
    training part ``lookback + horizon``.
    """
    steps = len(series)
    if config.validation_start or config.test_start:
        validation = (_position(series, config.validation_start, "validation_start")
                      if config.validation_start else None)
        test = _position(series, config.test_start, "test_start") if config.test_start else steps
        if validation is None:
            validation = test - int(round(steps * config.validation_fraction))
    else:
        test = steps - int(round(steps * config.test_fraction))
        validation = test - int(round(steps * config.validation_fraction))
    parts = {"training": (0, validation), "validation": (validation, test)}
    if config.test_fraction or config.test_start:
        parts["test"] = (test, steps)
    for name, (start, end) in parts.items():
        history = 0 if name == "training" else config.lookback
        if window_count(end - start + history, config.lookback, config.horizon) < 1:
            raise UserInputError(
                f"the {name} part is too short for one window", where=series.source,
                received=f"{max(0, end - start)} of {steps} rows (lookback {config.lookback}, "
                f"horizon {config.horizon})",
                fix="use a longer series, a shorter lookback or horizon, or other split points")
    return validation, test


def prediction_window(path: str, config, artifacts: dict
                      ) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray]:
    """The rows to forecast from in ``path``, the timestamps of the forecast, and the
    file's rows whose targets are known (for recalibrating the intervals).

    The last ``lookback`` rows are the history; with known-future covariates
    from the file, the file's last ``horizon`` rows are the future (their
    target cells may be empty) and the history comes before them. Calendar
    features of the future are generated from the frequency.
    """
    from rnn_templates.data.series import calendar_features, future_index

    series = load(config, path)
    if series.columns != artifacts["input_columns"]:
        raise UserInputError("the file's columns differ from the model's", where=path,
                             expected=", ".join(artifacts["input_columns"]),
                             received=", ".join(series.columns),
                             fix="give a file with the columns the model was trained on")
    lookback, horizon = artifacts["lookback"], artifacts["horizon"]
    ahead = horizon if config.future_covariates else 0
    if len(series) < lookback + ahead:
        raise UserInputError("too few rows to forecast from", where=path,
                             expected=f"at least {lookback + ahead} rows",
                             received=f"{len(series)}", fix="give the whole recent history")
    values = series.values[len(series) - lookback - ahead:]
    origin = series.index[len(series) - ahead - 1]
    timestamps = future_index(origin, series.freq, horizon)
    if artifacts["future_rows"] and not ahead:  # calendar features only: generate the future
        future = np.zeros((horizon, values.shape[1]))
        future[:, len(series.columns) - len(config.calendar) * 2:] = calendar_features(
            timestamps, config.calendar)[1]
        values = np.concatenate([values, future])
    known = series.values[:len(series) - ahead].astype("float32")
    return values.astype("float32"), timestamps, known
