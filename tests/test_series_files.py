"""Forecasting data files as exports write them: mixed offsets, trailing separators, epochs,
day-first dates, many gaps, whitespace-only lines."""


import numpy as np
import pandas as pd

from apps.forecasting.config import ForecastingConfig
from rnn_templates.data.series import prediction_history, read_series
from tests.apps.test_forecasting_data import _csv, _error


def _rows(times, columns: int = 2) -> str:
    return "".join(f"{t}," + ",".join(f"{(i * (c + 3)) % 7}" for c in range(columns)) + "\n"
                   for i, t in enumerate(times))


# --- timestamps with and without a UTC offset ----------------------------------------------


def test_timestamps_with_and_without_an_offset_in_one_column_are_refused(tmp_path):
    hours = pd.date_range("2024-01-08", periods=40, freq="h", tz="Europe/Berlin")
    cells = [t.isoformat(sep=" ") for t in hours]
    # The last rows appended without their offset: read as UTC they would move an hour.
    tail = cells[:30] + [c[:-len("+01:00")] for c in cells[30:]]
    path = _csv(tmp_path, "date,a,b\n" + _rows(tail))
    assert _error(path) == (
        f"{path}:32: timestamps with and without a UTC offset in column 'date'; expected every "
        "timestamp with a UTC offset, or none; received '2024-01-09 06:00:00' without one "
        "(10 of 40), '2024-01-09 05:00:00+01:00' with one at line 31; add the offset to the "
        "timestamps without one, or convert the column to one time zone without offsets")
    # A few rows in the middle without it collided with their neighbours: not duplicates.
    middle = cells[:10] + [c[:-len("+01:00")] for c in cells[10:14]] + cells[14:]
    message = _error(_csv(tmp_path, "date,a,b\n" + _rows(middle), "middle.csv"),
                     time_column="date")
    assert message.startswith(f"{tmp_path / 'middle.csv'}:12: timestamps with and without a "
                              "UTC offset in column 'date'")
    # Naive rows first: the column is still the time column, refused for the same reason.
    head = [c[:-len("+01:00")] for c in cells[:2]] + cells[2:]
    assert _error(_csv(tmp_path, "date,a,b\n" + _rows(head), "head.csv")).startswith(
        f"{tmp_path / 'head.csv'}:2: timestamps with and without a UTC offset in column 'date'; "
        "expected every timestamp with a UTC offset, or none; received '2024-01-08 00:00:00' "
        "without one (2 of 40), '2024-01-08 02:00:00+01:00' with one at line 4")
    # Dates such as 2024-01-05 end with digits that look like an offset: not mixed.
    days = pd.date_range("2024-01-01", periods=20, freq="D").strftime("%Y-%m-%d")
    assert len(read_series(_csv(tmp_path, "date,a,b\n" + _rows(days), "days.csv"))) == 20


# --- rows with more fields than the header -------------------------------------------------


def test_rows_ending_with_an_empty_extra_field_are_read_without_it_and_reported(tmp_path):
    hours = pd.date_range("2024-01-01", periods=30, freq="h").strftime("%Y-%m-%d %H:%M")
    text = "".join(f"{t},{i % 7},{i % 5},\n" for i, t in enumerate(hours))
    path = _csv(tmp_path, "date,a,b\n" + text)
    series = read_series(path)
    assert series.columns == ["a", "b"] and len(series) == 30
    assert str(series.index[0]) == "2024-01-01 00:00:00"
    np.testing.assert_array_equal(series.values[:, 0], np.arange(30) % 7)
    assert series.notes == [
        f"{path}:2: 30 rows end with an empty field after the header's 3 columns (a trailing "
        "separator): read without it"]
    # Only some rows with it (pandas then reports a tokenizing error).
    some = "date,a,b\n" + "".join(f"{t},{i % 7},{i % 5}{',' if i > 10 else ''}\n"
                                  for i, t in enumerate(hours))
    series = read_series(_csv(tmp_path, some, "some.csv"))
    assert series.columns == ["a", "b"] and len(series) == 30
    assert series.notes == [
        f"{tmp_path / 'some.csv'}:13: 19 rows end with an empty field after the header's 3 "
        "columns (a trailing separator): read without it"]


def test_rows_with_a_value_beyond_the_header_are_refused(tmp_path):
    hours = pd.date_range("2024-01-01", periods=30, freq="h").strftime("%Y-%m-%d %H:%M")
    # Every row with one more field: pandas would take the dates as the row labels.
    text = "".join(f"{t},{i % 7},{i % 5},{i}\n" for i, t in enumerate(hours))
    path = _csv(tmp_path, "date,a,b\n" + text)
    assert _error(path) == (
        f"{path}:2: the header has 3 fields and this row 4; expected 3 fields in every row, as "
        "in the header (line 1); received the extra field '0' (30 rows with more fields than "
        "the header); remove the extra field (a trailing separator?), or name the extra "
        "column in the header")
    # Empty extra fields first, then a value: refused at the value.
    mixed = "".join(f"{t},{i % 7},{i % 5},{'x' if i == 20 else ''}\n"
                    for i, t in enumerate(hours))
    path = _csv(tmp_path, "date,a,b\n" + mixed, "mixed.csv")
    assert _error(path).startswith(f"{path}:22: the header has 3 fields and this row 4")


# --- seconds since 1970 ----------------------------------------------------------------------


def test_date_format_unix_finds_the_epoch_column_and_labels_forecasts_in_utc(tmp_path):
    seconds = 1704067200 + 3600 * np.arange(40)
    path = _csv(tmp_path, "time,load,count\n" + "".join(
        f"{t},{(i % 7) * 0.5},{i % 3}\n" for i, t in enumerate(seconds)))
    series = read_series(path, date_format="unix")
    assert series.columns == ["load", "count"] and series.freq == "h"
    assert str(series.index[0]) == "2024-01-01 00:00:00" and series.utc
    assert series.notes == [f"{path}: timestamps read as seconds since 1970-01-01 in UTC "
                            "(forecasts are labelled in UTC too)"]
    config = ForecastingConfig(lookback=24, horizon=6, segment_length=6, date_format="unix")
    artifacts = {"input_columns": ["load", "count"], "targets": 2, "past": 0, "future": 0,
                 "lookback": 24, "horizon": 6, "future_rows": False, "freq": "h"}
    timestamps = prediction_history(str(path), config, artifacts)[1]
    assert timestamps[0].isoformat() == "2024-01-02T16:00:00+00:00"
    # Two columns of epochs: which one is the time is the user's to say.
    path = _csv(tmp_path, "start,end,load\n" + "".join(
        f"{t},{t + 3600},{i % 7}\n" for i, t in enumerate(seconds)), "two.csv")
    assert _error(path, date_format="unix") == (
        f"{path}: 2 columns read as seconds since 1970 (date_format=unix); expected one column "
        "of numbers that read as times from 1971 to 2199; received columns start, end; name the "
        "time column with --set time_column=NAME")
    assert _error(_csv(tmp_path, "a,b\n1.5,2\n3.5,4\n", "none.csv"),
                  date_format="unix_ms").startswith(
        f"{tmp_path / 'none.csv'}: no column read as milliseconds since 1970")


# --- day-first dates -------------------------------------------------------------------------


def test_day_first_dates_that_a_cell_proves_are_read_and_reported(tmp_path):
    hours = pd.date_range("2016-07-01", periods=24 * 15, freq="h")
    path = _csv(tmp_path, "date,a,b\n" + _rows(hours.strftime("%d/%m/%Y %H:%M")))
    series = read_series(path)
    assert series.freq == "h" and len(series) == 24 * 15 and (series.index == hours).all()
    assert series.notes == [
        f"{path}: dates in column 'date' read day first (%d/%m/%Y %H:%M), as '13/07/2016 "
        "00:00' at line 290 shows"]
    assert (read_series(path, time_column="date").index == hours).all()
    # Dotted, with seconds (the Jena climate export).
    tens = pd.date_range("2009-01-01 00:10", periods=6 * 24 * 14, freq="10min")
    path = _csv(tmp_path, "Date Time,p,T\n" + _rows(tens.strftime("%d.%m.%Y %H:%M:%S")),
                "jena.csv")
    series = read_series(path)
    assert series.freq == "10min" and (series.index == tens).all()
    assert series.notes[0].startswith(f"{path}: dates in column 'Date Time' read day first "
                                      "(%d.%m.%Y %H:%M:%S), as '13.01.2009 00:00:00' at line")
    # A first cell that tells the order is reported too.
    days = pd.date_range("2024-01-13", periods=20, freq="D")
    series = read_series(_csv(tmp_path, "day,a,b\n" + _rows(days.strftime("%d-%m-%Y")),
                              "dashes.csv"))
    assert (series.index == days).all() and "read day first (%d-%m-%Y)" in series.notes[0]
    # Month first stays month first; a stray cell does not turn the column around.
    us = hours.strftime("%m/%d/%Y %H:%M").tolist()
    us[100] = "31/31/2016 00:00"
    assert _error(_csv(tmp_path, "date,a,b\n" + _rows(us), "us.csv")).startswith(
        f"{tmp_path / 'us.csv'}:102: timestamp not understood in column 'date'")


# --- gaps ------------------------------------------------------------------------------------


def test_each_gap_is_reported_where_it_is(tmp_path):
    hours = pd.date_range("2024-01-01", periods=60, freq="h")
    kept = [t for i, t in enumerate(hours) if i not in (10, 11, 12, 40)]
    path = _csv(tmp_path, "time,a\n" + "".join(
        f"{t:%Y-%m-%d %H:%M},{i % 5}\n" for i, t in enumerate(kept)))
    series = read_series(path)
    assert len(series) == 60
    assert series.notes == [
        f"{path}:11: 3 missing steps at frequency h after this row (first 2024-01-01 "
        "10:00:00): inserted, values filled by interpolate",
        f"{path}:38: 1 missing step at frequency h after this row (first 2024-01-02 "
        "16:00:00): inserted, values filled by interpolate"]
    # Many gaps: their count, the first few and the longest, in one note.
    hours = pd.date_range("2024-01-01", periods=200, freq="h")
    removed = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 101, 102, 103, 150}
    kept = [t for i, t in enumerate(hours) if i not in removed]
    path = _csv(tmp_path, "time,a\n" + "".join(
        f"{t:%Y-%m-%d %H:%M},{i % 5}\n" for i, t in enumerate(kept)), "many.csv")
    series = read_series(path)
    assert len(series) == 200
    assert series.notes == [
        f"{path}: 11 gaps, 14 missing steps at frequency h in all: inserted, values filled by "
        "interpolate; the first after lines 11 (1 step, first 2024-01-01 10:00:00), 20 (1 step, "
        "first 2024-01-01 20:00:00), 29 (1 step, first 2024-01-02 06:00:00); the longest "
        "after line 92 (4 steps, first 2024-01-05 04:00:00)"]


# --- line numbers ----------------------------------------------------------------------------


def test_line_numbers_count_whitespace_only_lines(tmp_path):
    path = _csv(tmp_path, "time,load\n2024-01-01,1\n   \n2024-01-02,2\n\t\n2024-01-03,x\n")
    assert _error(path).startswith(f"{path}:6: non-numeric value in column 'load'")
    # Whitespace-only lines above the header too.
    path = _csv(tmp_path, " \ntime,load\n2024-01-01,1\n2024-01-02,x\n", "above.csv")
    assert _error(path).startswith(f"{path}:4: non-numeric value in column 'load'")
