"""Forecasting app configuration: every knob with its default and why.

The shared knobs (recurrent stack, training, tuning) come from the library's
mixins; this file declares what is particular to forecasting series. The
defaults fit the shipped weekly CO2 series (two years of history, half a
year ahead); ``rnnt forecasting train --help-config`` prints the list.
"""

from __future__ import annotations

import dataclasses
import typing

from rnn_templates.config import (
    EnsembleOptions,
    RecurrentOptions,
    TrainingOptions,
    TuningOptions,
    knob,
    new_default,
)

MODELS = ("segrnn", "rnn", "autoregressive", "single_step")
INTERVALS = ("conformal", "quantile", "cqr")
CALENDAR = ("hour", "dayofweek", "dayofmonth", "month", "dayofyear", "weekofyear")


@dataclasses.dataclass
class ForecastingConfig(TuningOptions, TrainingOptions, EnsembleOptions, RecurrentOptions):
    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = ("val_loss", "val_mse", "val_mae")
    # What `evaluate --data` may change: how the other file is read.
    DATA_KEYS: typing.ClassVar[tuple[str, ...]] = ("time_column", "date_format", "missing")

    # --- data -------------------------------------------------------------------------
    data: str = knob("data/forecasting/co2_weekly.csv",
                     "CSV or Parquet file, one row per timestamp; relative paths are also "
                     "looked up in the project")
    time_column: str = knob("", "the datetime column; empty: the first column of dates")
    date_format: str = knob("", "strftime format of the time column, e.g. %d.%m.%Y %H:%M:%S; "
                            "empty: detected")
    targets: list = knob([], "columns to forecast; empty: every column that is not the time "
                         "or a covariate")
    past_covariates: list = knob([], "columns known only up to the forecast origin")
    future_covariates: list = knob([], "columns known in advance: their values over the "
                                   "horizon are the file's last rows at prediction time")
    calendar: list = knob([], f"calendar features generated as known-future covariates: "
                          f"some of {', '.join(CALENDAR)}")
    freq: str = knob("", "pandas frequency (15min, h, D, W-SAT, MS...); empty: inferred")
    missing: str = knob("interpolate", "gaps and empty/NaN/inf cells: interpolate (linear in "
                        "time), ffill, or error (refuse)", choices=("interpolate", "ffill",
                                                                     "error"))
    validation_fraction: float = knob(0.15, "share of the series after training, for early "
                                      "stopping and interval calibration", interval="(0, 0.5)")
    test_fraction: float = knob(0.15, "the last share of the series, held out",
                                interval="[0, 0.5)")
    validation_start: str = knob("", "timestamp where validation starts (instead of the "
                                 "fraction)")
    test_start: str = knob("", "timestamp where the test part starts (instead of the fraction)")

    # --- windows ----------------------------------------------------------------------
    lookback: int = knob(104, "history steps the model reads", interval="[2, inf)")
    horizon: int = knob(26, "steps forecast at once", interval="[1, inf)")
    stride: int = knob(1, "steps between training windows", interval="[1, inf)")

    # --- model --------------------------------------------------------------------------
    model: str = knob("segrnn", "segrnn (segments + GRU, parallel decoding), rnn (direct "
                      "multi-step), autoregressive (state carried step by step, each step "
                      "reading the last), single_step (one step ahead: needs horizon=1)",
                      choices=MODELS)
    segment_length: int = knob(13, "segrnn: steps per segment; must divide lookback",
                               interval="[1, inf)")
    window_norm: str = knob("last", "per-window normalization: last (subtract the last value), "
                            "revin (window mean and std), none", choices=("last", "revin", "none"))
    loss: str = knob("mae", "training loss on standardized values", choices=("mae", "mse",
                                                                                 "huber"))
    intervals: str = knob("conformal", "how the 80% and 95% intervals are made: conformal "
                          "(split-conformal widths from validation errors around the point "
                          "forecast), quantile (quantile heads trained with the pinball loss; "
                          "the median is the forecast), cqr (the quantile heads' bands "
                          "conformalized on the validation windows)", choices=INTERVALS)
    interval_scale: str = knob("window", "split-conformal intervals: window (errors scaled by "
                               "each window's spread: wider on rough windows) or none (one "
                               "width per step)", choices=("window", "none"))
    recalibration_window: int = knob(
        720, "backtests also report the bands recalibrated as the truth arrives: on the "
        "scores of the last N windows that had ended (0: off)", interval="[0, inf)")
    recalibration_every: int = knob(24, "how many origins share one recalibration",
                                    interval="[1, inf)")
    season: int = knob(0, "season length for the seasonal-naive baseline and MASE, at "
                       "most lookback; 0: detected",
                       interval="[0, inf)")
    baseline: bool = knob(True, "report last value, repeat last window, seasonal naive and a "
                          "linear model beside the network")

    # --- shared knobs with other defaults here -------------------------------------------
    units: int = new_default(RecurrentOptions, "units", 128)
    cell: str = new_default(RecurrentOptions, "cell", "gru")
    dropout: float = new_default(RecurrentOptions, "dropout", 0.1)
    batch_size: int = new_default(TrainingOptions, "batch_size", 64)
    epochs: int = new_default(TrainingOptions, "epochs", 40)
    patience: int = new_default(TrainingOptions, "patience", 6)
    learning_rate: float = new_default(TrainingOptions, "learning_rate", 2e-3)

    def check(self) -> None:
        super().check()
        if self.model == "segrnn" and self.lookback % self.segment_length:
            raise ValueError(f"`segment_length` must divide `lookback` ({self.lookback}); "
                             f"received {self.segment_length}")
        if self.intervals != "conformal" and self.model == "autoregressive":
            raise ValueError(f"`intervals` {self.intervals} needs quantile heads, which the "
                             f"autoregressive model lacks (each step feeds one forecast to the "
                             f"next, not a distribution); expected model segrnn, rnn or "
                             f"single_step; received model=autoregressive; use "
                             f"intervals=conformal, or another model")
        if self.season > self.lookback:
            # The seasonal naive repeats the window's last season (a longer one would be
            # cut to the window: the repeat-window baseline under another name).
            raise ValueError(f"`season` {self.season} is longer than the window the "
                             f"seasonal-naive baseline reads (lookback {self.lookback}); "
                             f"expected 0 (detected) to {self.lookback}, the largest usable; "
                             f"received season={self.season}; use season<={self.lookback} or "
                             f"a longer lookback")
        if self.model == "single_step" and self.horizon != 1:
            raise ValueError(f"`model` single_step forecasts one step: `horizon` must be 1; "
                             f"received {self.horizon} (use model=rnn or segrnn for more)")
        for name in ("targets", "past_covariates", "future_covariates", "calendar"):
            if not all(isinstance(v, str) for v in getattr(self, name)):
                raise ValueError(f"`{name}` must be a list of column names; received "
                                 f"{getattr(self, name)!r}")
        unknown = [v for v in self.calendar if v not in CALENDAR]
        if unknown:
            raise ValueError(f"`calendar` must hold some of {', '.join(CALENDAR)}; received "
                             f"{unknown[0]!r}")
