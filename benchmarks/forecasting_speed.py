"""Forecasting speed, each as a ratio measured in one run on ETTh1 (lookback 96, horizon 96).

1. Training windows per second: the forecasting app's recipe (tf.data windows
   from ``rnn_templates.data.windows.window_dataset``, SegRNN) against the
   keras-io recipe (every window materialized as NumPy arrays in memory,
   ``model.fit`` on the arrays, an LSTM(32) over the window and a dense
   layer to the horizon, as in the keras-io weather forecasting example).
   Both train the same epochs on the same windows; their test MSE is
   reported beside the speed so the faster recipe is not the worse one.
   Two more rows swap one side so the pipeline is compared on one model:
   the SegRNN fed the in-memory arrays, and the keras-io LSTM(32) fed our
   tf.data windows.
2. A rolling-origin backtest over 500 origins: one batched prediction (what
   ``rnnt forecasting evaluate`` does) against a loop that predicts one
   origin at a time, both warm; the batched side's first call, which traces
   the predict function for its batch shape, is reported beside it.
3. 720-step forecasts: the autoregressive model (encoder, then the state
   carried step by step in one compiled loop) against re-running a
   single-step model of the same cell and width on the window grown by each
   new forecast (720 calls). Untrained weights: speed does not depend on them.

Usage (one core, as measured):
    taskset -c 1 python benchmarks/forecasting_speed.py ../shared/datasets/forecasting/ETTh1.csv
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
import keras
import numpy as np

from rnn_templates import io
from rnn_templates.data.series import read_series
from rnn_templates.data.windows import forecast_windows, window_dataset
from rnn_templates.forecasting import predict_windows
from rnn_templates.topologies.forecast import build_forecaster

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_END, VALIDATION_END, TEST_END = 8640, 11520, 14400


def keras_io_model(lookback: int, horizon: int, columns: int) -> keras.Model:
    inputs = keras.Input((lookback, columns))
    state = keras.layers.LSTM(32)(inputs)
    outputs = keras.layers.Reshape((horizon, columns))(keras.layers.Dense(horizon * columns)(
        state))
    return keras.Model(inputs, outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="ETTh1.csv")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--origins", type=int, default=500)
    parser.add_argument("--output", default=str(RESULTS / "forecasting_speed"))
    args = parser.parse_args()
    lookback = horizon = 96
    values = read_series(args.data).values[:TEST_END].astype("float32")
    mean, std = values[:TRAIN_END].mean(0), values[:TRAIN_END].std(0)
    scaled = (values - mean) / std
    test_x, test_y = forecast_windows(values[VALIDATION_END - lookback:],
                                      scaled[VALIDATION_END - lookback:], lookback, horizon,
                                      future_rows=False)
    windows = len(forecast_windows(values[:TRAIN_END], scaled[:TRAIN_END], lookback, horizon,
                                   future_rows=False)[0])
    keras.utils.set_random_seed(0)

    # 1. Training: the app's recipe.
    ours = build_forecaster("segrnn", rows=lookback, columns=7, lookback=lookback,
                            horizon=horizon, targets=7, past=0, future=0, mean=mean.tolist(),
                            std=std.tolist(), segment_length=48, units=256, dropout=0.5)
    ours.compile(keras.optimizers.Adam(1e-3), loss="mae")
    dataset = window_dataset(values[:TRAIN_END], scaled[:TRAIN_END], lookback, horizon,
                             future_rows=False, batch_size=256, shuffle=True, seed=0)
    ours.fit(dataset.take(2), verbose=0)  # compile the step functions before timing
    started = time.perf_counter()
    ours.fit(dataset, epochs=args.epochs, verbose=0)
    ours_seconds = time.perf_counter() - started

    # ... and the keras-io recipe: standardized windows materialized with a Python loop.
    started_copy = time.perf_counter()
    x = np.stack([scaled[i:i + lookback] for i in range(windows)])
    y = np.stack([scaled[i + lookback:i + lookback + horizon] for i in range(windows)])
    copy_seconds = time.perf_counter() - started_copy
    peer = keras_io_model(lookback, horizon, 7)
    peer.compile(keras.optimizers.Adam(1e-3), loss="mse")
    peer.fit(x[:512], y[:512], batch_size=256, verbose=0)
    started = time.perf_counter()
    peer.fit(x, y, batch_size=256, epochs=args.epochs, shuffle=True, verbose=0)
    peer_seconds = time.perf_counter() - started + copy_seconds
    peer_mse = float(np.mean((peer.predict((test_x - mean) / std, batch_size=512, verbose=0)
                              - test_y) ** 2))
    # The same SegRNN fed from the in-memory arrays: the data pipeline alone.
    same = build_forecaster("segrnn", rows=lookback, columns=7, lookback=lookback,
                            horizon=horizon, targets=7, past=0, future=0, mean=mean.tolist(),
                            std=std.tolist(), segment_length=48, units=256, dropout=0.5)
    same.compile(keras.optimizers.Adam(1e-3), loss="mae")
    raw = x * std + mean
    same.fit(raw[:512], y[:512], batch_size=256, verbose=0)
    started = time.perf_counter()
    same.fit(raw, y, batch_size=256, epochs=args.epochs, shuffle=True, verbose=0)
    same_seconds = time.perf_counter() - started + copy_seconds
    # The keras-io model fed from our tf.data windows: the pipeline on a small model, where
    # feeding the windows is a larger share of each step.
    keras.utils.set_random_seed(0)
    small = keras_io_model(lookback, horizon, 7)
    small.compile(keras.optimizers.Adam(1e-3), loss="mse")
    small_data = window_dataset(scaled[:TRAIN_END], scaled[:TRAIN_END], lookback, horizon,
                                future_rows=False, batch_size=256, shuffle=True, seed=0)
    small.fit(small_data.take(2), verbose=0)
    started = time.perf_counter()
    small.fit(small_data, epochs=args.epochs, verbose=0)
    small_seconds = time.perf_counter() - started

    # 2. Backtest over the first `origins` test origins.
    origins = test_x[: args.origins]
    # The first call of a new batch shape traces the predict function again; that one-off
    # cost is timed apart, then both sides are timed warm (the loop is warmed below).
    started = time.perf_counter()
    predict_windows(ours, origins)  # as the forecasting app backtests
    first_call_seconds = time.perf_counter() - started
    started = time.perf_counter()
    batched = predict_windows(ours, origins)
    batched_seconds = time.perf_counter() - started
    ours(origins[:1], training=False)
    started = time.perf_counter()
    looped = np.concatenate([np.asarray(ours(origins[i:i + 1], training=False))
                             for i in range(len(origins))])
    looped_seconds = time.perf_counter() - started
    np.testing.assert_allclose(batched, looped, atol=1e-4)
    ours_mse = float(np.mean((ours.predict(test_x, batch_size=512, verbose=0) - test_y) ** 2))

    # 3. Autoregressive 720-step forecasts, a batch of 32 origins.
    steps, batch = 720, 32
    recurrent = {"cell": "gru", "units": 64}
    autoregressive = build_forecaster("autoregressive", rows=lookback, columns=7,
                                      lookback=lookback, horizon=steps, targets=7, past=0,
                                      future=0, mean=mean.tolist(), std=std.tolist(),
                                      **recurrent)
    single = build_forecaster("rnn", rows=lookback, columns=7, lookback=lookback, horizon=1,
                              targets=7, past=0, future=0, mean=mean.tolist(),
                              std=std.tolist(), rnn=recurrent)
    start = test_x[:batch]
    autoregressive.predict(start, batch_size=batch, verbose=0)
    started = time.perf_counter()
    autoregressive.predict(start, batch_size=batch, verbose=0)
    ar_seconds = time.perf_counter() - started
    single(start, training=False)
    started = time.perf_counter()
    window = start
    for _ in range(steps):  # the window grows by each forecast; the model reads its end
        step = np.asarray(single(window[:, -lookback:], training=False))
        window = np.concatenate([window, step], axis=1)
    rerun_seconds = time.perf_counter() - started

    report = {
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{len(os.sched_getaffinity(0))} core(s) available",
        "training": {
            "windows": windows * args.epochs,
            "ours_windows_per_second": round(windows * args.epochs / ours_seconds, 1),
            "keras_io_windows_per_second": round(windows * args.epochs / peer_seconds, 1),
            "ratio": round(peer_seconds / ours_seconds, 2),
            "ours_test_mse": round(ours_mse, 4), "keras_io_test_mse": round(peer_mse, 4),
            "keras_io_copy_seconds": round(copy_seconds, 2),
            "same_model_numpy_windows_per_second": round(windows * args.epochs / same_seconds, 1),
            "same_model_ratio": round(same_seconds / ours_seconds, 2),
            "keras_io_model_tf_data_windows_per_second": round(
                windows * args.epochs / small_seconds, 1),
            "keras_io_model_ratio": round(peer_seconds / small_seconds, 2),
        },
        "backtest": {
            "origins": len(origins),
            "batched_seconds": round(batched_seconds, 3),
            "loop_seconds": round(looped_seconds, 3),
            "ratio": round(looped_seconds / batched_seconds, 1),
            "batched_first_call_seconds": round(first_call_seconds, 3),
            "ratio_with_first_call": round(looped_seconds / first_call_seconds, 1),
        },
        "autoregressive": {
            "forecasts": batch, "steps": steps,
            "autoregressive_forecasts_per_second": round(batch / ar_seconds, 2),
            "rerun_forecasts_per_second": round(batch / rerun_seconds, 2),
            "ratio": round(rerun_seconds / ar_seconds, 1),
        },
        "epochs": args.epochs,
        "command": "taskset -c 1 .venv/bin/python benchmarks/forecasting_speed.py "
                   f"{args.data} --epochs {args.epochs}",
    }
    t, b = report["training"], report["backtest"]
    text = "\n".join([
        "# Forecasting speed on ETTh1 (lookback 96, horizon 96, 7 variables)", "",
        f"CPU: {report['machine']}. Reproduce: `{report['command']}`", "",
        "| measure | ours | peer | ratio |", "|---|---|---|---|",
        f"| training windows/s ({args.epochs} epochs) | {t['ours_windows_per_second']} "
        f"(tf.data windows, SegRNN 256) | {t['keras_io_windows_per_second']} (NumPy windows in "
        f"memory, LSTM(32), copy included) | {t['ratio']}x |",
        f"| training windows/s, the same SegRNN fed NumPy windows in memory | "
        f"{t['ours_windows_per_second']} | {t['same_model_numpy_windows_per_second']} | "
        f"{t['same_model_ratio']}x |",
        f"| training windows/s, the keras-io LSTM(32) fed our tf.data windows | "
        f"{t['keras_io_model_tf_data_windows_per_second']} | {t['keras_io_windows_per_second']} "
        f"| {t['keras_io_model_ratio']}x |",
        f"| test MSE after those epochs | {t['ours_test_mse']} | {t['keras_io_test_mse']} | |",
        f"| backtest over {b['origins']} origins, seconds | {b['batched_seconds']} (one batched "
        f"prediction) | {b['loop_seconds']} (one origin per call) | {b['ratio']}x |",
        f"| the same backtest, the batched side's first call (tracing for the new batch "
        f"shape included) | {b['batched_first_call_seconds']} | {b['loop_seconds']} | "
        f"{b['ratio_with_first_call']}x |",
        f"| {steps}-step forecasts/s (GRU 64, batches of {batch}) | "
        f"{report['autoregressive']['autoregressive_forecasts_per_second']} (state carried in "
        f"one loop) | {report['autoregressive']['rerun_forecasts_per_second']} (single-step "
        f"model re-run on the grown window) | {report['autoregressive']['ratio']}x |", ""])
    io.write_json(Path(args.output).with_suffix(".json"), report)
    io.write_text(Path(args.output).with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
