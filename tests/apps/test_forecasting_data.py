"""Forecasting data: every loader problem with its exact message, the split, no leakage."""

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.app import ForecastingApp
from apps.forecasting.config import ForecastingConfig
from rnn_templates.data.series import prediction_history, read_series, split_series
from rnn_templates.errors import UserInputError


def _csv(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, **options) -> str:
    with pytest.raises(UserInputError) as caught:
        read_series(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unreadable_timestamp_names_line_and_column(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01 00:00,1\n2024-01-01 01:00,2\nyesterday,3\n"
                "2024-01-01 03:00,4\n")
    assert _error(path, time_column="time") == (
        f"{path}:4: timestamp not understood in column 'time'; expected a date or time; "
        "received 'yesterday'; fix the cell, or give the format with --set date_format=...")


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = _csv(tmp_path, "time,load,temp\n2024-01-01,1,5\n2024-01-02,2,x7\n2024-01-03,3,6\n")
    assert _error(path) == (
        f"{path}:3: non-numeric value in column 'temp'; expected a number, or an empty cell "
        "for a missing value; received 'x7' (1 such cells in the column); fix the cell, or "
        "leave the column out of targets and covariates")


def test_duplicate_timestamp_is_refused(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n2024-01-03,4\n")
    assert _error(path) == (
        f"{path}:4: duplicate timestamp 2024-01-02 00:00:00 in column 'time'; received also "
        "at line 3 (1 repeated in all); keep one row per timestamp (aggregate them first; for "
        "local times that repeat when clocks go back, write each timestamp with its UTC offset)")


def test_unsorted_rows_are_sorted_and_reported(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-02,2\n2024-01-01,1\n2024-01-03,3\n2024-01-04,5\n")
    series = read_series(path)
    assert series.values[:, 0].tolist() == [1, 2, 3, 5]
    assert series.notes == [f"{path}:2: rows not in time order: sorted by time"]


def test_gaps_are_filled_by_policy_or_refused(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n"
                "2024-01-01 04:00,8\n2024-01-01 05:00,9\n")
    interpolated = read_series(path, freq="h")
    assert interpolated.values[:, 0].tolist() == pytest.approx([1, 2, 4, 6, 8, 9])
    assert interpolated.notes[0] == (
        f"{path}:3: 2 missing steps at frequency h after this row (first 2024-01-01 "
        "02:00:00): inserted, values filled by interpolate")
    assert read_series(path, freq="h", missing="ffill").values[:, 0].tolist() == [
        1, 2, 2, 2, 8, 9]
    assert _error(path, freq="h", missing="error") == (
        f"{path}:3 (after this row): 2 missing time steps at frequency h (first 2024-01-01 "
        "02:00:00); fill them with --set missing=interpolate or missing=ffill")


def test_a_gap_that_would_make_up_most_of_the_series_is_refused(tmp_path):
    # One year mistyped in the last row: thousands of made-up hours otherwise.
    hours = pd.date_range("2024-01-01", periods=40, freq="h").strftime("%Y-%m-%d %H:%M").tolist()
    hours[-1] = "2025" + hours[-1][4:]
    path = _csv(tmp_path, "time,load\n" + "".join(f"{t},{i}\n" for i, t in enumerate(hours)))
    assert _error(path) == (
        f"{path}:40 (the longest gap follows this row): 8784 missing time steps at frequency h "
        "would make up 99.5% of the series; expected at most 50% of the rows inserted; "
        "received 8784 steps missing between 2024-01-02 14:00:00 and 2025-01-02 15:00:00 "
        f"({path}:41); check those timestamps (a mistyped year? day and month swapped? a file "
        "at another frequency than h?), fill or cut the gap in the file, or raise --set "
        "max_inserted")
    assert len(read_series(path, max_inserted=1.0)) == 8824
    # Below the limit the gap is filled and reported as before.
    gappy = _csv(tmp_path, "time,load\n2024-01-01 00:00,1\n2024-01-01 03:00,4\n", "gap.csv")
    assert _error(gappy, freq="h", max_inserted=0.4).startswith(f"{gappy}:2 (the longest gap")
    assert len(read_series(gappy, freq="h")) == 4  # 2 of 4 rows: the default allows half


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    path = _csv(tmp_path, 'time,load,note\n2024-01-01,1,a\n\n2024-01-02,2,"two\nlines"\n'
                "\n2024-01-03,x,c\n")
    assert _error(path).startswith(f"{path}:7: non-numeric value in column 'load'")


def test_a_repeated_header_name_is_refused_and_an_unnamed_column_left_out(tmp_path):
    path = _csv(tmp_path, "time,load,load\n2024-01-01,1,2\n2024-01-02,2,3\n")
    assert _error(path) == (f"{path}:1: column name 'load' appears 2 times in the header; "
                            "received columns 2, 3 of 3; give each column its own name")
    # pandas' to_csv() writes its index as a first column with an empty name.
    frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=5).strftime("%Y-%m-%d"),
                          "load": [1.0, 3, 2, 5, 4]})
    frame.to_csv(tmp_path / "indexed.csv")
    series = read_series(tmp_path / "indexed.csv")
    assert series.targets == ["load"]
    assert series.notes == [f"{tmp_path / 'indexed.csv'}: column 1 with no name in the header "
                            "(a saved table's index?) left out; give it a name to forecast it"]


def test_nan_and_inf_cells_are_filled_or_refused(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01,1\n2024-01-02,inf\n2024-01-03,NaN\n"
                "2024-01-04,4\n")
    series = read_series(path)
    assert series.values[:, 0].tolist() == pytest.approx([1, 2, 3, 4])
    assert series.notes == [f"{path}: column 'load': 2 empty or non-finite values (first at "
                            "2024-01-02 00:00:00) filled by interpolate"]
    assert _error(path, missing="error") == (
        f"{path}: 2024-01-02 00:00:00: missing or non-finite value in column 'load'; received "
        "2 empty, NaN or infinite cells; fill them with --set missing=interpolate or "
        "missing=ffill")


def test_constant_column_is_refused(tmp_path):
    path = _csv(tmp_path, "time,load,flag\n2024-01-01,1,3\n2024-01-02,2,3\n2024-01-03,3,3\n")
    assert _error(path) == (
        f"{path}: column 'flag' is constant (3 in every row); leave it out of the targets and "
        "covariates: it carries nothing")
    # A file a trained model reads may hold one value throughout (recent rows).
    assert read_series(path, refuse_constant=False).values[:, 1].tolist() == [3.0, 3.0, 3.0]


def test_calendar_frequencies_are_inferred_across_a_gap(tmp_path):
    months = pd.date_range("2010-01-01", periods=40, freq="MS").strftime("%Y-%m-%d")
    text = "month,sales\n" + "".join(f"{m},{i}\n" for i, m in enumerate(months) if i != 20)
    series = read_series(_csv(tmp_path, text))
    assert series.freq == "MS" and len(series) == 40
    assert series.notes[0].startswith(f"{tmp_path / 'series.csv'}:21: 1 missing step at "
                                      "frequency MS after this row (first 2011-09-01")
    # Business days with one holiday missing stay business days: no weekend is invented.
    days = pd.bdate_range("2023-01-02", periods=60).strftime("%Y-%m-%d")
    text = "day,value\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days) if i != 30)
    series = read_series(_csv(tmp_path, text, "days.csv"))
    assert series.freq == "B" and len(series) == 60


def test_gap_rows_are_not_counted_again_as_empty_cells(tmp_path):
    days = pd.date_range("2023-01-01", periods=30, freq="D").strftime("%Y-%m-%d")
    rows = [f"{d},{'' if i == 5 else i},{i % 4}" for i, d in enumerate(days) if i not in (20, 21)]
    series = read_series(_csv(tmp_path, "date,a,temp\n" + "\n".join(rows) + "\n"))
    assert len(series) == 30
    assert [note.split(": ", 1)[1] for note in series.notes] == [
        "2 missing steps at frequency D after this row (first 2023-01-21): inserted, values "
        "filled by interpolate",
        "column 'a': 1 empty or non-finite value (first at 2023-01-06 00:00:00) filled by "
        "interpolate"]


def test_utc_offsets_across_a_clock_change_and_local_dates(tmp_path):
    hours = pd.date_range("2024-03-30", periods=48, freq="h", tz="Europe/Berlin")
    text = "ts,load\n" + "".join(f"{t.isoformat()},{i % 5}\n" for i, t in enumerate(hours))
    series = read_series(_csv(tmp_path, text))
    assert series.utc and series.freq == "h" and len(series) == 48
    assert str(series.index[0]) == "2024-03-29 23:00:00"
    assert series.notes == [f"{tmp_path / 'series.csv'}: timestamps with UTC offsets read in "
                            "UTC (forecasts are labelled in UTC too)"]
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=6,
                               validation_start="2024-03-31T12:00+02:00", test_fraction=0.0)
    assert split_series(series, config)[0] == 35  # 10:00 UTC is the 36th hour
    # Local midnights keep their dates, in a CSV with offsets and in a zoned Parquet column.
    days = pd.date_range("2023-01-01", periods=200, freq="D", tz="Europe/Berlin")
    text = "date,a\n" + "".join(f"{d.isoformat()},{i % 7}\n" for i, d in enumerate(days))
    series = read_series(_csv(tmp_path, text, "days.csv"))
    assert not series.utc and series.freq == "D" and str(series.index[85].date()) == "2023-03-27"
    frame = pd.DataFrame({"a": np.arange(200.0) % 7}, index=pd.Index(days, name="date"))
    frame.to_parquet(tmp_path / "days.parquet")  # the time as the index, as pandas writes it
    series = read_series(tmp_path / "days.parquet")
    assert series.freq == "D" and len(series) == 200 and series.columns == ["a"]


def test_a_timestamp_written_another_way_is_read_not_refused(tmp_path):
    path = _csv(tmp_path, "date,v\n2023-01-03 00:00,1\n2023-01-03 01:00:00,2\n"
                "2023-01-03 02:00,3\n")
    assert len(read_series(path)) == 3
    # Day first where a cell proves it (13/02), so 01/02 is the 1st of February: then a
    # gap of 11 days in 13 is refused, not read as January the 2nd.
    path = _csv(tmp_path, "date,v\n01/02/2024,1\n13/02/2024,2\n14/02/2024,3\n")
    assert "missing time steps at frequency" in _error(path)
    # Timestamps with and without offsets are never mixed.
    path = _csv(tmp_path, "date,v\n2024-03-31 00:00,1\n2024-03-31 01:00,2\n"
                "2024-03-31T03:00+02:00,3\n2024-03-31T04:00+02:00,4\n2024-03-31T05:00+02:00,5\n")
    assert _error(path).startswith(f"{path}:2: timestamps with and without a UTC offset")
    # A time index named like a column leaves the column as it is.
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=5).strftime("%Y-%m-%d"),
                          "v": [1.0, 2, 3, 4, 5]},
                         index=pd.DatetimeIndex(pd.date_range("2020-01-01", periods=5),
                                                name="date"))
    frame.to_parquet(tmp_path / "both.parquet")
    assert str(read_series(tmp_path / "both.parquet").index[0].date()) == "2024-01-01"


def test_off_grid_timestamp_and_missing_column(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n"
                "2024-01-01 01:30,3\n2024-01-01 02:00,4\n")
    assert _error(path, freq="h") == (
        f"{path}:4: timestamp 2024-01-01 01:30:00 is off the h grid that starts at 2024-01-01 "
        "00:00:00; resample the data to one frequency, or declare the right one with --set "
        "freq= (a pandas alias: h, D, B, W-SUN, MS, QS...)")
    assert _error(path, targets=["lod"]) == (
        f"{path}: column 'lod' not found; expected one of time, load; received 'lod'; fix "
        "--set targets=...")


def test_dates_that_read_as_well_day_first_are_refused(tmp_path):
    months = pd.date_range("2000-01-01", periods=40, freq="MS")
    day_first = "time,v\n" + "".join(f"{t:%d/%m/%Y},{i}\n" for i, t in enumerate(months))
    path = _csv(tmp_path, day_first)
    assert _error(path) == (
        f"{path}:3: dates in column 'time' read two ways; received '01/02/2000': 2000-01-02 "
        "month first, 2000-02-01 day first, and no cell tells which; give the order with --set "
        "date_format=%d/%m/%Y (day first) or %m/%d/%Y (month first), adding the time's codes "
        "if the cells have one")
    assert read_series(path, date_format="%d/%m/%Y").freq == "MS"
    # Month first where day first would not be regular: read as before.
    month_first = "time,v\n" + "".join(f"{t:%m/%d/%Y},{i}\n" for i, t in enumerate(months))
    assert read_series(_csv(tmp_path, month_first, "us.csv")).freq == "MS"
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    daily = "time,v\n" + "".join(f"{t:%m/%d/%Y},{i}\n" for i, t in enumerate(days))
    assert len(read_series(_csv(tmp_path, daily, "daily.csv"))) == 40


def test_dotted_and_day_first_dates_are_dates_read_without_pandas_advice(tmp_path, recwarn):
    months = pd.date_range("2000-01-01", periods=40, freq="MS")
    dotted = "time,v\n" + "".join(f"{t:%d.%m.%Y},{i}\n" for i, t in enumerate(months))
    assert "'01.02.2000': 2000-01-02 month first, 2000-02-01 day first" in _error(
        _csv(tmp_path, dotted, "dotted.csv"))  # not "no datetime column found"
    days = pd.date_range("2024-01-13", periods=40, freq="D")  # the first cell tells the order
    for name, pattern in (("dots.csv", "%d.%m.%Y"), ("slashes.csv", "%d/%m/%Y")):
        text = "time,v\n" + "".join(f"{t:{pattern}},{i}\n" for i, t in enumerate(days))
        series = read_series(_csv(tmp_path, text, name))
        assert series.freq == "D" and series.index[0] == days[0]
    assert not [w for w in recwarn if "Parsing dates" in str(w.message)]
    # Decimal numbers are still not dates.
    decimals = "step,v\n" + "".join(f"{i}.5,{i}\n" for i in range(30))
    assert _error(_csv(tmp_path, decimals, "decimals.csv")).startswith(
        f"{tmp_path / 'decimals.csv'}: no datetime column found")


def test_seconds_since_1970_are_read_with_date_format_unix(tmp_path):
    seconds = 1704067200 + 3600 * np.arange(30)
    path = _csv(tmp_path, "time,load\n" + "".join(f"{t},{i % 7}\n" for i, t in enumerate(seconds)))
    assert _error(path, time_column="time") == (
        f"{path}:2: timestamp not understood in column 'time'; expected a date or time; "
        "received '1704067200'; for seconds since 1970 give --set date_format=unix "
        "(milliseconds: unix_ms)")
    series = read_series(path, time_column="time", date_format="unix")
    assert series.freq == "h" and str(series.index[0]) == "2024-01-01 00:00:00"
    frame = pd.DataFrame({"time": seconds * 1000, "load": np.arange(30) % 7})
    frame.to_parquet(tmp_path / "ms.parquet")
    again = read_series(tmp_path / "ms.parquet", time_column="time", date_format="unix_ms")
    assert (again.index == series.index).all()


def test_no_time_column_and_missing_file(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n3,4\n")
    assert _error(path) == (f"{path}: no datetime column found; expected a column of dates or "
                            "times; received columns a, b; name it with --set time_column=NAME "
                            "(and --set date_format=... if unusual)")
    assert _error(tmp_path / "nope.csv") == (
        f"{tmp_path / 'nope.csv'}: data file not found; check the path given to --data")
    (tmp_path / "folder.csv").mkdir()
    assert _error(tmp_path / "folder.csv") == (
        f"{tmp_path / 'folder.csv'}: expected a file but found a folder; pass the file itself "
        "to --data")


def test_date_format_calendar_and_parquet(tmp_path):
    frame = pd.DataFrame({"when": ["01.01.2024 00:00:00", "01.01.2024 06:00:00",
                                   "01.01.2024 12:00:00", "01.01.2024 18:00:00"],
                          "load": [1.0, 2.0, 4.0, 3.0]})
    frame.to_parquet(tmp_path / "series.parquet")
    series = read_series(tmp_path / "series.parquet", date_format="%d.%m.%Y %H:%M:%S",
                         calendar=["hour"])
    assert series.freq == "6h" and series.targets == ["load"]
    assert series.future == ["hour_sin", "hour_cos"]
    np.testing.assert_allclose(series.values[:, 1], [0, 1, 0, -1], atol=1e-9)


def _frame(steps: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-01-01", periods=steps, freq="h")
    return pd.DataFrame({"time": time.astype(str),
                         "load": np.sin(np.arange(steps) * 2 * np.pi / 24) + rng.normal(
                             0, 0.1, steps),
                         "temp": rng.normal(10, 2, steps)})


def test_split_is_chronological_and_scaling_sees_training_rows_only():
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=12,
                               past_covariates=["temp"], validation_fraction=0.2,
                               test_fraction=0.2)
    app = ForecastingApp()
    frame = _frame(500)
    prepared = app.prepare(config, app.from_arrays(config, frame, None))
    assert prepared.artifacts["split"]["rows"] == [300, 100, 100]
    train = frame.iloc[:300][["load", "temp"]].to_numpy()
    np.testing.assert_allclose(prepared.artifacts["mean"], train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(prepared.artifacts["std"], train.std(axis=0), rtol=1e-4)
    # Changing every validation and test value leaves the scaling unchanged: no leakage.
    altered = frame.copy()
    altered.loc[300:, ["load", "temp"]] *= 100
    again = app.prepare(config, app.from_arrays(config, altered, None))
    assert again.artifacts["mean"] == prepared.artifacts["mean"]
    assert again.artifacts["std"] == prepared.artifacts["std"]
    assert again.artifacts["naive_scale"] == prepared.artifacts["naive_scale"]
    # Windows: the test windows' targets are exactly the last 100 rows' targets.
    inputs, targets = prepared.splits["test"]
    assert inputs.shape == (100 - 6 + 1, 24, 2) and targets.shape == (95, 30, 1)
    np.testing.assert_allclose(targets[:, 24, 0], frame["load"].to_numpy()[400:495], rtol=1e-6)
    assert len(prepared.splits["train"][0]) == 300 - 30 + 1


def test_filled_in_values_are_trained_on_but_neither_scored_nor_calibrated_on():
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=12,
                               validation_fraction=0.2, test_fraction=0.2)
    app = ForecastingApp()
    frame = _frame(500)
    frame.loc[[10, 350, 351], "load"] = np.nan  # empty cells in training and validation
    gappy = frame.drop(index=range(420, 430))  # ten missing hours in the test part
    series = app.from_arrays(config, gappy, None)
    assert len(series) == 500 and not np.isnan(series.values).any()
    prepared = app.prepare(config, series)
    _, train = prepared.splits["train"]
    assert not np.isnan(train).any()  # training windows read the filled values
    _, validation = prepared.splits["validation"]  # rows 276-399
    assert np.isnan(validation[:, :, 0]).any(axis=0).sum() == 30  # rows 350-351 in every
    assert np.flatnonzero(np.isnan(validation[:, 24, 0])).tolist() == [350 - 300, 351 - 300]
    inputs, test = prepared.splits["test"]  # rows 376-499
    assert np.flatnonzero(np.isnan(test[:, 24, 0])).tolist() == list(range(20, 30))
    assert not np.isnan(inputs).any()
    np.testing.assert_allclose(test[:19, 24, 0], frame["load"].to_numpy()[400:419], rtol=1e-6)
    # Early stopping's validation loss leaves the filled-in rows 350-351 out too.
    rows, _, observed = prepared.state.fit["validation"]  # rows 276-399
    assert len(rows) == len(observed) == 124
    assert np.flatnonzero(~observed).tolist() == [350 - 276, 351 - 276]
    filled_before = _frame(500)
    filled_before.loc[[10], "load"] = np.nan  # in the training part only: no weights
    prepared = app.prepare(config, app.from_arrays(config, filled_before, None))
    assert len(prepared.state.fit["validation"]) == 2


def test_validation_without_enough_observed_values_is_refused_or_noted_before_training(capsys):
    app = ForecastingApp()

    def prepare(empty, **options):  # validation rows 700-799, test rows 800-999
        config = ForecastingConfig(lookback=24, horizon=6, segment_length=12, targets=["load"],
                                   validation_fraction=0.1, test_fraction=0.2, **options)
        frame = _frame(1000)
        frame.loc[empty, "load"] = np.nan
        return app.prepare(config, app.from_arrays(config, frame, None))

    # Every validation value filled in: the validation loss would score made-up values.
    with pytest.raises(UserInputError, match="no observed value in the validation split"):
        prepare(range(700, 800), intervals="quantile")
    # Rows 700-702 observed: horizon steps 4-6 (from row 703 on) have nothing to calibrate on.
    with pytest.raises(UserInputError, match="no observed value to calibrate the intervals "
                       "on.*target load at horizon step 4"):
        prepare(range(703, 800))
    capsys.readouterr()
    assert prepare(range(703, 800), intervals="quantile")  # its bands need no calibration
    assert capsys.readouterr().err == ""
    # Rows 700-709 observed: 5 values at step 6, enough for 80% (4) but not for 95% (19).
    prepared = prepare(range(710, 800))
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: the 95% intervals are calibrated on 5 observed validation values "
                   "for target load at horizon step 6; their coverage guarantee needs 19, so "
                   "there the band is the largest error seen (give a longer validation split "
                   "(--set validation_fraction=...) or fill the gap in the file)"]
    assert err[0][len("note: "):] in prepared.artifacts["data_notes"]


def test_a_column_constant_over_the_training_rows_is_refused():
    # A sensor stuck for the first 300 rows: its training scale would be zero.
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=12,
                               past_covariates=["temp"], validation_fraction=0.2,
                               test_fraction=0.2)
    app = ForecastingApp()
    frame = _frame(500)
    frame.loc[:299, "load"] = 100.0
    with pytest.raises(UserInputError) as caught:
        app.prepare(config, app.from_arrays(config, frame, None))
    assert str(caught.value) == (
        "memory: column 'load' is constant over the training rows (100 in each of the 300 rows "
        "up to 2020-01-13 11:00:00); leave it out of the targets and covariates, or start "
        "validation later (--set validation_start=... or a smaller validation_fraction and "
        "test_fraction) so that training sees it change")
    frame.loc[250, "load"] = 101.0  # one change is enough
    assert app.prepare(config, app.from_arrays(config, frame, None)).artifacts["std"][0] > 0


def test_split_by_timestamp_and_too_short_parts():
    frame = _frame(200)
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=12,
                               validation_start="2020-01-06 00:00", test_start="2020-01-08")
    series = ForecastingApp().from_arrays(config, frame, None)
    assert split_series(series, config) == (120, 168)
    short = ForecastingConfig(lookback=96, horizon=48, segment_length=12)
    with pytest.raises(UserInputError) as caught:
        split_series(series, short)
    assert str(caught.value) == (
        "memory: the training part is too short for one window; received 140 of 200 rows "
        "(lookback 96, horizon 48); use a longer series, a shorter lookback or horizon, or "
        "other split points")


def test_a_semicolon_separated_file_prints_its_error_line_and_no_pandas_warning(tmp_path):
    # Read with commas, the whole header is one column of "2024-01-01;1" cells: pandas
    # warned "Could not infer format" ahead of the one-line error.
    path = _csv(tmp_path, "date;load\n2024-01-01;1\n2024-01-02;2\n2024-01-03;3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        assert _error(path) == (
            f"{path}: no datetime column found: the file reads as one column; expected "
            "comma-separated columns; received the column 'date;load'; the file seems separated "
            "by ';': save it as comma-separated CSV")


# --- the history predict reads -----------------------------------------------------------


def _prediction_csv(tmp_path: Path, observed: int, future: int, columns=("date", "load", "temp")
                    ) -> Path:
    """``observed`` rows with targets, then ``future`` rows with temp only (empty load)."""
    steps = observed + future
    frame = pd.DataFrame({"date": pd.date_range("2020-09-01", periods=steps, freq="D")
                          .strftime("%Y-%m-%d"),
                          "load": [f"{10 + (i % 7) * 0.5:g}" for i in range(observed)]
                          + [""] * future,
                          "temp": [f"{15 + (i % 5):g}" for i in range(steps)]})
    frame.columns = list(columns)
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return path


def _future_model(**options):
    config = ForecastingConfig(lookback=28, horizon=7, segment_length=7, targets=["load"],
                               future_covariates=["temp"], calendar=["dayofweek"], **options)
    artifacts = {"input_columns": ["load", "temp", "dayofweek_sin", "dayofweek_cos"],
                 "lookback": 28, "horizon": 7, "future_rows": True}
    return config, artifacts


def test_predict_refuses_fewer_future_rows_than_the_horizon(tmp_path, capsys):
    # 40 observed rows then 5 future ones, horizon 7: the last 7 rows taken as the future
    # would start the forecast two days early and drop the last two observed loads.
    config, artifacts = _future_model()
    path = _prediction_csv(tmp_path, observed=40, future=5)
    with pytest.raises(UserInputError) as caught:
        prediction_history(str(path), config, artifacts)
    assert str(caught.value) == (
        f"{path}: lines 40-41: the last 7 rows (the horizon) are the forecast's future, but 2 "
        "of them hold observed targets ('load'); expected the history, then 7 future rows with "
        "the future covariates filled and the target cells empty; received 5 rows with empty "
        "targets after the last observed one (2020-10-10 00:00:00); add rows with the future "
        "covariates until 7 follow the last observed target, or empty the target cells of the "
        "rows to forecast")
    assert capsys.readouterr().err == ""  # the one error line only: no note before it
    # One observed target among the future rows is refused as well.
    path = _prediction_csv(tmp_path, observed=40, future=7)
    lines = path.read_text().splitlines()
    lines[45] = lines[45].replace(",,", ",12,")  # line 46: 2020-10-15
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserInputError, match=r"history.csv: line 46: the last 7 rows \(the "
                                             r"horizon\) are the forecast's future, but 1 of"):
        prediction_history(str(path), config, artifacts)


@pytest.mark.parametrize("missing", ["interpolate", "error"])
def test_predict_forecasts_after_the_last_observed_target(tmp_path, capsys, missing):
    config, artifacts = _future_model(missing=missing)
    path = _prediction_csv(tmp_path, observed=40, future=7)
    window, timestamps, known, truth = prediction_history(str(path), config, artifacts)
    assert window.shape == (28 + 7, 4)
    assert str(timestamps[0].date()) == "2020-10-11"  # the day after the 40th row
    assert len(timestamps) == 7 and len(known) == len(truth) == 40
    np.testing.assert_allclose(window[:28, 0], [10 + (i % 7) * 0.5 for i in range(12, 40)])
    # the future rows' empty targets are the forecast's, not missing values to report
    assert capsys.readouterr().err == ""


def test_predict_names_the_columns_the_model_expects_not_set(tmp_path):
    config, artifacts = _future_model()
    path = _prediction_csv(tmp_path, observed=40, future=7, columns=("day", "lod", "temp"))
    with pytest.raises(UserInputError) as caught:
        prediction_history(str(path), config, artifacts)
    assert str(caught.value) == (
        f"{path}: column 'load' not found; expected one of day, lod, temp; received 'load'; "
        "give a file with a date column and the columns load, temp, as in training")
    named, artifacts = _future_model(time_column="date")
    with pytest.raises(UserInputError) as caught:
        prediction_history(str(path), named, artifacts)
    assert "--set" not in str(caught.value)
    assert str(caught.value).endswith("give a file with the columns date, load, temp, as in "
                                      "training")


def test_predict_and_evaluate_match_columns_by_name(tmp_path):
    config = ForecastingConfig(lookback=28, horizon=7, segment_length=7)
    artifacts = {"input_columns": ["load", "temp"], "targets": 2, "past": 0, "future": 0,
                 "lookback": 28, "horizon": 7, "future_rows": False, "freq": "D"}
    path = _prediction_csv(tmp_path, observed=40, future=0)
    window = prediction_history(str(path), config, artifacts)[0]
    swapped = tmp_path / "swapped.csv"
    pd.read_csv(path)[["date", "temp", "load"]].to_csv(swapped, index=False)
    np.testing.assert_array_equal(prediction_history(str(swapped), config, artifacts)[0], window)
    app = ForecastingApp()
    inputs, targets = app.labelled(read_series(swapped), artifacts)
    np.testing.assert_array_equal(inputs, app.labelled(read_series(path), artifacts)[0])


def test_predict_reads_only_the_models_columns_in_the_models_clock(tmp_path, capsys):
    config = ForecastingConfig(lookback=28, horizon=7, segment_length=7, calendar=["dayofweek"])
    artifacts = {"input_columns": ["load", "temp", "dayofweek_sin", "dayofweek_cos"],
                 "target_names": ["load", "temp"], "targets": 2, "past": 0, "future": 2,
                 "lookback": 28, "horizon": 7, "future_rows": False, "freq": "D", "utc": False}
    path = _prediction_csv(tmp_path, observed=40, future=0)
    window = prediction_history(str(path), config, artifacts)[0]
    # A text column the model never read was refused as a non-numeric target.
    extra = tmp_path / "extra.csv"
    pd.read_csv(path).assign(comment="checked, fine").to_csv(extra, index=False)
    capsys.readouterr()
    np.testing.assert_array_equal(prediction_history(str(extra), config, artifacts)[0], window)
    assert f"{extra}: column(s) comment not read" in capsys.readouterr().err
    # Offsets where training had none, or none where it had them: other calendar
    # features, so refused (without calendar features only the labels follow the file).
    zoned = tmp_path / "zoned.csv"
    frame = pd.read_csv(path)
    frame.assign(date=frame["date"] + "T00:00+00:00").to_csv(zoned, index=False)
    with pytest.raises(UserInputError, match="the file's timestamps carry UTC offsets"):
        prediction_history(str(zoned), config, {**artifacts, "freq": "h"})
    with pytest.raises(UserInputError, match="the file's timestamps lack UTC offsets.*"
                       r"write them with their offsets \(\+00:00 for UTC\)"):
        prediction_history(str(path), config, {**artifacts, "utc": True, "freq": "h"})
    assert prediction_history(str(zoned), config, {**artifacts, "utc": True})[1][0].tz
    # Dates keep the dates they name, offsets or not: only a clock within a day matters.
    daily = {**artifacts, "utc": True}
    assert prediction_history(str(path), config, daily)[0].shape == window.shape
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(path.read_text().replace("date,load,temp", "date, load , temp", 1))
    capsys.readouterr()
    np.testing.assert_array_equal(prediction_history(str(spaced), config, artifacts)[0], window)
    assert "not read" not in capsys.readouterr().err
    plain = dataclasses.replace(config, calendar=[])
    plain_artifacts = {**artifacts, "input_columns": ["load", "temp"], "future": 0}
    assert prediction_history(str(zoned), plain, plain_artifacts)[1][0].tz


def test_predict_expects_empty_past_covariates_in_the_future_rows(tmp_path, capsys):
    config = ForecastingConfig(lookback=28, horizon=7, segment_length=7, targets=["load"],
                               past_covariates=["temp"], future_covariates=["price"])
    artifacts = {"input_columns": ["load", "temp", "price"], "targets": 1, "past": 1,
                 "lookback": 28, "horizon": 7, "future_rows": True}
    path = _prediction_csv(tmp_path, observed=40, future=7)
    frame = pd.read_csv(path)
    frame["price"] = np.arange(47) % 3
    frame.loc[40:, "temp"] = np.nan  # not known yet either
    frame.to_csv(path, index=False)
    window, timestamps, *_ = prediction_history(str(path), config, artifacts)
    assert window.shape == (35, 3) and str(timestamps[0].date()) == "2020-10-11"
    assert capsys.readouterr().err == ""


def test_a_season_longer_than_the_window_is_refused_with_the_largest_usable():
    with pytest.raises(ValueError) as caught:
        ForecastingConfig(lookback=28, horizon=7, segment_length=7, season=1000)
    assert str(caught.value) == (
        "`season` 1000 is longer than the window the seasonal-naive baseline reads (lookback "
        "28); expected 0 (detected) to 28, the largest usable; received season=1000; use "
        "season<=28 or a longer lookback")
    assert ForecastingConfig(lookback=28, horizon=7, segment_length=7, season=28).season == 28


# --- fixes that fit the command, an off-grid first row, the file's encoding ----------------


def _daily(tmp_path: Path, name: str, dates: list[str], cells: dict | None = None) -> Path:
    """A ``date,load`` file of ``dates``, ``cells`` replacing some loads by row."""
    cells = cells or {}
    return _csv(tmp_path, "date,load\n" + "".join(
        f"{date},{cells.get(i, i % 7)}\n" for i, date in enumerate(dates)), name)


DAYS = pd.date_range("2020-09-01", periods=40, freq="D").strftime("%Y-%m-%d").tolist()
PREDICT_READS = "predict reads the file as the model's training data was read"


def _predict_error(path, **options) -> str:
    config = ForecastingConfig(lookback=28, horizon=7, segment_length=7, **options)
    artifacts = {"input_columns": ["load"], "targets": 1, "past": 0, "future": 0,
                 "lookback": 28, "horizon": 7, "future_rows": False, "freq": "D"}
    with pytest.raises(UserInputError) as caught:
        prediction_history(str(path), config, artifacts)
    message = str(caught.value)
    assert "--set" not in message and "\n" not in message  # predict takes no --set
    return message


def test_predict_advises_changes_to_the_file_not_set(tmp_path):
    bad = list(DAYS)
    bad[30] = "2020-13-45"
    path = _daily(tmp_path, "badts.csv", bad)
    assert _predict_error(path, freq="D") == (
        f"{path}:32: timestamp not understood in column 'date'; expected a date or time; "
        f"received '2020-13-45'; fix the cell ({PREDICT_READS}, with no date_format)")
    assert _predict_error(path, freq="D", date_format="%Y-%m-%d") == (
        f"{path}:32: timestamp not understood in column 'date'; expected a date or time in the "
        f"format %Y-%m-%d; received '2020-13-45'; fix the cell ({PREDICT_READS}: date_format "
        "'%Y-%m-%d')")
    seconds = _daily(tmp_path, "seconds.csv", [str(1598918400 + 86400 * i) for i in range(40)])
    assert _predict_error(seconds, freq="D", time_column="date").endswith(
        f"received '1598918400'; fix the cell ({PREDICT_READS}, with no date_format)")
    months = pd.date_range("2000-01-01", periods=40, freq="MS").strftime("%d/%m/%Y").tolist()
    path = _daily(tmp_path, "months.csv", months)
    assert _predict_error(path) == (
        f"{path}:3: dates in column 'date' read two ways; received '01/02/2000': 2000-01-02 "
        "month first, 2000-02-01 day first, and no cell tells which; write the dates year "
        f"first, as YYYY-MM-DD ({PREDICT_READS}, with no date_format to tell the day from the "
        "month)")
    off = list(DAYS)
    off[20] += " 06:00"
    path = _daily(tmp_path, "offgrid.csv", off)
    assert _predict_error(path, freq="D") == (
        f"{path}:22: timestamp 2020-09-21 06:00:00 is off the D grid that starts at 2020-09-01 "
        "00:00:00; fix or remove this row, or resample the file to frequency D "
        f"({PREDICT_READS}: freq 'D')")
    path = _daily(tmp_path, "gap.csv", DAYS[:10] + DAYS[12:])
    assert _predict_error(path, freq="D", missing="error") == (
        f"{path}:11 (after this row): 2 missing time steps at frequency D (first 2020-09-11 "
        f"00:00:00); add the missing rows to the file ({PREDICT_READS}: missing 'error')")
    path = _daily(tmp_path, "empty.csv", DAYS, {5: ""})
    assert _predict_error(path, freq="D", missing="error") == (
        f"{path}: 2020-09-06 00:00:00: missing or non-finite value in column 'load'; received 1 "
        f"empty, NaN or infinite cells; fill the cells in the file ({PREDICT_READS}: missing "
        "'error')")
    path = _daily(tmp_path, "text.csv", DAYS, {5: "x"})
    assert _predict_error(path, freq="D").endswith("received 'x' (1 such cells in the column); "
                                                   "fix the cell")
    later = DAYS[:5] + pd.date_range("2021-09-01", periods=35).strftime("%Y-%m-%d").tolist()
    assert _predict_error(_daily(tmp_path, "year.csv", later), freq="D").endswith(
        "a file at another frequency than D?), or fill or cut the gap in the file")
    assert _predict_error(_daily(tmp_path, "one.csv", DAYS[:1])).endswith(
        "cannot infer the frequency of fewer than two timestamps; give a file with more rows")


def test_evaluate_advises_only_the_keys_evaluate_takes(tmp_path):
    app = ForecastingApp()

    def error(path, **options) -> str:
        config = ForecastingConfig(data=str(path), lookback=28, horizon=7, segment_length=7,
                                   **options)
        with pytest.raises(UserInputError) as caught:
            app.load_evaluation_data(config)
        return str(caught.value)

    renamed = _csv(tmp_path, "date,units_sold\n" + "".join(f"{d},{i % 7}\n"
                                                           for i, d in enumerate(DAYS)))
    assert error(renamed, targets=["sales"]) == (
        f"{renamed}: column 'sales' not found; expected one of date, units_sold; received "
        "'sales'; rename the file's column that holds sales to 'sales', as in the training data")
    assert error(renamed, time_column="day").endswith("fix --set time_column=...")  # a DATA_KEY
    dates_only = _csv(tmp_path, "date\n" + "\n".join(DAYS) + "\n", "dates.csv")
    assert error(dates_only) == (f"{dates_only}: no target column; received columns ['date']; "
                                 "give a file with the training data's target columns")
    later = DAYS[:5] + pd.date_range("2021-09-01", periods=35).strftime("%Y-%m-%d").tolist()
    message = error(_daily(tmp_path, "year.csv", later))
    assert message.endswith("or fill or cut the gap in the file") and "max_inserted" not in message
    # The keys evaluate takes are still named: date_format, missing, freq.
    bad = list(DAYS)
    bad[30] = "2020-13-45"
    assert error(_daily(tmp_path, "badts.csv", bad)).endswith(
        "fix the cell, or give the format with --set date_format=...")
    assert error(_daily(tmp_path, "gap.csv", DAYS[:10] + DAYS[12:]), missing="error").endswith(
        "fill them with --set missing=interpolate or missing=ffill")
    off = list(DAYS)
    off[20] += " 06:00"
    assert error(_daily(tmp_path, "offgrid.csv", off)).endswith("declare the right one with "
                                                                "--set freq= (a pandas alias: "
                                                                "h, D, B, W-SUN, MS, QS...)")
    assert "freq" in ForecastingConfig.DATA_KEYS


def test_an_off_grid_first_timestamp_is_the_one_named(tmp_path):
    # The grid was anchored at the first row: every correct row after it was off.
    path = _daily(tmp_path, "first.csv", ["2020-08-31 06:00", *DAYS])
    assert _error(path) == (
        f"{path}:2: timestamp 2020-08-31 06:00:00 is off the D grid that most rows follow (from "
        "2020-09-01 00:00:00 on); fix or remove this row")
    assert _error(path, freq="D") == _error(path)
    # A calendar frequency: a Wednesday before Sundays, declared or inferred.
    sundays = pd.date_range("2020-01-05", periods=30, freq="W-SUN").strftime("%Y-%m-%d").tolist()
    path = _daily(tmp_path, "weeks.csv", ["2020-01-01", *sundays])
    expected = (f"{path}:2: timestamp 2020-01-01 00:00:00 is off the W-SUN grid that most rows "
                "follow (from 2020-01-05 00:00:00 on); fix or remove this row")
    assert _error(path) == _error(path, freq="W-SUN") == expected
    assert _predict_error(path, freq="W-SUN") == expected  # predict names the row too
    # An odd row later on is named as before, the grid starting at the first row.
    off = list(DAYS)
    off[20] += " 06:00"
    assert _error(_daily(tmp_path, "later.csv", off)).startswith(
        f"{tmp_path / 'later.csv'}:22: timestamp 2020-09-21 06:00:00 is off the D grid that "
        "starts at 2020-09-01 00:00:00; resample the data")


def test_a_file_not_in_utf8_is_named_with_line_and_column(tmp_path):
    latin = tmp_path / "lat.csv"
    latin.write_bytes("date,ventes_été\n2024-01-01,1\n2024-01-02,2\n".encode("latin-1"))
    assert _error(latin) == (f"{latin}:1:13: file is not valid UTF-8; received byte 0xe9; "
                             "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")
    windows = tmp_path / "cp.csv"
    windows.write_bytes("\ufeffdate,v\n2024-01-01,1\n2024-01-02,\u201c2\u201d\n".encode(
        "utf-8")[:-8] + "\u201c2\u201d\n".encode("cp1252"))
    assert _error(windows) == (f"{windows}:3:12: file is not valid UTF-8; received byte 0x93; "
                               "re-save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)")
