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
    IntervalOptions,
    RecurrentOptions,
    SeriesOptions,
    TrainingOptions,
    TuningOptions,
    knob,
    new_default,
)

MODELS = ("segrnn", "rnn", "autoregressive", "single_step")


@dataclasses.dataclass
class ForecastingConfig(TuningOptions, TrainingOptions, EnsembleOptions, RecurrentOptions,
                        IntervalOptions, SeriesOptions):
    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = ("val_loss", "val_mse", "val_mae")
    # What `evaluate --data` may change: how the other file is read (freq: a file at the
    # model's frequency with missing steps, whose inferred frequency may differ).
    DATA_KEYS: typing.ClassVar[tuple[str, ...]] = ("time_column", "date_format", "missing",
                                                   "freq")

    data: str = knob("data/forecasting/co2_weekly.csv",
                     "CSV or Parquet file, one row per timestamp; relative paths are also "
                     "looked up in the project")

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
    season: int = knob(0, "season length for the seasonal-naive baseline and MASE, at "
                       "most lookback; 0: detected",
                       interval="[0, inf)")
    baseline: bool = knob(True, "report last value, repeat last window, seasonal naive and a "
                          "linear model beside the network", search=False)

    # --- shared knobs with other defaults here -------------------------------------------
    lookback: int = new_default(SeriesOptions, "lookback", 104)
    horizon: int = new_default(SeriesOptions, "horizon", 26)
    units: int = new_default(RecurrentOptions, "units", 128)
    cell: str = new_default(RecurrentOptions, "cell", "gru")
    dropout: float = new_default(RecurrentOptions, "dropout", 0.1)
    batch_size: int = new_default(TrainingOptions, "batch_size", 64)
    epochs: int = new_default(TrainingOptions, "epochs", 40)
    patience: int = new_default(TrainingOptions, "patience", 6)
    learning_rate: float = new_default(TrainingOptions, "learning_rate", 2e-3)
    # The validation split calibrates the intervals: no model may train on it.
    refit: str = new_default(TuningOptions, "refit", "train")

    def check(self) -> None:
        super().check()
        if self.refit != "train":
            raise ValueError("`refit` must be train here: the validation split calibrates "
                             "the prediction intervals, so no model may train on it; "
                             f"received refit={self.refit}; leave refit unset")
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
