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
from rnn_templates.data.series import Series, forecast_history, read_series, split_rows
from rnn_templates.errors import UserInputError


def load(config, path: str | None = None, *, report: bool = True,
         column_fix: str | None = None, open_targets: int = 0) -> Series:
    """Read the series a :class:`~apps.forecasting.config.ForecastingConfig` points at
    (``column_fix``, ``open_targets``: see
    :func:`rnn_templates.data.series.series_from_frame`)."""
    series = read_series(
        resolve_path(path or config.data), time_column=config.time_column,
        targets=config.targets, past=config.past_covariates, future=config.future_covariates,
        calendar=config.calendar, freq=config.freq, date_format=config.date_format,
        missing=config.missing, column_fix=column_fix, open_targets=open_targets)
    if report:
        _report(series)
    return series


def _report(series: Series) -> None:
    for note in series.notes:
        print(note, file=sys.stderr)


def expected_columns(config, artifacts: dict) -> str:
    """The columns a file must hold for a model (its inputs less the calendar features,
    which are generated), for messages."""
    columns = artifacts["input_columns"]
    columns = columns[:len(columns) - 2 * len(config.calendar)]
    if config.time_column:
        return f"the columns {', '.join([config.time_column, *columns])}"
    return f"a date column and the columns {', '.join(columns)}"


def split_points(series: Series, config) -> tuple[int, int]:
    """Rows where validation and test start (:func:`rnn_templates.data.series.split_rows`)."""
    return split_rows(series, config.lookback, config.horizon,
                      validation_fraction=config.validation_fraction,
                      test_fraction=config.test_fraction,
                      validation_start=config.validation_start, test_start=config.test_start)


def prediction_window(path: str, config, artifacts: dict
                      ) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray]:
    """The history in ``path`` to forecast from, the forecast's timestamps and the rows
    whose targets are known (:func:`rnn_templates.data.series.forecast_history`)."""
    # predict takes no --set: a missing column is fixed in the file, not in the config.
    fix = f"give a file with {expected_columns(config, artifacts)}, as in training"
    # With known-future inputs the last horizon rows carry no targets: not missing values.
    series = load(config, path, report=False, column_fix=fix,
                  open_targets=artifacts["horizon"] if artifacts["future_rows"] else 0)
    if series.columns != artifacts["input_columns"]:
        raise UserInputError("the file's columns differ from the model's", where=path,
                             expected=", ".join(artifacts["input_columns"]),
                             received=", ".join(series.columns), fix=fix)
    history = forecast_history(series, artifacts["lookback"], artifacts["horizon"],
                               future_given=bool(config.future_covariates),
                               future_rows=artifacts["future_rows"], calendar=config.calendar)
    _report(series)  # after the checks: a refused file prints its one error line only
    return history
