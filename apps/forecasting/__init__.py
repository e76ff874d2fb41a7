"""Time-series forecasting: a window of past values to the next steps, with intervals."""

from rnn_templates.cli import AppSpec

APP = AppSpec(
    name="forecasting",
    help="Forecast the next steps of time series (SegRNN or RNN, with intervals).",
    config="apps.forecasting.config:ForecastingConfig",
    app="apps.forecasting.app:ForecastingApp",
    predict_help="CSV or Parquet files whose last rows are the history to forecast from",
)
