"""Forecasting end to end through the CLI on the shipped series, and learning on synthetic data."""

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from apps.forecasting.app import OUTPUTS, ForecastingApp
from rnn_templates.cli import main
from tests.apps.resuming import assert_same_training, interrupt_then_resume

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=16", "--set", "lookback=52", "--set",
        "horizon=13", "--set", "segment_length=13", "--set", "patience=2",
        "--set", "recalibration_window=60", "--set", "recalibration_every=4"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("forecasting")


@pytest.fixture(scope="module")
def small_csv(workspace):
    rows = (REPO / "data/forecasting/co2_weekly.csv").read_text().splitlines()
    path = workspace / "co2.csv"
    path.write_text("\n".join(rows[:1] + rows[-700:]) + "\n")
    return path


@pytest.fixture(scope="module")
def trained_run(workspace, small_csv):
    run_dir = workspace / "run"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY]) == 0
    return run_dir


def test_train_writes_a_complete_run_directory(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.json", "history.csv", "learning_curves.png", "forecast.png",
            "errors.png", "model.keras", "saved_model", "test_windows.npz",
            "baselines.joblib", "artifacts.json"} <= names
    metrics = json.loads((trained_run / "metrics.json").read_text())
    test = metrics["test"]
    assert test["windows"] == 105 - 13 + 1  # 15% of 700 rows, horizon 13
    assert len(test["per_step"]["mae_normalized"]) == 13
    assert len(test["backtest"]["mae_normalized"]) == test["windows"]
    assert set(test["baselines"]) == {"last_value", "repeat_window", "seasonal_naive", "linear"}
    assert test["baselines"]["seasonal_naive"]["settings"] == {"season": 52}
    assert 0 <= test["coverage_80"] <= test["coverage_95"] <= 1
    # Recalibrated from the 20th ended window on, in blocks of 4 origins: origin 32 onwards.
    assert test["recalibrated"]["recalibrated_windows"] == test["windows"] - 32
    assert 0 <= test["recalibrated"]["coverage_80"] <= test["recalibrated"]["coverage_95"] <= 1
    assert max(metrics["export"].values()) < 1e-3
    for png in ("learning_curves.png", "forecast.png", "errors.png"):
        assert (trained_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saved_model_takes_raw_windows_and_answers_in_original_units(trained_run):
    # The export was reloaded in a fresh TensorFlow-only process during training and its
    # five outputs matched the model's (metrics["export"], checked above); here the
    # answers themselves: raw windows in, ordered bounds and ppm out.
    import tensorflow as tf

    loaded = tf.saved_model.load(str(trained_run / "saved_model"))
    with np.load(trained_run / "test_windows.npz") as stored:
        windows, targets = stored["inputs"][:5], stored["targets"][:5]
    fresh = {k: v.numpy() for k, v in loaded.serve(tf.constant(windows)).items()}
    model = keras.saving.load_model(trained_run / "model.keras")
    np.testing.assert_allclose(fresh["forecast"], np.asarray(model(windows))[..., 0], atol=1e-3)
    assert np.all(fresh["lower_95"] <= fresh["lower_80"])
    assert np.all(fresh["lower_80"] <= fresh["forecast"])
    assert np.all(fresh["forecast"] <= fresh["upper_80"])
    assert np.all(fresh["upper_80"] <= fresh["upper_95"])
    # Original units: ppm near the actual values, not standardized numbers near 0.
    assert np.abs(fresh["forecast"] - targets[:, 52:]).mean() < 5
    assert fresh["forecast"].min() > 300
    # A serving client's window of another length, or with a NaN, is refused by the
    # signature itself (not read from its oldest rows).
    signature = loaded.signatures["serve"]
    longer = np.concatenate([windows, windows], axis=1)
    holed = windows.copy()
    holed[0, 3, 0] = np.nan
    for bad in (longer, holed):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"expected a window of shape \(batch, 52, 1\) of finite"):
            signature(window=tf.constant(bad))


def test_a_served_window_may_hold_anything_where_the_model_reads_nothing(workspace, small_csv):
    # With known-future covariates the window runs over the horizon, whose target cells
    # are not known yet: NaN there is answered as any other value is.
    import tensorflow as tf

    run_dir = workspace / "calendar"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY, "--set", "epochs=1", "--set", "calendar=[month]"]) == 0
    signature = tf.saved_model.load(str(run_dir / "saved_model")).signatures["serve"]
    with np.load(run_dir / "test_windows.npz") as stored:
        window = stored["inputs"][:2].copy()
    assert window.shape == (2, 52 + 13, 3)  # co2, then the month's sine and cosine
    answer = signature(window=tf.constant(window))["forecast"].numpy()
    for unknown in (np.nan, 0.0, 1e6):
        window[:, 52:, 0] = unknown
        np.testing.assert_array_equal(signature(window=tf.constant(window))["forecast"],
                                      answer)
    for row, column in ((51, 0), (60, 2)):  # a cell the model reads: refused
        holed = window.copy()
        holed[0, row, column] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="of finite values"):
            signature(window=tf.constant(holed))


def test_evaluate_reproduces_the_test_metrics(trained_run, capsys):
    assert main(["forecasting", "evaluate", "--run-dir", str(trained_run)]) == 0
    evaluation = json.loads((trained_run / "evaluation-test.json").read_text())
    recorded = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert evaluation["mae"] == pytest.approx(recorded["mae"], rel=1e-5)
    assert evaluation["coverage_80"] == pytest.approx(recorded["coverage_80"])
    assert "seasonal_naive" in capsys.readouterr().out


def test_export_and_predict_write_a_csv_of_forecasts(trained_run, workspace, small_csv, capsys):
    destination = workspace / "exported"
    # (the fresh-process check of the export is tested above, on the training run's export)
    assert main(["forecasting", "export", "--run-dir", str(trained_run), "--output",
                 str(destination), "--no-check"]) == 0
    assert f"exported {destination}" in capsys.readouterr().out
    output = workspace / "forecasts.csv"
    assert main(["forecasting", "predict", "--model", str(destination), str(small_csv),
                 "--output", str(output)]) == 0
    with open(output) as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 13
    assert rows[0]["timestamp"] == "2002-01-05T00:00:00"  # one week after the last row
    assert rows[-1]["timestamp"] == "2002-03-30T00:00:00"
    for row in rows:
        values = [float(row[k]) for k in ("lower_95", "lower_80", "forecast", "upper_80",
                                           "upper_95")]
        assert values == sorted(values) and 360 < values[2] < 390
        assert row["calibration"] == "last 60 windows"  # the file's most recent windows


def test_predict_never_writes_over_a_file_it_reads(trained_run, workspace, small_csv, capsys):
    # `--output` naming the history being forecast replaced it, even with --overwrite.
    history = workspace / "history.csv"
    history.write_bytes(small_csv.read_bytes())
    listing = workspace / "inputs.txt"
    listing.write_text(f"{history}\n")
    model = str(trained_run / "saved_model")
    for inputs, where in (([str(history)], "input argument 1"),
                          (["--input", str(listing)], f"line 1 of {listing}")):
        assert main(["forecasting", "predict", "--model", model, *inputs, "--output",
                     str(history), "--overwrite"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--output is an input file ({where})" in err[0], err
        assert history.read_bytes() == small_csv.read_bytes()


def test_predict_reads_offsets_constant_recent_values_and_names_its_input(trained_run, workspace,
                                                                          small_csv, capsys):
    model = str(trained_run / "saved_model")
    frame = pd.read_csv(small_csv)
    zoned = workspace / "zoned.csv"
    frame.assign(date=frame["date"] + "T12:00:00+02:00").to_csv(zoned, index=False)
    assert main(["forecasting", "predict", "--model", model, str(zoned)]) == 0
    out, err = capsys.readouterr()
    first = out.splitlines()[0].split("\t") if "\t" in out else out.splitlines()[0].split(",")
    assert "2002-01-05T10:00:00+00:00" in first  # one week after the last row, in UTC
    assert "read in UTC" in err
    # Recent rows holding one value throughout are a history to forecast from.
    flat = workspace / "flat.csv"
    frame.tail(120).assign(co2=370.0).to_csv(flat, index=False)
    assert main(["forecasting", "predict", "--model", model, "--json", str(flat)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 13  # the horizon
    forecasts = np.array([[row[name] for name in OUTPUTS] for row in rows])
    assert np.isfinite(forecasts).all()
    # A flat history is forecast flat, inside nested intervals.
    assert np.abs(forecasts[:, 0] - 370.0).max() < 5
    nested = forecasts[:, [OUTPUTS.index(name) for name in (
        "lower_95", "lower_80", "forecast", "upper_80", "upper_95")]]
    assert (np.diff(nested, axis=1) >= 0).all()
    listing = workspace / "inputs.txt"
    listing.write_text(f"{flat}\n\n")
    assert main(["forecasting", "predict", "--model", model, "--input", str(listing)]) == 2
    err = capsys.readouterr().err
    assert "empty input: no file named" in err and "--data" not in err
    assert main(["forecasting", "predict", "--model", model, str(workspace / "nowhere.csv")]) == 2
    assert "check the path given to predict's input" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["export", "evaluate"])
def test_another_apps_export_or_evaluate_of_the_run_is_one_line(trained_run, workspace, verb,
                                                                 capsys):
    output = workspace / "not-music"
    args = ["--output", str(output)] if verb == "export" else []
    assert main(["music", verb, "--run-dir", str(trained_run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "this model was made by the forecasting app" in err and len(err.splitlines()) == 1
    assert f"use `rnnt forecasting {verb}`" in err and not output.exists()


def test_an_export_that_fails_its_check_replaces_nothing_and_is_one_line(
        trained_run, workspace, monkeypatch, capsys):
    from rnn_templates import app as runner_module

    output = workspace / "checked"
    assert main(["forecasting", "export", "--run-dir", str(trained_run), "--output",
                 str(output)]) == 0
    before = (output / "saved_model.pb").stat().st_mtime_ns

    def failing(*args, **kwargs):
        raise RuntimeError("exported output 'forecast' differs from the in-memory model by 3")

    monkeypatch.setattr(runner_module, "check_in_fresh_process", failing)
    capsys.readouterr()
    assert main(["forecasting", "export", "--run-dir", str(trained_run), "--output",
                 str(output)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the export failed its check (nothing was replaced)" \
        in err and "differs from the in-memory model by 3" in err
    assert (output / "saved_model.pb").stat().st_mtime_ns == before
    assert sorted(p.name for p in output.parent.iterdir() if p.name.startswith(".checked")) == []


def test_evaluate_on_a_file_shorter_than_one_window_says_so(trained_run, workspace, small_csv,
                                                          capsys):
    short = workspace / "short.csv"
    pd.read_csv(small_csv).tail(64).to_csv(short, index=False)
    assert main(["forecasting", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(short)]) == 2
    assert ("too few rows for one window to evaluate; expected at least lookback + horizon = "
            "52 + 13 = 65 rows; received 64 rows") in capsys.readouterr().err


def test_evaluate_on_a_file_at_another_frequency_is_refused(trained_run, workspace, small_csv,
                                                            capsys):
    daily = workspace / "daily.csv"
    frame = pd.read_csv(small_csv)
    frame["date"] = pd.date_range("2001-01-06", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    frame.to_csv(daily, index=False)
    assert main(["forecasting", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(daily)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rnnt forecasting: error: {daily}: the file's time steps differ from the "
                   "model's; expected frequency W-SAT; received frequency D; evaluate on a file "
                   "at frequency W-SAT (resample it), or --set freq=W-SAT if only some steps "
                   "are missing"]


def test_evaluate_reads_a_file_at_the_models_frequency_with_set_freq(trained_run, workspace,
                                                                     small_csv, capsys):
    # Every other week missing: inferred, the file's frequency is 2W-SAT, and the fix
    # names --set freq=W-SAT, which evaluate takes (it once refused it).
    sparse = workspace / "fortnightly.csv"
    pd.read_csv(small_csv).iloc[::2].to_csv(sparse, index=False)
    command = ["forecasting", "evaluate", "--run-dir", str(trained_run), "--data", str(sparse)]
    assert main(command) == 2
    assert capsys.readouterr().err.strip().endswith(
        "received frequency 2W-SAT; evaluate on a file at frequency W-SAT (resample it), or "
        "--set freq=W-SAT if only some steps are missing")
    assert main([*command, "--set", "freq=W-SAT"]) == 0
    out, err = capsys.readouterr()
    assert "missing steps at frequency W-SAT in all: inserted" in err
    evaluation = json.loads((trained_run / "evaluation-fortnightly.json").read_text())
    assert evaluation["windows"] == 700 - 1 - 65 + 1  # the 699 weeks of the file, read weekly


def test_predict_advises_a_change_to_the_file_not_a_set_option(trained_run, workspace,
                                                              small_csv, capsys):
    bad = workspace / "badts.csv"
    frame = pd.read_csv(small_csv)
    frame.loc[30, "date"] = "2001-13-45"
    frame.to_csv(bad, index=False)
    assert main(["forecasting", "predict", "--model", str(trained_run / "saved_model"),
                 str(bad)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"rnnt forecasting: error: input argument 1, {bad}:32: timestamp not understood in "
        "column 'date'; expected a date or time; received '2001-13-45'; fix the cell (predict "
        "reads the file as the model's training data was read, with no date_format)"]


def test_a_latin1_file_to_train_on_is_named_with_line_and_column(workspace, capsys):
    latin = workspace / "latin.csv"
    latin.write_bytes("date,ventes_été\n2001-01-06,370\n2001-01-13,371\n".encode("latin-1"))
    run_dir = workspace / "never-latin"
    assert main(["forecasting", "train", "--data", str(latin), "--run-dir", str(run_dir)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rnnt forecasting: error: {latin}:1:13: file is not valid UTF-8; received byte 0xe9; "
        "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")
    assert not run_dir.exists()


def test_predict_on_a_file_with_other_columns_is_one_clear_line(trained_run, workspace, capsys):
    other = workspace / "other.csv"
    pd.DataFrame({"date": pd.date_range("2001-01-06", periods=100, freq="W-SAT"),
                  "temperature": np.arange(100) % 7}).to_csv(other, index=False)
    assert main(["forecasting", "predict", "--model", str(trained_run / "saved_model"),
                 str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("rnnt forecasting: error: ") and "column 'co2' not found" in err[0]
    # predict takes no --set: the fix names the columns the model reads.
    assert err[0].endswith("give a file with a date column and the columns co2, as in "
                           "training")


def test_predict_names_the_input_line_it_refuses(trained_run, workspace, small_csv, capsys):
    listing = workspace / "inputs.txt"
    listing.write_text(f"{small_csv}\n\n{small_csv}\n")
    assert main(["forecasting", "predict", "--model", str(trained_run / "saved_model"),
                 str(small_csv), "--input", str(listing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"rnnt forecasting: error: line 2 of {listing}, ")
    assert "no file named" in err[0]


def test_bad_data_fails_before_anything_is_written(workspace, capsys):
    bad = workspace / "bad.csv"
    bad.write_text("date,co2\n2001-01-06,370\n2001-01-13,abc\n2001-01-20,371\n")
    run_dir = workspace / "never"
    assert main(["forecasting", "train", "--data", str(bad), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"rnnt forecasting: error: {bad}:3: non-numeric value in column 'co2'; "
                   "expected a number, or an empty cell for a missing value; received 'abc' (1 "
                   "such cells in the column); fix the cell, or leave the column out of targets "
                   "and covariates")
    assert not run_dir.exists() and not Path(f"{run_dir}.partial").exists()


@pytest.mark.parametrize("intervals", ["conformal", pytest.param("cqr", marks=pytest.mark.slow)])
def test_an_ensemble_trains_exports_and_evaluates_as_one_model(workspace, small_csv, intervals):
    run_dir = workspace / f"ensemble-{intervals}"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY, "--set", "members=3", "--set", f"intervals={intervals}"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert max(metrics["export"].values()) < 1e-3  # the SavedModel answers as the model
    model = keras.saving.load_model(run_dir / "model.keras")
    members = [layer for layer in model.layers if layer.name.startswith("segrnn_")]
    assert len(members) == 3
    with np.load(run_dir / "test_windows.npz") as stored:
        windows = stored["inputs"][:4]
    mean = keras.Model(model.input, model.get_layer("members").output)
    forecasts = np.mean([np.asarray(member(windows)) for member in members], axis=0)
    np.testing.assert_allclose(np.asarray(mean(windows)), forecasts, rtol=1e-5, atol=1e-5)
    assert main(["forecasting", "evaluate", "--run-dir", str(run_dir)]) == 0
    evaluation = json.loads((run_dir / "evaluation-test.json").read_text())
    assert evaluation["mae"] == pytest.approx(metrics["test"]["mae"], rel=1e-5)


def test_a_resumed_run_with_a_decaying_learning_rate_ends_like_an_uninterrupted_one(
        workspace, small_csv, monkeypatch):
    args = ["--data", str(small_csv), *TINY, "--set", "epochs=4", "--set", "patience=4",
            "--set", "lr_decay=0.5", "--set", "lr_decay_after=1"]
    whole = workspace / "decay-whole"
    assert main(["forecasting", "train", "--run-dir", str(whole), *args]) == 0
    resumed = workspace / "decay-resumed"
    interrupt_then_resume(monkeypatch, ["forecasting", "train", *args], resumed)
    rows = assert_same_training(whole, resumed)
    assert [row["epoch"] for row in rows] == list("0123")


def test_cqr_intervals_in_memory_give_nested_bands_in_original_units(workspace, small_csv):
    # The fast path of the same thing as the test below: train, calibrate, no export.
    from apps.forecasting.config import ForecastingConfig
    from rnn_templates.app import Runner

    frame = pd.read_csv(small_csv)
    config = ForecastingConfig(lookback=52, horizon=13, segment_length=13, units=8, epochs=1,
                               intervals="cqr", baseline=False)
    runner = Runner(ForecastingApp())
    model, artifacts, _ = runner.fit(config, frame, None, workspace / "fit-cqr")
    assert artifacts["intervals"] == "cqr" and len(artifacts["interval_corrections"]) == 2
    values = frame["co2"].interpolate().to_numpy("float32")
    windows = np.stack([values[i: i + 52, None]
                        for i in range(0, 600, 50)])
    outputs = runner.predict_outputs(model, windows)
    assert outputs.shape == (len(windows), 13, 1, 5)
    assert np.all(np.diff(outputs[..., [3, 1, 0, 2, 4]], axis=-1) >= -1e-4)  # nested bands
    assert outputs[..., 0].min() > 300  # ppm


@pytest.mark.slow
def test_cqr_intervals_train_export_and_answer_with_nested_bands(workspace, small_csv):
    # Quantile heads (pinball loss) whose bands are conformalized on the validation windows;
    # the export answers with the same five outputs as the conformal default.
    import tensorflow as tf

    run_dir = workspace / "cqr"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY, "--set", "epochs=1", "--set", "intervals=cqr", "--set",
                 "baseline=false"]) == 0
    artifacts = json.loads((run_dir / "artifacts.json").read_text())
    assert artifacts["intervals"] == "cqr" and len(artifacts["interval_corrections"]) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert 0 <= test["coverage_80"] <= test["coverage_95"] <= 1
    assert test["pinball_normalized"] > 0
    assert max(metrics["export"].values()) < 1e-3
    loaded = tf.saved_model.load(str(run_dir / "saved_model"))
    with np.load(run_dir / "test_windows.npz") as stored:
        windows = stored["inputs"]
    answer = {k: v.numpy() for k, v in loaded.serve(tf.constant(windows)).items()}
    assert answer["forecast"].shape == (len(windows), 13, 1)
    tolerance = 1e-4
    assert np.all(answer["lower_95"] <= answer["lower_80"] + tolerance)
    assert np.all(answer["lower_80"] <= answer["forecast"] + tolerance)
    assert np.all(answer["forecast"] <= answer["upper_80"] + tolerance)
    assert np.all(answer["upper_80"] <= answer["upper_95"] + tolerance)
    assert answer["forecast"].min() > 300  # original units (ppm)
    assert main(["forecasting", "evaluate", "--run-dir", str(run_dir)]) == 0
    evaluation = json.loads((run_dir / "evaluation-test.json").read_text())
    assert evaluation["pinball_normalized"] == pytest.approx(test["pinball_normalized"],
                                                             rel=1e-4)


def test_quantile_intervals_with_the_autoregressive_model_are_refused(workspace, small_csv,
                                                                     capsys):
    run_dir = workspace / "refused"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 "--set", "model=autoregressive", "--set", "intervals=cqr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnt forecasting: error: --set intervals, "
                                               "model: `intervals` cqr needs quantile heads")
    assert "use intervals=conformal" in err[0]
    assert not run_dir.exists() and not Path(f"{run_dir}.partial").exists()


def test_a_refit_on_the_validation_split_is_refused(workspace, small_csv, capsys):
    # The validation split calibrates the intervals: the tuned model retrains on train.
    from apps.forecasting.config import ForecastingConfig

    assert ForecastingConfig().refit == "train"
    run_dir, tuning_dir = workspace / "refit-refused", workspace / "refit-tuning"
    assert main(["forecasting", "tune", "--data", str(small_csv), "--run-dir", str(run_dir),
                 "--tuning-dir", str(tuning_dir), "--set", "refit=train+validation"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`refit` must be train here" in err[0]
    assert not run_dir.exists() and not tuning_dir.exists()


def test_a_season_the_window_cannot_hold_is_refused_before_training(workspace, small_csv,
                                                                     capsys):
    # It was accepted, then MASE was nan for every model (with NumPy warnings) and the
    # seasonal naive, cut to the window, was the repeat-window baseline under another name.
    run_dir = workspace / "long-season"
    assert main(["forecasting", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY, "--set", "season=1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rnnt forecasting: error: --set season: `season` 1000 is longer than the "
                   "window the seasonal-naive baseline reads (lookback 52); expected 0 "
                   "(detected) to 52, the largest usable; received season=1000; use season<=52 "
                   "or a longer lookback"]
    assert not run_dir.exists() and not Path(f"{run_dir}.partial").exists()


def _seasonal_frame(steps: int, seed: int = 0) -> pd.DataFrame:
    # A daily cycle on a slowly wandering level (AR(1)), plus noise: the seasonal naive
    # forecast carries yesterday's level, the last value ignores the cycle.
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    level = np.zeros(steps)
    for i in range(1, steps):
        level[i] = 0.97 * level[i - 1] + rng.normal(0, 0.3)
    load = (10 + level + 3 * np.sin(2 * np.pi * t / 24) + np.sin(2 * np.pi * t / 12 + 1)
            + rng.normal(0, 0.2, steps))
    return pd.DataFrame({"time": pd.date_range("2021-01-01", periods=steps, freq="h"),
                         "load": load})


@pytest.mark.parametrize("model, extra", [
    ("segrnn", {}),
    pytest.param("rnn", {"calendar": ["hour"]}, marks=pytest.mark.slow),
    pytest.param("autoregressive", {"epochs": 30, "patience": 6}, marks=pytest.mark.slow),
    pytest.param("single_step", {"horizon": 1}, marks=pytest.mark.slow),
])
def test_each_model_learns_a_seasonal_series_below_the_naive_baselines(workspace, model, extra):
    from apps.forecasting.config import ForecastingConfig
    from rnn_templates import forecasting as fc
    from rnn_templates.app import Runner
    from rnn_templates.data.series import series_from_frame
    from rnn_templates.data.windows import forecast_windows

    frame = _seasonal_frame(1000)
    options = {"model": model, "lookback": 48, "horizon": 12, "segment_length": 12,
               "units": 32, "epochs": 10, "learning_rate": 0.005, "patience": 3, **extra}
    config = ForecastingConfig(**options)
    runner = Runner(ForecastingApp())
    model_, artifacts, _ = runner.fit(config, frame.iloc[:800], None, workspace / f"fit-{model}")
    # Held-out windows from the last 200 rows (their history reaches back before them).
    series = series_from_frame(frame.iloc[800 - 48:], calendar=config.calendar)
    inputs, targets = forecast_windows(series.values.astype("float32"), series.values[:, :1],
                                       48, config.horizon, future_rows=artifacts["future_rows"])
    forecast = runner.predict_outputs(model_, inputs)[..., 0]
    mae = float(np.abs(forecast - targets).mean())
    shape = (48, config.horizon, 1)
    last = np.abs(fc.LastValue(*shape).outputs(inputs)[..., 0] - targets).mean()
    seasonal = np.abs(fc.SeasonalNaive(*shape, season=24).outputs(inputs)[..., 0]
                      - targets).mean()
    # One step ahead the last value is hard to beat by much; over 12 steps it is not.
    assert mae < (0.8 if config.horizon == 1 else 0.6) * last
    assert mae < 0.8 * seasonal



@pytest.mark.slow
def test_tune_searches_model_kinds_and_retrains(workspace, small_csv):
    run_dir = workspace / "tuned"
    assert main(["forecasting", "tune", "--data", str(small_csv), "--run-dir", str(run_dir),
                 "--tuning-dir", str(workspace / "tuning"), *TINY, "--set", "max_trials=3",
                 "--set", "tuning_epochs=1", "--set", "epochs=1"]) == 0
    board = (run_dir / "leaderboard.md").read_text()
    assert board.count("\n| ") >= 3 and "learning_rate" in board
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["tuning"]["trials"] == 3 and "model" in metrics["tuning"]["best"]
    # Validation calibrates the intervals, so the best model never trains on it.
    assert metrics["tuning"]["refit"] == "train" and "validation" in metrics


def test_an_export_made_on_jax_keeps_the_serving_checks(trained_run, workspace):
    # Exports are built under TensorFlow on every backend: a JAX-traced one would skip
    # the window checks and run only on the platform it was traced on.
    import os
    import subprocess
    import sys

    import tensorflow as tf

    output = workspace / "export-from-jax"
    result = subprocess.run(
        [sys.executable, "-m", "rnn_templates.cli", "forecasting", "export", "--run-dir",
         str(trained_run), "--output", str(output), "--no-check"], cwd=workspace,
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, CI="1", KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"))
    assert result.returncode == 0, result.stderr[-2000:]
    signature = tf.saved_model.load(str(output)).signatures["serve"]
    window = np.full((1, 52, 1), 400.0, np.float32)
    assert signature(window=tf.constant(window))["forecast"].shape == (1, 13, 1)
    window[0, 5, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="of finite values"):
        signature(window=tf.constant(window))
    # The check compares the TensorFlow model with the JAX one too, on a probe input.
    result = subprocess.run(
        [sys.executable, "-m", "rnn_templates.cli", "forecasting", "export", "--run-dir",
         str(trained_run), "--output", str(workspace / "checked-from-jax")], cwd=workspace,
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, CI="1", KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "; the model on TensorFlow against jax: " in result.stdout


def test_a_model_that_answers_otherwise_on_tensorflow_is_not_exported(trained_run):
    from rnn_templates.app import _probe_inputs, backend_difference, load_keras_model

    model = load_keras_model(trained_run / "model.keras")
    probe = _probe_inputs(model)
    assert probe.shape == (2, *model.inputs[0].shape[1:])
    answer = keras.tree.map_structure(keras.ops.convert_to_numpy, model(probe))
    assert backend_difference(model, probe, answer, "jax") == 0
    shifted = keras.tree.map_structure(lambda a: a * 1.01, answer)
    with pytest.raises(RuntimeError, match="answers differently on TensorFlow than on jax"):
        backend_difference(model, probe, shifted, "jax")
