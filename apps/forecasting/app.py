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

import types
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.forecasting import data as data_io
from apps.forecasting.config import ForecastingConfig
from apps.forecasting.model import ForecastingHyperModel
from rnn_templates import forecasting as fc
from rnn_templates import io
from rnn_templates.app import App, Prepared
from rnn_templates.data.series import Series, series_from_frame
from rnn_templates.data.windows import scored_windows
from rnn_templates.errors import UserInputError

TEST_FILE = "test_windows.npz"
OUTPUTS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")
READER_KEYS = ("time_column", "date_format", "targets", "past_covariates", "future_covariates",
               "calendar", "freq", "missing")


class ForecastingApp(App):
    name = "forecasting"
    config_class = ForecastingConfig
    refit_on_validation = False  # the validation split calibrates the intervals

    # --- 1. data -------------------------------------------------------------------------

    def load_data(self, config: ForecastingConfig) -> Series:
        return data_io.load(config)

    def from_arrays(self, config, inputs, targets) -> Series:
        """``inputs``: a DataFrame with a time column (``targets`` unused: name them in config)."""
        return series_from_frame(inputs, source="memory", time_column=config.time_column,
                                 targets=config.targets, past=config.past_covariates,
                                 future=config.future_covariates, calendar=config.calendar,
                                 freq=config.freq, date_format=config.date_format,
                                 missing=config.missing)

    @staticmethod
    def _windows(series_values, artifacts, start: int, end: int):
        """Inputs and (history + horizon) target windows of rows ``start:end``."""
        return scored_windows(series_values[start:end], artifacts["lookback"],
                              artifacts["horizon"], artifacts["targets"],
                              future_rows=artifacts["future_rows"])

    def prepare(self, config: ForecastingConfig, series: Series) -> Prepared:
        validation, test = data_io.split_points(series, config)
        values = series.values.astype("float32")
        train_rows = values[:validation]
        # Scaling statistics come from the training rows only.
        mean, std = train_rows.mean(axis=0), train_rows.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        targets = len(series.targets)
        season = config.season or fc.detect_season(train_rows[:, :targets], config.lookback)
        lagged = train_rows[season:, :targets] - train_rows[:-season, :targets]
        future_rows = bool(series.future)
        artifacts: dict[str, Any] = {
            "targets": targets, "target_names": series.targets, "input_columns": series.columns,
            "past": len(series.past), "future": len(series.future), "future_rows": future_rows,
            "lookback": config.lookback, "horizon": config.horizon, "freq": series.freq,
            "mean": mean.tolist(), "std": std.tolist(), "season": int(season),
            "naive_scale": np.maximum(np.abs(lagged).mean(axis=0), 1e-12).tolist(),
            "reader": {**{key: getattr(config, key) for key in READER_KEYS},
                       "freq": series.freq},
            "split": {"train_end": str(series.index[validation - 1]),
                      "validation_end": str(series.index[test - 1]),
                      "rows": [int(validation), int(test - validation), int(len(values) - test)]},
            "data_notes": series.notes,
            "intervals": config.intervals,
            "recalibration": {"window": config.recalibration_window,
                              "every": config.recalibration_every},
        }
        lookback = config.lookback
        splits = {"train": self._windows(values, artifacts, 0, validation),
                  "validation": self._windows(values, artifacts, validation - lookback, test),
                  "test": self._windows(values, artifacts, test - lookback, len(values))
                  if test < len(values) else (np.zeros((0,)), np.zeros((0,)))}
        scaled = ((values - mean) / std)[:, :targets]
        state = types.SimpleNamespace(
            interval_scale=config.interval_scale, fit={"train": (train_rows, scaled[:validation]),
                 "validation": (values[validation - lookback:test],
                                scaled[validation - lookback:test])})
        return Prepared(splits, artifacts, state)

    def labelled(self, series: Series, artifacts):
        if series.columns != artifacts["input_columns"]:
            raise UserInputError("the file's columns differ from the model's", where=series.source,
                                 expected=", ".join(artifacts["input_columns"]),
                                 received=", ".join(series.columns),
                                 fix="evaluate on a file with the columns the model was trained on")
        return self._windows(series.values, artifacts, 0, len(series))

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
        shape = (a["lookback"], a["horizon"], a["targets"])
        train, validation = prepared.splits["train"], prepared.splits["validation"]
        linear = fc.LinearWindow(*shape).fit(train[0], train[1][:, a["lookback"]:],
                                             validation[0], validation[1][:, a["lookback"]:])
        return [fc.LastValue(*shape), fc.RepeatWindow(*shape),
                fc.SeasonalNaive(*shape, season=a["season"]), linear]

    # --- 3. serving ----------------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        shape = getattr(self, "_window_shape", (None, None))
        return [tf.TensorSpec([None, *shape], tf.float32, name="window")]

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        self._window_shape = tuple(model.input_shape[1:])

        def serve(window):
            outputs = model(window, training=False)
            return {name: outputs[..., i] for i, name in enumerate(OUTPUTS)}

        return serve

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        self.artifacts = artifacts
        self._parsed: dict[str, Any] = {}

    def parse_input(self, text: str) -> dict[str, Any]:
        """The window to forecast from, and the file's most recent windows whose truth is
        known (up to ``recalibration_window``), on which the intervals are recalibrated."""
        reader = types.SimpleNamespace(data=text, **self.artifacts["reader"])
        window, timestamps, known = data_io.prediction_window(text, reader, self.artifacts)
        self._parsed[text] = timestamps
        a = self.artifacts
        count = a.get("recalibration", {}).get("window", 0)
        span = a["lookback"] + a["horizon"] + count - 1
        recent = self._windows(known, a, max(0, len(known) - span), len(known)) if count \
            else None
        return {"window": window, "recent": recent}

    def to_batch(self, items: list[Any]) -> list[tf.Tensor]:
        """The windows to forecast from, then every item's recent windows."""
        items = [item if isinstance(item, dict) else {"window": item} for item in items]
        windows = [item["window"][None] for item in items]
        self._recent = []
        start = len(items)
        for item in items:
            inputs, full = item.get("recent") or ((), ())
            self._recent.append((start, full[:, self.artifacts["lookback"]:]) if len(inputs)
                                else None)
            if len(inputs):
                windows.append(inputs)
                start += len(inputs)
        return [tf.constant(np.concatenate(windows).astype("float32"))]

    def _recalibrated(self, stacked: np.ndarray, index: int) -> tuple[np.ndarray, str]:
        """Item ``index``'s five outputs, the bands rescaled on its recent windows when the
        file holds enough of them (:func:`rnn_templates.forecasting.recalibrate_latest`)."""
        recent = self._recent[index] if getattr(self, "_recent", None) else None
        if recent is None:
            return stacked[index], "validation"
        start, truth = recent
        window = self.artifacts["recalibration"]["window"]
        values, used = fc.recalibrate_latest(stacked[index:index + 1],
                                             stacked[start:start + len(truth)], truth, window)
        return values[0], f"last {used} windows" if used else "validation"

    def prediction_rows(self, outputs, items) -> list[dict[str, Any]]:
        names = self.artifacts["target_names"]
        rows = []
        stacked = np.stack([outputs[name] for name in OUTPUTS], axis=-1)
        for i, item in enumerate(items):
            values, calibration = self._recalibrated(stacked, i)
            for step, moment in enumerate(self._parsed[item]):
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
        coverage = ""
        if "coverage_80" in metrics:
            coverage = (f"  coverage80 {metrics['coverage_80']:.3f}  coverage95 "
                        f"{metrics['coverage_95']:.3f}")
        if metrics.get("recalibrated", {}).get("recalibrated_windows"):
            r = metrics["recalibrated"]
            coverage += (f" (recalibrated: {r['coverage_80']:.3f} / {r['coverage_95']:.3f} over "
                         f"{r['recalibrated_windows']} windows)")
        if "pinball_normalized" in metrics:
            coverage += f"  pinball(std) {metrics['pinball_normalized']:.4f}"
        return (f"{name:16s} MAE {metrics['mae']:.4g}  RMSE {metrics['rmse']:.4g}  MASE "
                f"{metrics['mase']:.3f}  sMAPE {metrics['smape']:.2f}%  MSE(std) "
                f"{metrics['mse_normalized']:.4f}{coverage}  ({metrics['windows']} windows)")
