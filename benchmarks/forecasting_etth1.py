"""ETTh1 long-horizon benchmark: SegRNN from rnn_templates against the published table.

Protocol (Zhou et al., 2021, as used by SegRNN, CycleNet, TimeMixer, iTransformer,
DLinear): rows 0-8639 train, 8640-11519 validation, 11520-14399 test (12/4/4
months); z-score with the training rows' statistics; all 7 variables in and
out; lookback 96; horizons 96, 192, 336, 720; MSE and MAE over every test
window (stride 1, the last partial batch kept) in standardized units. Each
split's windows take their lookback from the rows before the split.

The model is :class:`rnn_templates.topologies.forecast.SegmentRecurrentForecaster`
trained with the L1 loss (as SegRNN is), early-stopped on the validation MSE.
Split-conformal 80% and 95% intervals are calibrated on the validation
windows and their coverage measured on the test windows.

Usage (one core, as measured):
    taskset -c 0 python benchmarks/forecasting_etth1.py ../shared/datasets/forecasting/ETTh1.csv

``--intervals conformal quantile cqr`` runs the interval part instead: per
horizon, the L1-trained SegRNN with split-conformal intervals (plain and
window-scaled, the forecasting app's ``intervals=conformal``) against the
same SegRNN with quantile heads (0.025, 0.1, 0.5, 0.9, 0.975) trained with
the pinball loss, its raw quantile bands (``intervals=quantile``) and those
bands conformalized on the validation windows (``intervals=cqr``); the
test coverage and mean width (standardized units) of the 80% and 95%
intervals go to ``results/forecasting_etth1_intervals.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
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
from rnn_templates.ensemble import EnsembleLoss, EnsembleMetric
from rnn_templates.forecasting import (
    LEVELS,
    OUTPUT_QUANTILES,
    conformal_widths,
    coverage,
    cqr_corrections,
    pinball,
    recalibrated_coverage,
)
from rnn_templates.topologies.forecast import (
    QUANTILES,
    PinballLoss,
    build_forecaster,
    level_quantiles,
    median_metrics,
    window_scale,
)
from rnn_templates.training import EpochDecay

RESULTS = Path(__file__).resolve().parent / "results"
# The forecasting app's defaults: recalibrated every 24 origins on the last 720 ended windows.
RECALIBRATION = {"window": 720, "every": 24}
BORDERS = (8640, 11520, 14400)
PUBLISHED = {  # MSE, MAE at lookback 96 (as collected in the CycleNet paper, Lin et al. 2024)
    96: {"SegRNN": (0.368, 0.395), "CycleNet": (0.378, 0.391), "TimeMixer": (0.375, 0.400),
         "iTransformer": (0.386, 0.405), "DLinear": (0.386, 0.400)},
    192: {"SegRNN": (0.408, 0.419), "CycleNet": (0.427, 0.419), "TimeMixer": (0.429, 0.421),
          "iTransformer": (0.441, 0.436), "DLinear": (0.437, 0.432)},
    336: {"SegRNN": (0.444, 0.440), "CycleNet": (0.464, 0.439), "TimeMixer": (0.484, 0.458),
          "iTransformer": (0.487, 0.458), "DLinear": (0.481, 0.459)},
    720: {"SegRNN": (0.446, 0.457), "CycleNet": (0.462, 0.461), "TimeMixer": (0.498, 0.482),
          "iTransformer": (0.503, 0.491), "DLinear": (0.519, 0.516)},
}


MODEL = ("SegRNN: lookback {args.lookback}, segment_length {args.segment_length}, units "
         "{args.units}, dropout {args.dropout}, window_norm {norm}, {loss} loss, Adam "
         "{args.learning_rate}{decay}, batch {args.batch_size}, at most {args.epochs} epochs, "
         "patience {args.patience} on validation MSE, seed {args.seed}{ensemble}")
SETTINGS = ("horizons", "lookback", "units", "segment_length", "dropout", "learning_rate",
            "lr_decay", "lr_decay_after", "batch_size", "epochs", "patience", "seed", "loss",
            "members", "seeds", "window_norm")


def model_text(args) -> str:
    """The model and training settings of this run, in words."""
    decay = (f" decayed x{args.lr_decay}/epoch after epoch {args.lr_decay_after}"
             if args.lr_decay != 1 else "")
    ensemble = (f"; an ensemble of {args.members} members in one model"
                if args.members > 1 else "")
    if args.seeds > 1:
        ensemble += (f"; mean of {args.seeds} runs, seeds {args.seed} to "
                     f"{args.seed + args.seeds - 1}")
    return MODEL.format(args=args, loss={"mae": "L1", "mse": "MSE"}[args.loss], decay=decay,
                        ensemble=ensemble, norm=args.window_norm)


def command(args, parser: argparse.ArgumentParser) -> str:
    """The command line of this run: the data and every setting that is not the default."""
    cores = sorted(os.sched_getaffinity(0))
    pinned = f"taskset -c {cores[0]} " if len(cores) == 1 else ""  # as this run was
    parts = [f"{pinned}.venv/bin/python benchmarks/forecasting_etth1.py", str(args.data)]
    for name in SETTINGS:
        value = getattr(args, name)
        if value != parser.get_default(name):
            shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"--{name.replace('_', '-')} {shown}")
    if args.intervals:
        parts.append("--intervals " + " ".join(args.intervals))
    return " ".join(parts)


def run_horizon(values, lookback, horizon, args) -> dict:
    """One horizon: ``args.seeds`` runs (seeds ``args.seed``, ``args.seed + 1``, ...),
    scored on their mean forecast, with the plain and window-scaled conformal coverage."""
    runs = [_train(values, lookback, horizon, argparse.Namespace(**{
        **vars(args), "seed": args.seed + run})) for run in range(args.seeds)]
    mean, std, parts = runs[0]["mean"], runs[0]["std"], runs[0]["parts"]
    predictions = {name: np.mean([r["predictions"][name] for r in runs], axis=0)
                   for name in parts}
    truth = parts["test"][1]
    error = predictions["test"] - truth
    validation_error = predictions["validation"] - parts["validation"][1]
    widths = conformal_widths(np.abs(validation_error), (0.8, 0.95))
    # Locally adaptive: errors in units of each window's own spread (the app's default).
    scales = {name: np.asarray(window_scale(x, mean.tolist(), std.tolist(), lookback,
                                            values.shape[1])) for name, (x, _) in parts.items()}
    adaptive = conformal_widths(np.abs(validation_error) / scales["validation"], (0.8, 0.95))
    last = parts["test"][0][:, -1:, :] - mean  # repeat the last value, standardized
    naive = np.broadcast_to(last / std, truth.shape) - truth
    return {
        "horizon": horizon, "test_windows": len(truth),
        "mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))),
        "last_value_mse": float(np.mean(naive ** 2)),
        "last_value_mae": float(np.mean(np.abs(naive))),
        "coverage_80": coverage(truth, predictions["test"], widths[0]),
        "coverage_95": coverage(truth, predictions["test"], widths[1]),
        "adaptive_coverage_80": coverage(truth, predictions["test"], adaptive[0] * scales["test"]),
        "adaptive_coverage_95": coverage(truth, predictions["test"], adaptive[1] * scales["test"]),
        "epochs_run": "+".join(str(r["epochs_run"]) for r in runs),
        "kept_epoch": "+".join(str(r["kept_epoch"]) for r in runs),
        "validation_mse": float(np.mean(validation_error ** 2)),
        "train_seconds": round(sum(r["train_seconds"] for r in runs), 1),
        # Each seed's run alone (--seeds), and each member of an ensemble alone (--members).
        **({"member_mse": [float(np.mean((r["predictions"]["test"] - truth) ** 2))
                           for r in runs],
            "member_validation_mse": [r["validation_mse"] for r in runs]}
           if len(runs) > 1 else {}),
        **({"ensemble_member_mse": [r["inside_mse"] for r in runs]}
           if runs[0]["inside_mse"] else {}),
    }


def _splits(values, lookback, horizon, args):
    train_end, validation_end, test_end = BORDERS
    mean, std = values[:train_end].mean(0), values[:train_end].std(0)
    scaled = (values - mean) / std
    train = window_dataset(values[:train_end], scaled[:train_end], lookback, horizon,
                           future_rows=False, batch_size=args.batch_size, shuffle=True,
                           seed=args.seed)
    parts = {name: forecast_windows(values[start - lookback:end], scaled[start - lookback:end],
                                    lookback, horizon, future_rows=False)
             for name, start, end in (("validation", train_end, validation_end),
                                      ("test", validation_end, test_end))}
    return mean, std, train, parts


def _train(values, lookback, horizon, args, quantiles=None):
    """The SegRNN of the benchmark (L1 loss, or the pinball loss with quantile heads)."""
    keras.utils.set_random_seed(args.seed)
    mean, std, train, parts = _splits(values, lookback, horizon, args)
    model = build_forecaster(
        "segrnn", rows=lookback, columns=values.shape[1], lookback=lookback, horizon=horizon,
        targets=values.shape[1], past=0, future=0, mean=mean.tolist(), std=std.tolist(),
        segment_length=args.segment_length, units=args.units, dropout=args.dropout,
        quantiles=quantiles, members=args.members, window_norm=args.window_norm)
    if quantiles:
        loss, metrics = PinballLoss(quantiles), median_metrics(quantiles)
    else:
        loss, metrics = args.loss, ["mse"]
    if args.members > 1:  # as the forecasting app compiles an ensemble
        loss = EnsembleLoss(loss, output_axes=int(bool(quantiles)))
        metrics = metrics if quantiles else [EnsembleMetric("mse")]
    model.compile(keras.optimizers.Adam(args.learning_rate), loss=loss, metrics=metrics)
    stopping = keras.callbacks.EarlyStopping("val_mse", patience=args.patience, mode="min",
                                             restore_best_weights=True)
    schedule = EpochDecay(args.lr_decay, after=args.lr_decay_after)  # the apps' lr_decay
    started = time.perf_counter()
    history = model.fit(train, validation_data=parts["validation"], epochs=args.epochs,
                        callbacks=[stopping, schedule], shuffle=False,  # shuffled windows
                        verbose=2)
    predictions = {name: model.predict(x, batch_size=512, verbose=0)
                   for name, (x, _) in parts.items()}
    inside = [keras.Model(model.input, layer.output) for layer in model.layers
              if layer.name.startswith("segrnn_")]  # an ensemble's members, each alone
    outputs = [m.predict(parts["test"][0], batch_size=512, verbose=0) for m in inside]
    if quantiles:  # the median is the point forecast
        outputs = [o[..., list(quantiles).index(0.5)] for o in outputs]
    own = [float(np.mean((o - parts["test"][1]) ** 2)) for o in outputs]
    return {"mean": mean, "std": std, "parts": parts, "predictions": predictions,
            "inside_mse": own,
            "epochs_run": len(history.history["loss"]),
            "kept_epoch": int(np.argmin(history.history["val_mse"])) + 1,
            "validation_mse": float(np.min(history.history["val_mse"])),
            "train_seconds": round(time.perf_counter() - started, 1)}


def _bands(truth, forecast, lower, upper) -> dict:
    """Coverage, mean width (standardized) of the 80% and 95% bands, and their pinball loss;
    and the coverage of the same bands recalibrated as the test truth arrives."""
    row = {"mse": float(np.mean((forecast - truth) ** 2)),
           "mae": float(np.mean(np.abs(forecast - truth)))}
    for i, level in enumerate(LEVELS):
        row[f"coverage_{round(level * 100)}"] = float(np.mean((truth >= lower[i])
                                                              & (truth <= upper[i])))
        row[f"width_{round(level * 100)}"] = float(np.mean(upper[i] - lower[i]))
    stacked = np.stack([forecast, lower[0], upper[0], lower[1], upper[1]], axis=-1)
    row["pinball"] = pinball(truth, stacked, OUTPUT_QUANTILES)
    row["recalibrated"] = recalibrated_coverage(truth, stacked, truth.shape[1],
                                                RECALIBRATION["window"], RECALIBRATION["every"])
    return row


def run_intervals(values, lookback, horizon, args) -> dict:
    """Test coverage of conformal, quantile-head and CQR intervals at one horizon."""
    result = {"horizon": horizon, "methods": {}}
    methods = set(args.intervals)
    if "conformal" in methods:
        point = _train(values, lookback, horizon, args)
        parts, predictions = point["parts"], point["predictions"]
        truth, forecast = parts["test"][1], predictions["test"]
        errors = np.abs(predictions["validation"] - parts["validation"][1])
        plain = conformal_widths(errors, LEVELS)
        scales = {name: np.asarray(window_scale(x, point["mean"].tolist(), point["std"].tolist(),
                                                lookback, values.shape[1]))
                  for name, (x, _) in parts.items()}
        adaptive = (conformal_widths(errors / scales["validation"], LEVELS)[:, None]
                    * scales["test"][None])
        training = {key: point[key] for key in ("epochs_run", "kept_epoch", "train_seconds")}
        result["methods"]["conformal"] = {
            **_bands(truth, forecast, forecast - adaptive, forecast + adaptive), **training,
            "detail": "L1 SegRNN, split-conformal, errors scaled by each window's spread"}
        result["methods"]["conformal (plain)"] = {
            **_bands(truth, forecast, forecast[None] - plain[:, None],
                     forecast[None] + plain[:, None]), **training,
            "detail": "L1 SegRNN, split-conformal, one width per step and variable"}
    if methods & {"quantile", "cqr"}:
        heads = _train(values, lookback, horizon, args, quantiles=QUANTILES)
        parts, predictions = heads["parts"], heads["predictions"]
        training = {key: heads[key] for key in ("epochs_run", "kept_epoch", "train_seconds")}
        middle = QUANTILES.index(0.5)
        bounds = level_quantiles(LEVELS, QUANTILES)
        test, validation = predictions["test"], predictions["validation"]
        lower = np.stack([test[..., lo] for lo, _ in bounds])
        upper = np.stack([test[..., hi] for _, hi in bounds])
        if "quantile" in methods:
            result["methods"]["quantile"] = {
                **_bands(parts["test"][1], test[..., middle], lower, upper), **training,
                "detail": "SegRNN with quantile heads, pinball loss, raw bands"}
        if "cqr" in methods:
            corrections = np.stack([
                cqr_corrections(parts["validation"][1], validation[..., lo], validation[..., hi],
                                level) for level, (lo, hi) in zip(LEVELS, bounds, strict=True)])
            forecast = test[..., middle]
            low, high = lower - corrections[:, None], upper + corrections[:, None]
            # Kept nested around the forecast, as the app's QuantileOutputs layer does.
            low[0], high[0] = np.minimum(low[0], forecast), np.maximum(high[0], forecast)
            low[1], high[1] = np.minimum(low[1], low[0]), np.maximum(high[1], high[0])
            result["methods"]["cqr"] = {
                **_bands(parts["test"][1], forecast, low, high), **training,
                "mean_correction": [float(c.mean()) for c in corrections],
                "detail": "the quantile heads' bands conformalized on the validation windows"}
    return result


def intervals_markdown(report: dict) -> str:
    lines = ["# ETTh1 intervals: test coverage of the 80% and 95% intervals", "",
             f"{report['model']}. Trained on the CPU ({report['machine']}), "
             f"{report['threads']}; total wall time {report['total_seconds'] / 60:.1f} min. "
             f"Reproduce: `{report['command']}`", "",
             "Coverage: share of the test values (every window, step and variable) inside "
             "the interval; width: mean interval width in standardized units; pinball: the "
             "mean pinball loss of the forecast and the four bounds read as the 0.5, 0.1, "
             "0.9, 0.025 and 0.975 quantiles (standardized units). Target: coverage within "
             "3 points of nominal (0.77-0.83 and 0.92-0.98). Recalibrated: the same bands "
             "rescaled, every 24 test origins, by the split-conformal rank of the band scores "
             "of the last 720 windows that had ended (only truth known at the time; the "
             "first origins keep the validation calibration), as `rnnt forecasting "
             "evaluate` reports and `predict` applies (`recalibration_window`).", "",
             "| horizon | method | coverage 80 | coverage 95 | width 80 | width 95 | pinball | "
             "MSE / MAE | within 3 points (80 / 95) | recalibrated 80 / 95 | within 3 points "
             "| kept epoch / run | train s |",
             "|---" * 13 + "|"]
    for row in report["horizons"]:
        for method, scores in row["methods"].items():
            within = " / ".join("yes" if abs(scores[f"coverage_{level}"] - level / 100) <= 0.03
                                else "no" for level in (80, 95))
            again = scores.get("recalibrated")
            recalibrated = (f"{again['coverage_80']:.3f} / {again['coverage_95']:.3f}"
                            if again else "")
            recalibrated_within = " / ".join(
                "yes" if abs(again[f"coverage_{level}"] - level / 100) <= 0.03 else "no"
                for level in (80, 95)) if again else ""
            lines.append(
                f"| {row['horizon']} | {method} | {scores['coverage_80']:.3f} | "
                f"{scores['coverage_95']:.3f} | {scores['width_80']:.3f} | "
                f"{scores['width_95']:.3f} | {scores['pinball']:.4f} | {scores['mse']:.3f} / "
                f"{scores['mae']:.3f} | {within} | {recalibrated} | {recalibrated_within} | "
                f"{scores['kept_epoch']}/{scores['epochs_run']} | {scores['train_seconds']:.0f} |")
    lines += ["", "Methods: " + "; ".join(
        f"`{method}`: {scores['detail']}"
        for method, scores in report["horizons"][0]["methods"].items()) + ".", ""]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    lines = ["# ETTh1, all 7 variables (standardized MSE / MAE on the test split)", ""]
    for run in [report, *report.get("earlier_runs", [])]:
        lines += _table(run)
    lines += ["Published numbers (every column but ours): lookback 96, as collected in "
              "CycleNet (Lin et al., NeurIPS 2024) Table 2; SegRNN: Lin et al., 2023, "
              "arXiv:2308.11200.",
              "Coverage: split-conformal intervals from the validation windows' absolute "
              "errors per horizon step and variable; `plain` uses one width per step and "
              "variable, `adaptive` scales the errors by each window's own spread (the "
              "forecasting app's default, `interval_scale=window`).", ""]
    return "\n".join(lines)


def _table(report: dict) -> list[str]:
    adaptive = "adaptive_coverage_80" in report["horizons"][0]
    model = report["model"]
    if "lookback" not in model:  # runs recorded before the lookback was part of the name
        model = model.replace("SegRNN: ", f"SegRNN: lookback {report['lookback']}, ", 1)
    lines = [f"## {model}", "",
             f"Trained on the CPU ({report['machine']}), {report['threads']}; "
             f"total wall time {report['total_seconds'] / 60:.1f} min. "
             f"Reproduce: `{report['command']}`", "",
             "| horizon | ours (SegRNN, rnn_templates) | last value | SegRNN | CycleNet | "
             "TimeMixer | iTransformer | DLinear | coverage 80/95 (plain) | "
             + ("coverage 80/95 (adaptive) | " if adaptive else "")
             + "kept epoch / run | train s |",
             "|---" * (11 + adaptive) + "|"]
    for row in report["horizons"]:
        published = PUBLISHED[row["horizon"]]
        cells = [f"{row['horizon']}", f"**{row['mse']:.3f}/{row['mae']:.3f}**",
                 f"{row['last_value_mse']:.3f}/{row['last_value_mae']:.3f}"]
        cells += [f"{mse:.3f}/{mae:.3f}" for mse, mae in published.values()]
        cells.append(f"{row['coverage_80']:.3f}/{row['coverage_95']:.3f}")
        if adaptive:
            cells.append(f"{row['adaptive_coverage_80']:.3f}/{row['adaptive_coverage_95']:.3f}")
        cells += [f"{row['kept_epoch']}/{row['epochs_run']}", f"{row['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    inside = [row for row in report["horizons"] if "ensemble_member_mse" in row]
    if inside:
        lines += ["", "Each ensemble member alone, test MSE: " + "; ".join(
            f"{row['horizon']}: " + ", ".join(f"{v:.3f}" for run in row["ensemble_member_mse"]
                                              for v in run) for row in inside) + "."]
    members = [row for row in report["horizons"] if "member_mse" in row]
    if members:
        lines += ["", "Each run alone, test MSE (validation MSE): " + "; ".join(
            f"{row['horizon']}: " + ", ".join(
                f"{test:.3f} ({validation:.3f})" for test, validation in
                zip(row["member_mse"], row["member_validation_mse"], strict=True))
            for row in members) + "."]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="ETTh1.csv")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--lookback", type=int, default=96)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--segment-length", type=int, default=48)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--window-norm", choices=("last", "revin", "none"), default="last",
                        help="per-window normalization (the forecasting app's window_norm)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=1.0,
                        help="learning rate factor per epoch after --lr-decay-after epochs "
                        "(1: constant)")
    parser.add_argument("--lr-decay-after", type=int, default=3,
                        help="epochs at the full rate before the decay starts (the forecasting "
                        "app's lr_decay_after)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--members", type=int, default=1,
                        help="members of a deep ensemble trained in one model, as the "
                        "forecasting app's --set members=N")
    parser.add_argument("--seeds", type=int, default=1,
                        help="train this many runs (seeds --seed, --seed + 1, ...) and score "
                        "their mean forecast")
    parser.add_argument("--loss", choices=("mae", "mse"), default="mae",
                        help="training loss (SegRNN's lookback-720 scripts train on MAE, "
                        "its lookback-96 scripts on MSE)")
    parser.add_argument("--intervals", nargs="+", choices=("conformal", "quantile", "cqr"),
                        help="run the interval part: these methods' test coverage")
    parser.add_argument("--output", default=None,
                        help="results path without suffix (default: results/forecasting_etth1, "
                        "or results/forecasting_etth1_intervals with --intervals)")
    args = parser.parse_args()
    args.parser = parser
    if args.output is None:
        args.output = str(RESULTS / ("forecasting_etth1_intervals" if args.intervals
                                     else "forecasting_etth1"))
    if args.intervals:
        main_intervals(args)
        return
    series = read_series(args.data)
    values = series.values[: BORDERS[-1]].astype("float32")
    started = time.perf_counter()
    output = Path(args.output)
    earlier = []
    if output.with_suffix(".json").is_file():  # keep the other model settings' results
        previous = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
        earlier = [previous, *previous.pop("earlier_runs", [])]
    report = {
        "protocol": "ETTh1 rows 0-8639/8640-11519/11520-14399, z-score on train, M setting",
        "lookback": args.lookback,
        "model": model_text(args),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{len(os.sched_getaffinity(0))} core(s) available",
        "threads": "pinned to one core with taskset" if len(os.sched_getaffinity(0)) == 1 else
                   "all available cores",
        "horizons": [], "published": {str(h): v for h, v in PUBLISHED.items()},
    }
    report["earlier_runs"] = [run for run in earlier if run["model"] != report["model"]]
    for horizon in args.horizons:
        report["horizons"].append(run_horizon(values, args.lookback, horizon, args))
        print(json.dumps(report["horizons"][-1]), flush=True)
        # Written after every horizon, so an interrupted run keeps what it finished.
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        report["command"] = command(args, args.parser)
        io.write_json(output.with_suffix(".json"), report)
        io.write_text(output.with_suffix(".md"), markdown(report))
    print(markdown(report))


def main_intervals(args) -> None:
    values = read_series(args.data).values[: BORDERS[-1]].astype("float32")
    started = time.perf_counter()
    output = Path(args.output)
    report = {
        "protocol": "ETTh1 rows 0-8639/8640-11519/11520-14399, z-score on train, M setting",
        "lookback": args.lookback,
        "model": model_text(args).replace("L1 loss", "L1 or pinball loss"),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{len(os.sched_getaffinity(0))} core(s) available",
        "threads": "pinned to one core with taskset" if len(os.sched_getaffinity(0)) == 1 else
                   "all available cores",
        "horizons": [],
    }
    for horizon in args.horizons:
        report["horizons"].append(run_intervals(values, args.lookback, horizon, args))
        print(json.dumps(report["horizons"][-1]), flush=True)
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        report["command"] = command(args, args.parser)
        io.write_json(output.with_suffix(".json"), report)
        io.write_text(output.with_suffix(".md"), intervals_markdown(report))
    print(intervals_markdown(report))


if __name__ == "__main__":
    main()
