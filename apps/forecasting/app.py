"""Time-series forecasting: the hooks the shared runner calls, top to bottom.

1. data: read and check the series (gaps, duplicates, bad cells reported
   with their line), split it in time, fit the scaling on the training rows
   only;
2. model: SegRNN, a direct multi-step RNN or a single-step RNN over the raw
   window, wrapped so the saved model answers in original units with 80% and
   95% intervals: split-conformal (calibrated on the validation windows),
   quantile heads (pinball loss), or both (conformalized quantile regression);
3. serving: ``serve(window: float32[batch, rows, columns]) -> {forecast,
   lower_80, upper_80, lower_95, upper_95}``, each ``[batch, horizon, targets]``;
   ``predict`` reads the history from the end of a CSV file;
4. metrics: MAE, RMSE, MASE, sMAPE, standardized MSE/MAE, per horizon step
   and per origin (a backtest over every window of the split, one batched
   prediction), interval coverage; the naive baselines beside the model.

Everything else (run directories, resuming, tuning, export and its check,
the CLI) is :mod:`rnn_templates.app`.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.forecasting.config import ForecastingConfig
from apps.forecasting.model import ForecastingHyperModel
from rnn_templates import forecasting as fc
from rnn_templates import io
from rnn_templates.app import App, Prepared
from rnn_templates.config import SeriesOptions
from rnn_templates.data.series import (
    Fixes,
    Series,
    in_model_order,
    load_series,
    observed_targets,
    prediction_history,
    reader_keywords,
    refuse_constant_columns,
    series_from_frame,
    split_series,
)
from rnn_templates.data.windows import scored_windows
from rnn_templates.errors import UserInputError

TEST_FILE = "test_windows.npz"
OUTPUTS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


class ForecastingApp(App):
    name = "forecasting"
    config_class = ForecastingConfig
    refit_on_validation = False  # the validation split calibrates the intervals

    # --- 1. data -------------------------------------------------------------------------

    def load_data(self, config: ForecastingConfig) -> Series:
        return load_series(config, config.data)  # constant columns: refused in prepare

    def load_evaluation_data(self, config: ForecastingConfig) -> Series:
        """The ``evaluate --data`` file, read with the run's config: its fixes name only
        the ``--set`` keys evaluate takes (``DATA_KEYS``), else a change to the file."""
        return load_series(config, config.data, fixes=Fixes(
            settable=frozenset(config.DATA_KEYS),
            reading="evaluate reads the file as the run's training data was read"))

    def from_arrays(self, config, inputs, targets) -> Series:
        """``inputs``: a DataFrame with a time column (``targets`` unused: name them in config)."""
        return series_from_frame(inputs, source="memory", refuse_constant=False,
                                 **reader_keywords(config))

    @staticmethod
    def _windows(series_values, artifacts, start: int, end: int, truth=None):
        """Inputs and (history + horizon) target windows of rows ``start:end``; the
        targets from ``truth`` (NaN where a value was filled in) when given."""
        return scored_windows(series_values[start:end], artifacts["lookback"],
                              artifacts["horizon"], artifacts["targets"],
                              future_rows=artifacts["future_rows"],
                              truth=None if truth is None else truth[start:end])

    def prepare(self, config: ForecastingConfig, series: Series) -> Prepared:
        refuse_constant_columns(series)
        validation, test = split_series(series, config)
        refuse_constant_columns(series, validation)  # the scaling comes from these rows
        values = series.values.astype("float32")
        train_rows = values[:validation]
        targets = len(series.targets)
        # Scaling, season and MASE's scale come from the training rows only.
        statistics = fc.training_statistics(train_rows, targets, config.season, config.lookback)
        mean, std = (np.asarray(statistics[key], "float32") for key in ("mean", "std"))
        artifacts: dict[str, Any] = {
            "targets": targets, "target_names": series.targets, "input_columns": series.columns,
            "past": len(series.past), "future": len(series.future),
            "future_rows": bool(series.future), "lookback": config.lookback,
            "horizon": config.horizon, "freq": series.freq, "utc": series.utc, **statistics,
            "reader": {**config.reader(), "freq": series.freq},
            "split": {"train_end": str(series.index[validation - 1]),
                      "validation_end": str(series.index[test - 1]),
                      "rows": [int(validation), int(test - validation), int(len(values) - test)]},
            "data_notes": series.notes,
            "intervals": config.intervals,
            "recalibration": {"window": config.recalibration_window,
                              "every": config.recalibration_every},
        }
        lookback = config.lookback
        # Training reads filled-in values; scores and intervals count observed ones only.
        truth = observed_targets(series)
        notes = fc.check_calibration(truth[validation:test], config.horizon, series.targets,
                                     calibrated=config.intervals != "quantile")
        if not config.season:
            cycle = fc.season_beyond_lookback(train_rows[:, :targets], statistics["season"],
                                              lookback, series.freq)
            notes += [cycle] if cycle else []
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        artifacts["data_notes"] = [*series.notes, *notes]
        splits = {"train": self._windows(values, artifacts, 0, validation),
                  "validation": self._windows(values, artifacts, validation - lookback, test,
                                              truth),
                  "test": self._windows(values, artifacts, test - lookback, len(values), truth)
                  if test < len(values) else (np.zeros((0,)), np.zeros((0,)))}
        scaled = ((values - mean) / std)[:, :targets]
        held = slice(validation - lookback, test)
        checked = (values[held], scaled[held])
        observed = np.isfinite(truth[held]).all(axis=1)
        if not observed.all():  # the validation loss leaves the filled-in steps out
            checked += (observed,)
        state = types.SimpleNamespace(
            interval_scale=config.interval_scale,
            fit={"train": (train_rows, scaled[:validation]), "validation": checked})
        return Prepared(splits, artifacts, state)

    def labelled(self, series: Series, artifacts):
        series = in_model_order(series, artifacts)
        if series.columns != artifacts["input_columns"]:
            raise UserInputError("the file's columns differ from the model's", where=series.source,
                                 expected=", ".join(artifacts["input_columns"]),
                                 received=", ".join(series.columns),
                                 fix="evaluate on a file with the columns the model was trained on")
        if series.freq != artifacts["freq"]:
            raise UserInputError(
                "the file's time steps differ from the model's", where=series.source,
                expected=f"frequency {artifacts['freq']}", received=f"frequency {series.freq}",
                fix=f"evaluate on a file at frequency {artifacts['freq']} (resample it), or "
                f"--set freq={artifacts['freq']} if only some steps are missing")
        window = artifacts["lookback"] + artifacts["horizon"]
        if len(series) < window:
            raise UserInputError(
                "too few rows for one window to evaluate", where=series.source,
                expected=f"at least lookback + horizon = {artifacts['lookback']} + "
                f"{artifacts['horizon']} = {window} rows", received=f"{len(series)} rows",
                fix="evaluate on a longer file")
        return self._windows(series.values, artifacts, 0, len(series), observed_targets(series))

    def write_held_out(self, directory: Path, inputs, targets, artifacts) -> None:
        with io.atomic_path(directory / TEST_FILE) as temporary:
            with open(temporary, "wb") as stream:
                np.savez(stream, inputs=np.asarray(inputs, "float32"),
                         targets=np.asarray(targets, "float32"))

    def read_held_out(self, directory: Path, artifacts):
        with np.load(directory / TEST_FILE) as stored:
            return stored["inputs"], stored["targets"]

    # --- 2. model ------------------------------------------------------------------------

    def hypermodel(self, config, prepared) -> ForecastingHyperModel:
        a = prepared.artifacts
        shape = {"targets": a["targets"], "past": a["past"], "future": a["future"],
                 "rows": a["lookback"] + (a["horizon"] if a["future_rows"] else 0),
                 "columns": len(a["input_columns"])}
        return ForecastingHyperModel(config, shape, a["mean"], a["std"])

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        return prepared.state.fit

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        """The core in original units, with intervals calibrated on the validation windows
        (:func:`rnn_templates.forecasting.calibrated_model`)."""
        a = prepared.artifacts
        inputs, full = prepared.splits["validation"]
        count = a["targets"]
        truth = (full[:, a["lookback"]:] - np.asarray(a["mean"][:count])) / np.asarray(
            a["std"][:count])
        model, facts = fc.calibrated_model(
            core, inputs, truth, method=a.get("intervals", "conformal"), mean=a["mean"],
            std=a["std"], lookback=a["lookback"], targets=count,
            interval_scale=prepared.state.interval_scale)
        a.update(facts)
        return model

    def baselines(self, config: ForecastingConfig, prepared: Prepared) -> list[Any]:
        if not config.baseline:
            return []
        a = prepared.artifacts
        return fc.naive_baselines(a["lookback"], a["horizon"], a["targets"], a["season"],
                                  prepared.splits["train"], prepared.splits["validation"])

    # --- 3. serving ----------------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        shape = getattr(self, "_window_shape", (None, None))
        return [tf.TensorSpec([None, *shape], tf.float32, name="window")]

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        self._window_shape = tuple(model.input_shape[1:])

        rows, columns = self._window_shape
        expected = f"a window of shape (batch, {rows}, {columns}) of finite values"
        unread = None
        lookback, future = artifacts["lookback"], artifacts.get("future", 0)
        if rows is not None and columns is not None and rows > lookback:
            # The horizon rows' targets and past covariates are not known yet, and not
            # read: a client may send anything there (NaN, say).
            mask = np.zeros((rows, columns), bool)
            mask[lookback:, :columns - future] = True
            unread = tf.constant(mask)

        def serve(window):
            # A serving client's window is checked here: TensorFlow Serving does not
            # hold a signature's call to its declared shape, and a longer window would
            # otherwise be read from its oldest rows. (Exports are always built on the
            # TensorFlow backend; serve() called on another backend goes unchecked.)
            if keras.backend.backend() == "tensorflow":
                checks = [tf.debugging.assert_equal(tf.shape(window)[axis], size,
                                                    message=f"expected {expected}")
                          for axis, size in ((1, rows), (2, columns)) if size is not None]
                with tf.control_dependencies(checks):
                    window = tf.identity(window)
                if unread is not None:
                    window = tf.where(unread, tf.zeros_like(window), window)
                with tf.control_dependencies([
                        tf.debugging.assert_all_finite(window, f"expected {expected}")]):
                    window = tf.identity(window)
            outputs = model(window, training=False)
            return {name: outputs[..., i] for i, name in enumerate(OUTPUTS)}

        return serve

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        self.artifacts = artifacts

    def parse_input(self, text: str) -> fc.ForecastInput:
        """The history at the end of the file ``text``, read as in training, with its
        latest windows whose truth is known (the bands are recalibrated on them)."""
        options = SeriesOptions(**self.artifacts["reader"])
        return fc.forecast_input(*prediction_history(text, options, self.artifacts),
                                 self.artifacts)

    def to_batch(self, items: list[Any], first: int = 0) -> list[tf.Tensor]:
        return [tf.constant(fc.forecast_batch(items))]

    def prediction_rows(self, outputs, items, parsed) -> list[dict[str, Any]]:
        names = self.artifacts["target_names"]
        window = self.artifacts.get("recalibration", {}).get("window", 0)
        stacked = np.stack([outputs[name] for name in OUTPUTS], axis=-1)
        rows = []
        forecasts = fc.calibrated_forecasts(stacked, parsed, window)
        for item, given, (values, calibration) in zip(items, parsed, forecasts, strict=True):
            for step, moment in enumerate(given.timestamps):
                for t, target in enumerate(names):
                    rows.append({"input": item, "timestamp": moment.isoformat(),
                                 "target": target, **{name: float(values[step, t, k])
                                                      for k, name in enumerate(OUTPUTS)},
                                 "calibration": calibration})
        return rows

    def prediction_header(self) -> str:
        return ",".join(["input", "timestamp", "target", *OUTPUTS, "calibration"])

    def format_prediction(self, row: dict[str, Any]) -> str:
        return ",".join([row["input"], row["timestamp"], row["target"],
                         *(f"{row[name]:.6g}" for name in OUTPUTS), row["calibration"]])

    # --- 4. metrics and plots --------------------------------------------------------------

    def outputs(self, model: keras.Model, inputs) -> np.ndarray:
        return fc.predict_windows(model, inputs)

    def metrics(self, targets, outputs, artifacts) -> dict:
        targets = np.asarray(targets)
        lookback, count = artifacts["lookback"], artifacts["targets"]
        return fc.forecast_metrics(
            targets[:, lookback:], outputs, std=np.asarray(artifacts["std"][:count]),
            naive_scale=np.asarray(artifacts["naive_scale"]), names=artifacts["target_names"],
            history=targets[:, :lookback],
            quantile_loss=artifacts.get("intervals", "conformal") != "conformal"
            and np.asarray(outputs).shape[-1] == 5,
            recalibration=artifacts.get("recalibration"))

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        if name == "validation":
            return
        prefix = "" if name == "test" else f"{name}-"
        title = ("Test split" if name == "test"
                 else f"Evaluation: {name.removeprefix('evaluation-')}")
        fc.plot_forecast(metrics["example"], directory / f"{prefix}forecast.png",
                         f"{title}: last window")
        fc.plot_errors(metrics, directory / f"{prefix}errors.png", title)

    def summary(self, name: str, metrics: dict) -> str:
        return fc.summary_line(name, metrics)
