"""Timestamped tables read into one checked, regular, numeric series (pandas, no TensorFlow).

:func:`read_series` reads a CSV or Parquet file; :func:`series_from_frame`
does the same checks on a ``pandas.DataFrame``. Every problem names the file,
the line (CSV: the file's line number; Parquet: the row number) and the
column, and is either fixed by the ``missing`` policy and reported in
:attr:`Series.notes`, or refused with a :class:`~rnn_templates.errors.UserInputError`:

- the header: a name given twice (refused), a column with no name (left out
  of the default targets, reported); rows with more fields than the header
  (refused, unless every extra field is empty: a trailing separator, read
  without it, reported); lines counted as an editor shows them;
- the time column: given, or the first column whose every value reads as a
  date (``date_format`` for unusual formats, ``unix``/``unix_ms`` for epoch
  numbers, read in UTC); unreadable or empty timestamps; timestamps with and
  without a UTC offset in one column (refused); numeric dates read day first
  when a cell proves the order (reported), or that read as well day first as
  month first (refused);
- duplicate timestamps (refused) and rows out of time order (sorted, reported);
- the frequency: declared (a pandas alias such as ``h``, ``D``, ``W-SAT``) or
  inferred; timestamps off that grid are refused; missing steps (gaps) are
  inserted and filled (reported gap by gap), or refused with ``missing=error``,
  or when they would make up more than ``max_inserted`` of the series;
- cells that are not numbers (refused), empty, NaN or infinite cells (filled
  by ``missing=interpolate`` (linear in time) or ``ffill``, or refused);
- constant columns (nothing to learn, and a zero scale): refused.

Calendar features (sine and cosine of the hour, day of week, month...) are
generated from the timestamps as known-future covariates.

:func:`load_series`, :func:`split_series` and :func:`prediction_history` do
the same with the knobs of a :class:`~rnn_templates.config.SeriesOptions`
config: what a forecasting app reads for training and for ``predict``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from rnn_templates.data.readers import (
    not_utf8,
    refuse_wide_without_bom,
    require_file,
    resolve_path,
)
from rnn_templates.errors import UserInputError

MISSING_POLICIES = ("interpolate", "ffill", "error")
# Up to this many gaps are reported one note each; more in one note.
GAP_NOTES = 5
# date_format values for numbers of seconds or milliseconds since 1970-01-01 (UTC).
EPOCH_UNITS = {"unix": "s", "unix_ms": "ms"}
# Cells read as "no value" (compared lower-case, stripped).
NA_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "-nan"})
# name -> (function of a DatetimeIndex, period)
CALENDAR = {
    "hour": (lambda index: index.hour + index.minute / 60, 24),
    "dayofweek": (lambda index: index.dayofweek, 7),
    "dayofmonth": (lambda index: index.day - 1, 31),
    "month": (lambda index: index.month - 1, 12),
    "dayofyear": (lambda index: index.dayofyear - 1, 366),
    "weekofyear": (lambda index: index.isocalendar().week.to_numpy() - 1, 53),
}


@dataclasses.dataclass
class Series:
    """A regular multivariate series: one row per time step, no missing value.

    Attributes:
        index: The timestamps, regular at ``freq``.
        values: ``(steps, columns)`` float64, in :attr:`columns` order: the
            targets, then past covariates, then known-future covariates
            (calendar features last).
        targets: Columns to forecast.
        past: Covariates known only up to the forecast origin.
        future: Covariates known for the horizon too (calendar features included).
        freq: The pandas frequency alias.
        source: The file (for messages).
        notes: What was fixed, one line each (gaps filled, rows sorted...).
        empty: ``(steps, columns read from the table)``: True where the table's
            cell was empty, NaN or infinite, or the row was inserted for a gap
            (before the ``missing`` policy filled it); None when unknown.
        lines: Each row's line (CSV) or row number (Parquet) in the table, 0 for
            rows inserted for a gap; None when unknown.
        unit: ``"line"`` or ``"row"``: what :attr:`lines` counts.
        utc: The table's timestamps carried UTC offsets (or were seconds or
            milliseconds since 1970) and :attr:`index` holds them in UTC (naive);
            False for naive timestamps, and for dates.
        generated: How many of the last columns are calendar features made here
            (not read from the table).
        unread: The table's named columns left out: neither the time column nor a
            target or covariate (targets and covariates given by name).
    """

    index: pd.DatetimeIndex
    values: np.ndarray
    targets: list[str]
    past: list[str]
    future: list[str]
    freq: str
    source: str
    notes: list[str] = dataclasses.field(default_factory=list)
    empty: np.ndarray | None = None
    lines: np.ndarray | None = None
    unit: str = "line"
    utc: bool = False
    generated: int = 0
    unread: list[str] = dataclasses.field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*self.targets, *self.past, *self.future]

    def __len__(self) -> int:
        return len(self.index)


@dataclasses.dataclass(frozen=True)
class Fixes:
    """What the fix of a reading error may ask for, when the command that reads the
    file cannot change every reading setting: ``predict`` takes no ``--set`` (it reads
    as the model's training data was read), ``evaluate --data`` only its config's
    ``DATA_KEYS``. Without one (training) a fix may name any ``--set`` key.

    Attributes:
        settable: The reading keys the command takes with ``--set``; a fix names no
            other, and says how to change the file instead.
        reading: How the command reads the file, said beside such a fix, e.g.
            ``"predict reads the file as the model's training data was read"``.
        columns: The fix for a missing or unreadable column (the columns a model
            reads), instead of naming the ``--set`` keys; None: by key, as above.
    """

    settable: frozenset[str] = frozenset()
    reading: str = ""
    columns: str | None = None


def _can_set(fixes: Fixes | None, key: str) -> bool:
    """Whether a fix may tell the user to change ``key`` with ``--set``."""
    return fixes is None or key in fixes.settable


def _as_read(fixes: Fixes, key: str, value) -> str:
    """How the command reads the file, with the setting a fix cannot change, e.g.
    ``predict reads the file as the model's training data was read: date_format '%Y'``."""
    if value:
        return f"{fixes.reading}: {key} {value!r}" if fixes.reading else f"{key} {value!r}"
    return f"{fixes.reading}, with no {key}" if fixes.reading else f"no {key}"


def calendar_features(index: pd.DatetimeIndex,
                      names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Sine and cosine of each calendar position, ``(columns, (steps, 2 * len(names)))``.

    Example:
        >>> columns, values = calendar_features(pd.date_range("2024-01-01", periods=2, freq="h"),
        ...                                     ["hour"])
        >>> columns, values.round(3).tolist()
        (['hour_sin', 'hour_cos'], [[0.0, 1.0], [0.259, 0.966]])
    """
    columns, arrays = [], []
    for name in names:
        if name not in CALENDAR:
            raise UserInputError(f"unknown calendar feature '{name}'", where="calendar",
                                 expected=f"some of {', '.join(CALENDAR)}", received=repr(name),
                                 fix="fix the name in --set calendar=[...]")
        function, period = CALENDAR[name]
        angle = 2 * np.pi * np.asarray(function(index), dtype=np.float64) / period
        columns += [f"{name}_sin", f"{name}_cos"]
        arrays += [np.sin(angle), np.cos(angle)]
    values = np.stack(arrays, axis=1) if arrays else np.zeros((len(index), 0))
    return columns, values


def future_index(last: pd.Timestamp, freq: str, steps: int) -> pd.DatetimeIndex:
    """The ``steps`` timestamps after ``last`` at ``freq``."""
    return pd.date_range(last, periods=steps + 1, freq=freq)[1:]


def read_series(path: str | os.PathLike, *, option: str = "--data", **options) -> Series:
    """Read a CSV or Parquet file (by extension) and check it; see :func:`series_from_frame`.
    ``option``: what gave the path, for messages."""
    if not str(path).strip():
        raise UserInputError("empty input: no file named", where=option,
                             expected="the path of a CSV or Parquet file",
                             fix="name a file on every input line")
    path = require_file(path, option)
    notes = []
    if path.suffix.lower() not in (".parquet", ".pq"):
        with path.open("rb") as file:
            refuse_wide_without_bom(file.read(4096), str(path), choice=False)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            first_line, unit = 1, "row"
        else:
            frame, notes = _read_csv(path)
            first_line, unit = 2, "line"  # the header is line 1
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except UserInputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError,
            csv.Error) as error:
        raise UserInputError("cannot read the table", where=str(path),
                             received=str(error).splitlines()[0][:160] if str(error) else
                             type(error).__name__,
                             expected="a CSV file with a header row, or a Parquet file",
                             fix="check the file's format") from None
    if unit == "line":
        header, options["lines"] = _csv_layout(path, len(frame))
        _check_header(header, path)
    series = series_from_frame(frame, source=str(path), first_line=first_line, unit=unit,
                               **options)
    series.notes[:0] = notes
    return series


def _not_utf8(path) -> UserInputError:
    """The error for a file that is not UTF-8 (forecasting reads no other encoding):
    ``file:line:column`` of the first byte that does not read, and an ``iconv`` line."""
    raw = path.read_bytes()
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return not_utf8(body, error.start, str(path), choice=False)
    # pandas read another part than the file's bytes: no position to give
    return UserInputError("file is not valid UTF-8", where=str(path),
                          fix="re-save the file as UTF-8")


def _read_csv(path) -> tuple[pd.DataFrame, list[str]]:
    """pandas' reading of a CSV file as text cells, and a note when rows end with an
    empty field after the header's columns (a trailing separator), read without it.

    pandas takes the first field of rows with one more field than the header as
    their label (and refuses such rows after the first): rows longer than a
    header of several columns are refused here, unless every extra field is empty.
    """
    options = dict(dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    try:
        frame = pd.read_csv(path, **options)
        if isinstance(frame.index, pd.RangeIndex):
            return frame, []
        failure = None
    except pd.errors.ParserError as error:
        failure = error
    header_line, header, longer = _longer_rows(path)
    if not longer or len(header) < 2:  # one column: another separator, lines above the header
        if failure is not None:
            raise failure
        return frame, []
    filled = [(line, record) for line, record in longer
              if any(field.strip() for field in record[len(header):])]
    if filled:
        line, record = filled[0]
        extra = next(field for field in record[len(header):] if field.strip())
        raise UserInputError(
            f"the header has {len(header)} fields and this row {len(record)}",
            where=f"{path}:{line}",
            expected=f"{len(header)} fields in every row, as in the header (line {header_line})",
            received=f"the extra field {extra!r} ({len(longer)} rows with more fields than "
            "the header)",
            fix="remove the extra field (a trailing separator?), or name the extra column in "
            "the header")
    frame = pd.read_csv(path, **options, usecols=range(len(header)))
    count = len(longer)
    return frame, [f"{path}:{longer[0][0]}: {count} row{'s' if count > 1 else ''} end"
                   f"{'' if count > 1 else 's'} with an empty field after the header's "
                   f"{len(header)} columns (a trailing separator): read without it"]


def _records(text: str):
    """``(line, record)`` for each CSV record that is not blank, in order: the line
    where it starts, as an editor counts lines. Blank lines and lines of spaces or
    tabs hold no record (pandas skips them)."""
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    previous = 0
    for record in reader:
        if len(record) > 1 or (record and record[0].strip(" \t")):
            yield previous + 1, record
        previous = reader.line_num


def _read_text(path) -> str:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return stream.read()


def _longer_rows(path) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """The header's line and cells, and the rows with more fields than the header."""
    records = _records(_read_text(path))
    header_line, header = next(records, (1, []))
    return header_line, header, [(line, record) for line, record in records
                                 if len(record) > len(header)]


def _csv_layout(path, count: int) -> tuple[list[str], np.ndarray]:
    """The CSV's header cells and the line where each of its ``count`` rows starts.

    pandas skips blank lines (and lines of spaces or tabs) and reads quoted line
    breaks inside a row, so the rows' lines in the file are not simply 2, 3,
    4...: they are counted here, as an editor shows them. When the count
    disagrees with pandas' rows the plain numbering is kept.
    """
    text = _read_text(path)
    body = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    plain = np.arange(count) + 2
    if '"' not in text and not re.search(r"(?m)^[ \t]*$", body):
        return next(_records(text), (1, []))[1], plain
    records = _records(text)
    header_line, header = next(records, (1, []))
    starts = [line for line, _ in records]
    if len(starts) != count:
        return header, plain + header_line - 1
    return header, np.asarray(starts)


def _check_header(header: list[str], path) -> None:
    """Refuse a header that names one column twice (pandas would rename the second)."""
    names = [cell.strip() for cell in header]
    repeated = next((name for position, name in enumerate(names)
                     if name and name in names[:position]), None)
    if repeated is not None:
        positions = [str(i + 1) for i, name in enumerate(names) if name == repeated]
        raise UserInputError(
            f"column name '{repeated}' appears {len(positions)} times in the header",
            where=f"{path}:1", received=f"columns {', '.join(positions)} of {len(names)}",
            fix="give each column its own name")


def _where(source: str, unit: str, line: int) -> str:
    return f"{source}:{line}" if unit == "line" else f"{source}: row {line}"


def _to_datetime(text: pd.Series, date_format: str | None) -> pd.Series:
    """The cells read as timestamps (NaT where they do not read); see :func:`_parse_dates`."""
    return _parse_dates(text, date_format)[0]


def _parse_dates(text: pd.Series, date_format: str | None) -> tuple[pd.Series, str | None]:
    """``pd.to_datetime(..., errors="coerce")`` without pandas' format-inference warning,
    and the format when numeric dates were read day first without ``date_format``.

    Without a format pandas warns ("Could not infer format...") before parsing
    each cell on its own; the cells it cannot read become NaT, which the
    callers report in one line, so the warning would only print noise ahead
    of that line. So would its advice to pass ``dayfirst`` when the first
    cell reads day first. Silenced here only, not in the global warning filters.

    Cells with different UTC offsets (local time across a daylight-saving
    change) are read as UTC. Without ``date_format`` pandas takes the format
    from the first cell; an ISO 8601 cell written another way (with seconds
    where the first has none, say) is read as ISO 8601 rather than refused.
    Numeric dates whose first cell reads month first (``01/07/2016``) are read
    day first when that reads more cells (``13/07/2016`` proves the order);
    nothing is guessed beyond that: ``01/02/2024`` stays read one way only.
    ``date_format`` ``unix`` or ``unix_ms`` reads seconds or milliseconds since
    1970-01-01 UTC.
    """
    if date_format in EPOCH_UNITS:
        numbers = pd.to_numeric(text, errors="coerce")
        return pd.to_datetime(numbers, unit=EPOCH_UNITS[date_format], errors="coerce"), None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        # A day-first first cell (13/01/2024) sets the format; the ambiguous case is
        # refused by the callers (_refuse_ambiguous_order), so pandas' advice is noise.
        warnings.filterwarnings("ignore", message="Parsing dates in", category=UserWarning)
        try:
            parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        except ValueError as error:
            if "timezone" not in str(error).lower() and "tz" not in str(error):
                raise
            parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        filled = text.astype(str).str.strip().ne("")
        retry = parsed.isna() & filled
        if date_format is None and retry.any() and not retry.all():
            aware = parsed.dt.tz is not None
            try:
                again = pd.to_datetime(text[retry], format="ISO8601", errors="coerce",
                                       utc=aware)
            except (ValueError, TypeError):
                return parsed, None  # the other cells mix offsets and none: they stay unread
            if (again.dt.tz is not None) == aware:  # never naive and zoned cells together
                parsed = parsed.where(~retry, again)
        if date_format is not None or not filled.any():
            return parsed, None
        first = str(text[filled].iloc[0]).strip()
        if not re.match(r"\d{1,2}([/.-])\d{1,2}\1\d{2,4}\b", first):
            return parsed, None
        inferred = guess_datetime_format(first)
        if inferred and inferred.startswith("%d"):  # the first cell shows the order
            return parsed, inferred
        day_first = guess_datetime_format(first, dayfirst=True)
        if parsed.isna()[filled].any() and day_first and day_first.startswith("%d"):
            other = pd.to_datetime(text, format=day_first, errors="coerce")
            if other.notna().sum() > parsed.notna().sum():
                return other, day_first
        return parsed, None


# A UTC offset or zone after a time of day: 10:00Z, 10:00:00+01:00, 10:00 +0100, 10:00 UTC.
_TIME, _OFFSET = r":\d\d(?:[.,]\d+)?", r"\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"


def _with_offset(text: pd.Series) -> np.ndarray:
    """Which cells end with a UTC offset or zone after the time."""
    return text.str.contains(_TIME + _OFFSET, case=False, regex=True).fillna(False).to_numpy(
        bool)


def _without_offset(text: pd.Series) -> pd.Series:
    return text.str.replace(f"({_TIME}){_OFFSET}", r"\1", case=False, regex=True)


def _refuse_mixed_offsets(text: pd.Series, date_format, name, source, lines, unit) -> None:
    """Refuse a column where some timestamps carry a UTC offset and others do not:
    read in UTC, the others would move by the offset (and gaps or duplicates appear)."""
    offset = _with_offset(text)
    if not offset.any() or offset.all():
        return
    wall_format = date_format and re.sub(r"\s*%[zZ]", "", date_format) or None
    naive = ~offset & _to_datetime(_without_offset(text), wall_format).notna().to_numpy()
    if not naive.any():
        return
    row = int(np.flatnonzero(naive)[0])
    before = np.flatnonzero(offset[:row])
    zoned = int(before[-1]) if len(before) else int(np.flatnonzero(offset)[0])
    raise UserInputError(
        f"timestamps with and without a UTC offset in column '{name}'",
        where=_where(source, unit, int(lines[row])),
        expected="every timestamp with a UTC offset, or none",
        received=f"{text.iloc[row]!r} without one ({int(naive.sum())} of {len(text)}), "
        f"{text.iloc[zoned]!r} with one at {unit} {int(lines[zoned])}",
        fix="add the offset to the timestamps without one, or convert the column to one "
        "time zone without offsets")


def _reads_as_epochs(column: pd.Series, date_format: str) -> bool:
    """Whether at least 90% of the cells read as times from 1971 to 2199 in seconds or
    milliseconds since 1970 (``date_format`` ``unix`` or ``unix_ms``)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if not pd.api.types.is_numeric_dtype(column):
        column = pd.to_numeric(column.astype(str).str.strip(), errors="coerce")
    times = pd.to_datetime(column.astype(np.float64), unit=EPOCH_UNITS[date_format],
                           errors="coerce")
    return bool(times.between(pd.Timestamp("1971-01-01"), pd.Timestamp("2200-01-01"),
                              inclusive="left").mean() >= 0.9)


def _detect_epoch_column(frame: pd.DataFrame, date_format: str, fixes: Fixes | None,
                         source: str) -> str:
    found = [name for name in frame.columns if _reads_as_epochs(frame[name], date_format)]
    if len(found) == 1:
        return found[0]
    numbers = {"unix": "seconds", "unix_ms": "milliseconds"}[date_format]
    what = f"{len(found)} columns read" if found else "no column read"
    raise UserInputError(
        f"{what} as {numbers} since 1970 (date_format={date_format})", where=source or None,
        expected="one column of numbers that read as times from 1971 to 2199",
        received=f"columns {', '.join(map(str, found or frame.columns))}",
        fix=fixes and fixes.columns or "name the time column with --set time_column=NAME"
        + ("" if found else ", or check date_format (unix: seconds, unix_ms: milliseconds)"))


def _detect_time_column(frame: pd.DataFrame, date_format: str | None,
                        fixes: Fixes | None = None, source: str = "") -> str:
    if date_format in EPOCH_UNITS:
        return _detect_epoch_column(frame, date_format, fixes, source)
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            return name
        if pd.api.types.is_numeric_dtype(column):
            continue
        text = column.astype(str).str.strip()
        if text.str.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?").all():
            continue  # numbers are not dates
        offset = _with_offset(text)
        if offset.any() and not offset.all():  # refused by _timestamps, named there
            text = _without_offset(text)
        parsed = _to_datetime(text, date_format)
        if parsed.notna().mean() >= 0.9:
            return name
    separator = next((mark for mark in (";", "\t", "|") if len(frame.columns) == 1
                      and mark in str(frame.columns[0])), None)
    if separator:  # one column whose name holds the real columns: another separator
        shown = {"\t": "tabs"}.get(separator, f"'{separator}'")
        raise UserInputError(
            "no datetime column found: the file reads as one column", where=source or None,
            expected="comma-separated columns",
            received=f"the column {str(frame.columns[0])!r}",
            fix=f"the file seems separated by {shown}: save it as comma-separated CSV")
    raise UserInputError(
        "no datetime column found", where=source or None, expected="a column of dates or times",
        received=f"columns {', '.join(map(str, frame.columns))}",
        fix=fixes and fixes.columns or "name it with --set time_column=NAME (and --set "
        "date_format=... if unusual)")


def _timestamps(frame, name, date_format, source, lines, unit, fixes: Fixes | None = None
                ) -> tuple[pd.DatetimeIndex, bool, str | None]:
    """The time column's timestamps, whether they are in UTC, and a note on how they
    were read when the loader chose it (day-first dates).

    Timestamps with a zone or UTC offset become naive: in UTC (True), or, for
    dates (local midnights), as the dates they name (False). Seconds or
    milliseconds since 1970 are in UTC.
    """
    column = frame[name]
    note = None
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column)
        bad = parsed.isna().to_numpy()
    else:
        text = column.astype(str).str.strip()
        if date_format not in EPOCH_UNITS:
            _refuse_mixed_offsets(text, date_format, name, source, lines, unit)
        try:
            parsed, day_first = _parse_dates(text, date_format)
        except ValueError as error:  # a format pandas cannot use at all
            raise UserInputError("date_format not understood", where="date_format",
                                 received=f"{date_format!r} ({error})",
                                 fix="use strftime codes, e.g. %d.%m.%Y %H:%M:%S") from None
        bad = parsed.isna().to_numpy()
        if date_format is None and not bad.any():
            _refuse_ambiguous_order(text, parsed, name, source, lines, unit, fixes)
        if day_first:
            days = pd.to_numeric(text.str.extract(r"^(\d{1,2})[/.-]")[0], errors="coerce")
            row = int(np.argmax((days > 12).to_numpy()))
            note = (f"{source}: dates in column '{name}' read day first ({day_first}), as "
                    f"{text.iloc[row]!r} at {unit} {int(lines[row])} shows")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        cell = str(column.iloc[row]).strip()
        if not _can_set(fixes, "date_format"):  # the format is the model's (predict)
            fix = f"fix the cell ({_as_read(fixes, 'date_format', date_format)})"
        elif cell.isdigit() and not date_format:
            fix = "for seconds since 1970 give --set date_format=unix (milliseconds: unix_ms)"
        else:
            fix = "fix the cell, or give the format with --set date_format=..."
        raise UserInputError(
            f"timestamp not understood in column '{name}'",
            where=_where(source, unit, int(lines[row])), received=repr(str(column.iloc[row])),
            expected="a date or time" + (f" in the format {date_format}" if date_format else ""),
            fix=fix)
    index = pd.DatetimeIndex(parsed)
    if index.tz is None:
        epochs = date_format in EPOCH_UNITS and not pd.api.types.is_datetime64_any_dtype(column)
        return index, epochs, note
    utc = index.tz_convert("UTC").tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(column):
        wall = index.tz_localize(None)  # the clock time where the data was recorded
    else:
        wall = pd.DatetimeIndex(_to_datetime(text.str.replace(
            r"\s*(Z|UTC|[+-]\d\d(:?\d\d)?)$", "", regex=True), date_format))
    # Dates (every local timestamp at midnight) keep their dates: in UTC, local
    # midnights move by an hour with daylight saving and leave the grid. Anything
    # finer is read in UTC, where clock changes neither repeat nor skip an hour.
    if not wall.hasnans and (wall == wall.normalize()).all() \
            and not (utc == utc.normalize()).all():
        return wall, False, note
    return utc, True, note


def _refuse_ambiguous_order(text: pd.Series, parsed: pd.Series, name, source, lines,
                            unit, fixes: Fixes | None = None) -> None:
    """Refuse numeric dates that read as well day-first as month-first.

    pandas reads ``01/02/2024`` month first. When no cell shows the order (no
    day above 12) and the day-first reading makes as regular a series
    (monthly dates stamped on the 1st, say), the order is the user's to give.
    """
    match = text.str.extract(r"^\d{1,2}([/.-])\d{1,2}[/.-](\d{2,4})\b")
    if match.isna().any().any() or getattr(parsed.dt, "tz", None) is not None:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        other = pd.to_datetime(text, dayfirst=True, errors="coerce")
    if other.isna().any() or (other == parsed).all():
        return
    if _inserted(other, source) > _inserted(parsed, source):
        return  # month first is the regular reading
    separator, year = match.iloc[0, 0], "%Y" if len(match.iloc[0, 1]) == 4 else "%y"
    row = int(np.flatnonzero((other != parsed).to_numpy())[0])
    if _can_set(fixes, "date_format"):
        fix = (f"give the order with --set date_format=%d{separator}%m{separator}{year} (day "
               f"first) or %m{separator}%d{separator}{year} (month first), adding the time's "
               "codes if the cells have one")
    else:  # predict: the format is the model's, and it gives no order
        fix = (f"write the dates year first, as YYYY-MM-DD ({_as_read(fixes, 'date_format', '')}"
               " to tell the day from the month)")
    raise UserInputError(
        f"dates in column '{name}' read two ways", where=_where(source, unit, int(lines[row])),
        received=f"{text.iloc[row]!r}: {parsed.iloc[row].date()} month first, "
        f"{other.iloc[row].date()} day first, and no cell tells which", fix=fix)


def _inserted(values: pd.Series, source: str) -> float:
    """Rows a regular grid would insert among these timestamps (inf if none holds them)."""
    index = pd.DatetimeIndex(values).sort_values()
    if index.has_duplicates:
        return float("inf")
    try:
        freq = _resolve_freq(index, None, source)
    except UserInputError:
        return float("inf")
    grid = pd.date_range(index[0], index[-1], freq=freq)
    return float(len(grid) - len(index)) if index.isin(grid).all() else float("inf")


def _numbers(frame, names, source, lines, unit, choose: bool = True) -> np.ndarray:
    """Numeric columns; refuse non-numeric cells, keep NaN for empty ones, inf as NaN.
    ``choose``: the command may leave a column out (training), else the fix is the cell's."""
    arrays = []
    for name in names:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            column = column.astype(float)
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            text = column.astype(str).str.strip()
            empty = column.isna().to_numpy() | text.str.lower().isin(NA_TOKENS).to_numpy()
            values = pd.to_numeric(text.where(~empty, "nan"), errors="coerce").to_numpy(
                dtype=np.float64)
            bad = np.isnan(values) & ~empty
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise UserInputError(
                    f"non-numeric value in column '{name}'",
                    where=_where(source, unit, int(lines[row])),
                    received=f"{text.iloc[row]!r} ({int(bad.sum())} such cells in the column)",
                    expected="a number, or an empty cell for a missing value",
                    fix="fix the cell, or leave the column out of targets and covariates"
                    if choose else "fix the cell")
        arrays.append(np.where(np.isinf(values), np.nan, values))
    return np.stack(arrays, axis=1)


def _resolve_freq(index: pd.DatetimeIndex, freq: str | None, source: str,
                  fixes: Fixes | None = None) -> str:
    if freq:
        try:
            return pd.tseries.frequencies.to_offset(freq).freqstr
        except ValueError:
            raise UserInputError("frequency not understood", where="freq", received=repr(freq),
                                 expected="a pandas alias such as 15min, h, D, W-SAT, MS",
                                 fix="fix --set freq=...") from None
    if len(index) >= 3:
        inferred = pd.infer_freq(index)
        if inferred:
            return inferred
    steps = pd.Series(index[1:] - index[:-1])
    if len(steps):
        # pandas infers nothing once a step is missing: take the most common step, or the
        # calendar frequency (business days, months, quarters, years) whose grid holds
        # every timestamp with the fewest steps to insert.
        step = steps.mode().iloc[0]
        if step == pd.Timedelta(days=7):  # the weekday most rows fall on (the first's on a tie)
            weekdays = pd.Series(index.dayofweek).value_counts()
            day = index[0].dayofweek if weekdays[index[0].dayofweek] == weekdays.max() \
                else int(weekdays.idxmax())
            common = f"W-{('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN')[day]}"
        elif step % pd.Timedelta(days=1) == pd.Timedelta(0):
            common = f"{step.days}D" if step.days > 1 else "D"
        else:
            common = step
        candidates = [common]
        if step >= pd.Timedelta(days=1):
            candidates += ["B", "MS", "ME", "QS", "QE", "YS", "YE"]
        best, size = None, None
        for candidate in candidates:
            grid = pd.date_range(index[0], index[-1], freq=candidate)
            if index.isin(grid).all() and (size is None or len(grid) < size):
                best, size = candidate, len(grid)
        return pd.tseries.frequencies.to_offset(best if best is not None else common).freqstr
    raise UserInputError("cannot infer the frequency of fewer than two timestamps",
                         where=source, fix="declare it with --set freq=h (or D, W-SAT, ...)"
                         if _can_set(fixes, "freq") else "give a file with more rows")


def _grid_anchor(index: pd.DatetimeIndex, freq: str) -> int:
    """The first row on the grid that most rows follow (their phase at ``freq``), when
    the first row is off it; else 0, the grid starting at the first row.

    The phase of a row is its time modulo the step for a fixed step (``h``, ``15min``,
    ``2D``), and its time of day for a calendar frequency (``W-SUN``, ``MS``, ``B``...)
    on whose dates it falls (rows on other dates have none). A first row stamped
    06:00 among midnights is then the one off the grid, not the next row.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        step = pd.Timedelta(offset)
    except ValueError:  # a calendar frequency
        step = None
    if step is not None:
        phases = pd.Series((index - pd.Timestamp(0)) % step)
    else:
        on_dates = np.fromiter((offset.is_on_offset(moment) for moment in index), bool,
                               len(index))
        phases = pd.Series(index - index.normalize()).where(on_dates)
    counts = phases.value_counts()
    if counts.empty or (pd.notna(phases.iloc[0]) and counts.get(phases.iloc[0]) == counts.max()):
        return 0
    return int(np.flatnonzero(phases.isin(counts.index[counts == counts.max()]).to_numpy())[0])


def _gap_notes(grid: pd.DatetimeIndex, positions: np.ndarray, lines: np.ndarray, source: str,
               unit: str, freq: str, missing: str) -> list[str]:
    """A note for each gap (the row it follows, its missing steps, the first of them),
    or, past :data:`GAP_NOTES` gaps, one note: their count, the first few and the longest.

    ``positions``: each row's position in ``grid``; ``lines``: each row's line.
    """
    dates = bool((grid == grid.normalize()).all())
    after = np.flatnonzero(np.diff(positions) > 1)
    sizes = np.diff(positions)[after] - 1
    filled = f"inserted, values filled by {missing}"

    def first(gap) -> str:
        moment = grid[positions[gap] + 1]
        return str(moment.date() if dates else moment)

    if len(after) <= GAP_NOTES:
        return [f"{_where(source, unit, int(lines[gap]))}: {size} missing step"
                f"{'s' if size > 1 else ''} at frequency {freq} after this row (first "
                f"{first(gap)}): {filled}" for gap, size in zip(after, sizes, strict=True)]

    def located(gap, size) -> str:
        return f"{int(lines[gap])} ({size} step{'s' if size > 1 else ''}, first {first(gap)})"

    listed = ", ".join(located(gap, size) for gap, size in zip(after[:3], sizes[:3],
                                                                 strict=True))
    longest = int(np.argmax(sizes))
    return [f"{source}: {len(after)} gaps, {int(sizes.sum())} missing steps at frequency {freq} "
            f"in all: {filled}; the first after {unit}s {listed}; the longest after {unit} "
            f"{located(after[longest], sizes[longest])}"]


def series_from_frame(
    frame: pd.DataFrame,
    *,
    source: str = "data",
    time_column: str = "",
    targets: Sequence[str] = (),
    past: Sequence[str] = (),
    future: Sequence[str] = (),
    calendar: Sequence[str] = (),
    freq: str = "",
    date_format: str = "",
    missing: str = "interpolate",
    first_line: int = 2,
    unit: str = "line",
    fixes: Fixes | None = None,
    open_targets: int = 0,
    refuse_constant: bool = True,
    max_inserted: float = 0.5,
    lines: np.ndarray | None = None,
) -> Series:
    """Check a table and return a regular :class:`Series`.

    Args:
        frame: The table, one row per timestamp.
        source: The file (for messages).
        time_column: The datetime column; empty: detected.
        targets: Columns to forecast; empty: every other column that is not a covariate.
        past: Past-only covariates.
        future: Known-future covariates (their values over the horizon are given).
        calendar: Calendar features to generate (keys of :data:`CALENDAR`).
        freq: A pandas frequency alias; empty: inferred.
        date_format: A ``strftime`` format for the time column; empty: detected.
        missing: ``interpolate``, ``ffill`` or ``error`` for gaps and empty cells.
        first_line: Line number of the first row (2 under a CSV header).
        unit: ``"line"`` (CSV) or ``"row"`` (Parquet) in messages.
        fixes: What the fixes of errors may ask for, when the command reading the
            file cannot change every setting (:class:`Fixes`: predict takes no
            ``--set``, evaluate only some keys); None: any ``--set`` key (training).
        open_targets: The last rows whose target and past-covariate cells are left
            empty on purpose (the horizon of a forecast from a file with known-future
            covariates): those cells are filled like others but neither reported nor
            refused as missing.
        refuse_constant: Refuse a constant column (nothing to learn from it); False
            for a file a trained model reads, whose recent rows may well hold one
            value throughout (the scaling comes from training).
        max_inserted: The largest share of the series that rows inserted for missing
            steps may make up; more is refused, naming the longest gap (a mistyped
            timestamp, or a file at another frequency, would otherwise become a
            series of made-up values).
        lines: Each row's line in the file, when not ``first_line`` onwards (blank
            lines, quoted line breaks).

    Returns:
        The series; :attr:`Series.notes` says what was fixed.

    Example:
        >>> frame = pd.DataFrame({"day": ["2024-01-01", "2024-01-02", "2024-01-04"],
        ...                       "sales": ["3", "", "5"]})
        >>> series = series_from_frame(frame)
        >>> series.freq, series.values[:, 0].round(6).tolist()
        ('D', [3.0, 3.666667, 4.333333, 5.0])
        >>> print(series.notes[0].replace(": inserted", ":\\n inserted"))
        data:3: 1 missing step at frequency D after this row (first 2024-01-03):
         inserted, values filled by interpolate
    """
    if missing not in MISSING_POLICIES:
        raise UserInputError("unknown missing-value policy", where="missing",
                             expected=" or ".join(MISSING_POLICIES), received=repr(missing))
    if frame.empty:
        raise UserInputError("the table has no rows", where=source,
                             fix="give a file with a header row and data rows")
    if isinstance(frame.index, pd.DatetimeIndex) and frame.index.name not in frame.columns:
        frame = frame.reset_index()  # a time index (a pandas-written Parquet) is a column
    else:
        frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    date_format = date_format or None
    lines = np.asarray(lines) if lines is not None else np.arange(len(frame)) + first_line
    found = list(frame.columns)
    time_column = time_column or _detect_time_column(frame, date_format, fixes, source)
    named = [time_column, *targets, *past, *future]
    for name, role in zip(named, ["time_column"] + ["targets"] * len(targets)
                          + ["past_covariates"] * len(past)
                          + ["future_covariates"] * len(future), strict=True):
        if name not in found:
            raise UserInputError(f"column '{name}' not found", where=source,
                                 expected=f"one of {', '.join(found)}", received=repr(name),
                                 fix=fixes and fixes.columns or (
                                     f"fix --set {role}=..." if _can_set(fixes, role) else
                                     f"rename the file's column that holds {name} to "
                                     f"'{name}', as in the training data"))
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise UserInputError(f"column '{repeated[0]}' is given two roles", where=source,
                             fix="name each column once among time, targets and covariates")
    unnamed = [n for n in found if n not in named and n.startswith("Unnamed: ")
                and n[len("Unnamed: "):].isdigit()]  # pandas' name for an empty header cell
    notes: list[str] = []
    if unnamed and not targets:
        numbers = ", ".join(str(found.index(n) + 1) for n in unnamed)
        notes.append(f"{source}: column{'s' if len(unnamed) > 1 else ''} {numbers} with no name "
                     "in the header (a saved table's index?) left out; give "
                     f"{'them names' if len(unnamed) > 1 else 'it a name'} to forecast "
                     f"{'them' if len(unnamed) > 1 else 'it'}")
    targets = list(targets) or [n for n in found if n not in named and n not in unnamed]
    if not targets:
        raise UserInputError("no target column", where=source, received=f"columns {found}",
                             fix=fixes and fixes.columns or (
                                 "name them with --set targets=[...]"
                                 if _can_set(fixes, "targets") else
                                 "give a file with the training data's target columns"))
    index, utc, note = _timestamps(frame, time_column, date_format, source, lines, unit, fixes)
    columns = [*targets, *past, *future]
    values = _numbers(frame, columns, source, lines, unit, _can_set(fixes, "targets"))
    if note:
        notes.append(note)
    if utc:
        read = (f"read as {'seconds' if date_format == 'unix' else 'milliseconds'} since "
                "1970-01-01" if date_format in EPOCH_UNITS else "with UTC offsets read")
        notes.append(f"{source}: timestamps {read} in UTC (forecasts are labelled in UTC too)")

    # Order and duplicates.
    order = np.argsort(index.asi8, kind="stable")
    if (order != np.arange(len(order))).any():
        first = int(lines[np.flatnonzero(order != np.arange(len(order)))[0]])
        notes.append(f"{_where(source, unit, first)}: rows not in time order: sorted by time")
        index, values, lines = index[order], values[order], lines[order]
    duplicated = np.flatnonzero(index[1:] == index[:-1])
    if len(duplicated):
        row = int(duplicated[0])
        raise UserInputError(
            f"duplicate timestamp {index[row]} in column '{time_column}'",
            where=_where(source, unit, int(lines[row + 1])),
            received=f"also at {unit} {int(lines[row])} ({len(duplicated)} repeated in all)",
            fix="keep one row per timestamp (aggregate them first; for local times that "
            "repeat when clocks go back, write each timestamp with its UTC offset)")

    # Frequency, off-grid timestamps and gaps.
    freq = _resolve_freq(index, freq, source, fixes)
    inserted = None
    anchor = _grid_anchor(index, freq)
    if anchor:  # the first rows are off the grid that most rows follow: the first is named
        raise UserInputError(
            f"timestamp {index[0]} is off the {freq} grid that most rows follow (from "
            f"{index[anchor]} on)", where=_where(source, unit, int(lines[0])),
            fix="fix or remove this row")
    grid = pd.date_range(index[0], index[-1], freq=freq)
    off_grid = ~index.isin(grid)
    if off_grid.any():
        row = int(np.flatnonzero(off_grid)[0])
        raise UserInputError(
            f"timestamp {index[row]} is off the {freq} grid that starts at {index[0]}",
            where=_where(source, unit, int(lines[row])),
            fix="resample the data to one frequency, or declare the right one with --set freq= "
            "(a pandas alias: h, D, B, W-SUN, MS, QS...)" if _can_set(fixes, "freq") else
            f"fix or remove this row, or resample the file to frequency {freq} "
            f"({_as_read(fixes, 'freq', freq)})")
    if len(grid) > len(index):
        positions = grid.get_indexer(index)
        after = np.flatnonzero(np.diff(positions) > 1)
        gap_rows = len(grid) - len(index)
        first = int(lines[after[0]])
        first_missing = grid[positions[after[0]] + 1]
        if gap_rows > max_inserted * len(grid):
            longest = int(np.argmax(np.diff(positions)))
            raise UserInputError(
                f"{gap_rows} missing time steps at frequency {freq} would make up "
                f"{gap_rows / len(grid):.1%} of the series",
                where=_where(source, unit, int(lines[longest])) + " (the longest gap follows "
                "this row)",
                expected=f"at most {max_inserted:.0%} of the rows inserted",
                received=f"{int(positions[longest + 1] - positions[longest] - 1)} steps "
                f"missing between {index[longest]} and {index[longest + 1]} ("
                f"{_where(source, unit, int(lines[longest + 1]))})",
                fix=f"check those timestamps (a mistyped year? day and month swapped? a file "
                f"at another frequency than {freq}?), " + (
                    "fill or cut the gap in the file, or raise --set max_inserted"
                    if _can_set(fixes, "max_inserted") else "or fill or cut the gap in the file"))
        if missing == "error":
            raise UserInputError(
                f"{gap_rows} missing time steps at frequency {freq} (first {first_missing})",
                where=_where(source, unit, first) + " (after this row)",
                fix="fill them with --set missing=interpolate or missing=ffill"
                if _can_set(fixes, "missing") else
                f"add the missing rows to the file ({_as_read(fixes, 'missing', missing)})")
        full = np.full((len(grid), values.shape[1]), np.nan)
        full[positions] = values
        values = full
        inserted = np.ones(len(grid), dtype=bool)
        inserted[positions] = False
        full_lines = np.zeros(len(grid), dtype=lines.dtype)
        full_lines[positions] = lines
        notes += _gap_notes(grid, positions, lines, source, unit, freq, missing)
        lines = full_lines
        index = grid
    # Empty, NaN and infinite cells (rows inserted for gaps were reported above).
    empty = np.isnan(values)
    unexpected = empty.copy()
    if inserted is not None:
        unexpected[inserted] = False
    if open_targets:  # the horizon's rows: targets and past covariates not known yet
        unexpected[-open_targets:, :len(targets) + len(past)] = False
    if empty.any():
        if missing == "error" and unexpected.any():
            row, column = map(int, np.argwhere(unexpected)[0])
            raise UserInputError(
                f"missing or non-finite value in column '{columns[column]}'",
                where=f"{source}: {index[row]}",
                received=f"{int(unexpected.sum())} empty, NaN or infinite cells",
                fix="fill them with --set missing=interpolate or missing=ffill"
                if _can_set(fixes, "missing") else
                f"fill the cells in the file ({_as_read(fixes, 'missing', missing)})")
        table = pd.DataFrame(values, index=index)
        if missing == "interpolate":
            table = table.interpolate(method="time", limit_direction="both")
        else:
            table = table.ffill().bfill()
        for column in np.flatnonzero(unexpected.any(axis=0)):
            count = int(unexpected[:, column].sum())
            first_time = index[int(np.flatnonzero(unexpected[:, column])[0])]
            notes.append(f"{source}: column '{columns[column]}': {count} empty or non-finite "
                         f"value{'s' if count > 1 else ''} (first at {first_time}) filled by "
                         f"{missing}")
        values = table.to_numpy()
    if np.isnan(values).any():
        column = int(np.argwhere(np.isnan(values))[0][1])
        raise UserInputError(f"column '{columns[column]}' has no value at all", where=source,
                             fix="leave it out of the targets and covariates"
                             if _can_set(fixes, "targets") else "fill the column in the file")
    calendar_columns, calendar_values = calendar_features(index, calendar)
    series = Series(index=index, values=np.concatenate([values, calendar_values], axis=1),
                    targets=list(targets), past=list(past),
                    future=[*future, *calendar_columns], freq=freq, source=source, notes=notes,
                    empty=empty, lines=np.asarray(lines), unit=unit, utc=utc,
                    generated=len(calendar_columns),
                    unread=[n for n in found if n not in named and n not in unnamed
                            and n not in targets])
    if refuse_constant:
        refuse_constant_columns(series)
    return series


def observed_targets(series: Series) -> np.ndarray:
    """The target columns with NaN where the table gave no value (an empty or
    non-finite cell, or a row inserted for a gap), which the ``missing`` policy
    filled: what forecasts are scored and intervals calibrated against, so that
    no filled-in value counts as truth.

    Example:
        >>> frame = pd.DataFrame({"day": ["2024-01-01", "2024-01-02", "2024-01-04"],
        ...                       "load": [1.0, 2.0, 4.0]})
        >>> series = series_from_frame(frame, refuse_constant=False)
        >>> series.values[:, 0].tolist(), observed_targets(series)[:, 0].tolist()
        ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, nan, 4.0])
    """
    count = len(series.targets)
    truth = np.array(series.values[:, :count], dtype=np.float64)
    if series.empty is not None:
        truth[series.empty[:, :count]] = np.nan
    return truth


def refuse_constant_columns(series: Series, rows: int | None = None) -> None:
    """Refuse a series to train on whose target or covariate holds one value throughout,
    or, with ``rows``, throughout its first ``rows`` rows (the training part, where the
    scaling and MASE's scale come from)."""
    values = series.values[:rows, :len(series.columns) - series.generated]
    constant = np.flatnonzero(np.ptp(values, axis=0) == 0) if len(values) else []
    if len(constant):
        name = series.columns[int(constant[0])]
        value = f"{values[0, constant[0]]:g}"
        if rows is not None and rows < len(series):
            raise UserInputError(
                f"column '{name}' is constant over the training rows ({value} in each of the "
                f"{rows} rows up to {series.index[rows - 1]})", where=series.source,
                fix="leave it out of the targets and covariates, or start validation later "
                "(--set validation_start=... or a smaller validation_fraction and "
                "test_fraction) so that training sees it change")
        raise UserInputError(
            f"column '{name}' is constant ({value} in every row)",
            where=series.source,
            fix="leave it out of the targets and covariates: it carries nothing")


# --- splits in time and the history to forecast from ------------------------------------


def _position(series: Series, start: str, option: str) -> int:
    try:
        moment = pd.Timestamp(start)
    except ValueError:
        raise UserInputError("timestamp not understood", where=option, received=repr(start),
                             fix="write it like 2001-06-30 or 2001-06-30 12:00") from None
    if moment.tz is not None:  # compared as the series' timestamps were read
        moment = moment.tz_convert("UTC") if series.utc else moment
        moment = moment.tz_localize(None)
    return int(series.index.searchsorted(moment))


def split_rows(series: Series, lookback: int, horizon: int, *, validation_fraction: float,
               test_fraction: float, validation_start: str = "",
               test_start: str = "") -> tuple[int, int]:
    """Rows where validation and test start (by timestamp, else by fraction); every part
    must hold at least one window.

    Validation and test windows read their history from the rows before
    them (the usual protocol), so each part needs ``horizon`` rows and the
    training part ``lookback + horizon``.
    """
    from rnn_templates.data.windows import window_count

    steps = len(series)
    if validation_start or test_start:
        validation = (_position(series, validation_start, "validation_start")
                      if validation_start else None)
        test = _position(series, test_start, "test_start") if test_start else steps
        if validation is None:
            validation = test - int(round(steps * validation_fraction))
    else:
        test = steps - int(round(steps * test_fraction))
        validation = test - int(round(steps * validation_fraction))
    parts = {"training": (0, validation), "validation": (validation, test)}
    if test_fraction or test_start:
        parts["test"] = (test, steps)
    for name, (start, end) in parts.items():
        history = 0 if name == "training" else lookback
        if window_count(end - start + history, lookback, horizon) < 1:
            raise UserInputError(
                f"the {name} part is too short for one window", where=series.source,
                received=f"{max(0, end - start)} of {steps} rows (lookback {lookback}, "
                f"horizon {horizon})",
                fix="use a longer series, a shorter lookback or horizon, or other split points")
    return validation, test


def _check_future_rows(series: Series, horizon: int) -> None:
    """Refuse observed target values in the last ``horizon`` rows, the forecast's future.

    With known-future covariates the file ends with the horizon's rows, whose
    target cells are empty: the forecast starts at the first of them. When
    fewer than ``horizon`` such rows follow the last observed target, taking
    the last ``horizon`` rows as the future would start the forecast inside
    the observed history and discard its last target values.
    """
    if series.empty is None:
        return
    count = len(series.targets)
    observed = ~series.empty[len(series) - horizon:, :count].all(axis=1)
    if not observed.any():
        return
    empty_rows = series.empty[:, :count].all(axis=1)
    trailing = len(empty_rows) - (int(np.flatnonzero(~empty_rows)[-1]) + 1)
    rows = np.flatnonzero(observed) + len(series) - horizon
    lines = series.lines if series.lines is not None else np.arange(len(series)) + 1
    first, last = int(lines[rows[0]]), int(lines[rows[-1]])
    span = f"{first}" if first == last else f"{first}-{last}"
    names = ", ".join(repr(n) for n in series.targets)
    raise UserInputError(
        f"the last {horizon} rows (the horizon) are the forecast's future, but "
        f"{len(rows)} of them hold observed targets ({names})",
        where=f"{series.source}: {series.unit}{'s' if first != last else ''} {span}",
        expected=f"the history, then {horizon} future rows with the future covariates filled "
        f"and the target cells empty",
        received=f"{trailing} row{'s' if trailing != 1 else ''} with empty targets after the "
        f"last observed one ({series.index[rows[-1]]})",
        fix=f"add rows with the future covariates until {horizon} follow the last observed "
        f"target, or empty the target cells of the rows to forecast")


def forecast_history(series: Series, lookback: int, horizon: int, *, future_given: bool,
                     future_rows: bool, calendar: Sequence[str] = ()
                     ) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """The rows to forecast from, the timestamps of the forecast, the rows whose
    targets are known (for recalibrating the intervals) and those rows' observed
    targets (:func:`observed_targets`: NaN where a value was filled in).

    The last ``lookback`` rows are the history; with known-future covariates
    in the file (``future_given``), its last ``horizon`` rows are the future
    (their target cells may be empty) and the history comes before them.
    When the model reads future rows of calendar features only, they are
    generated from the frequency.
    """
    ahead = horizon if future_given else 0
    if len(series) < lookback + ahead:
        raise UserInputError("too few rows to forecast from", where=series.source,
                             expected=f"at least {lookback + ahead} rows",
                             received=f"{len(series)}", fix="give the whole recent history")
    if ahead:
        _check_future_rows(series, horizon)
    values = series.values[len(series) - lookback - ahead:]
    origin = series.index[len(series) - ahead - 1]
    timestamps = future_index(origin, series.freq, horizon)
    if future_rows and not ahead:  # calendar features only: generate the future
        future = np.zeros((horizon, values.shape[1]))
        future[:, len(series.columns) - len(calendar) * 2:] = calendar_features(
            timestamps, list(calendar))[1]
        values = np.concatenate([values, future])
    known = series.values[:len(series) - ahead].astype("float32")
    return values.astype("float32"), timestamps, known, observed_targets(series)[:len(known)]


# --- what a SeriesOptions config reads -----------------------------------------------------


def reader_keywords(options) -> dict:
    """The keywords of :func:`read_series` from a :class:`~rnn_templates.config.SeriesOptions`
    (its ``READER_KEYS``, the covariates under their shorter keyword names)."""
    names = {"past_covariates": "past", "future_covariates": "future"}
    return {names.get(key, key): value for key, value in options.reader().items()}


def load_series(options, path: str, *, report: bool = True, fixes: Fixes | None = None,
                open_targets: int = 0, option: str = "--data") -> Series:
    """Read ``path`` (also looked up in the project) as ``options`` say; the fixes made
    (rows sorted, gaps filled...) are printed to stderr unless ``report`` is false.
    ``fixes``, ``open_targets``: see :func:`series_from_frame`; ``option``: what
    gave the path, for messages. A constant column is not refused here: a file to
    forecast from or evaluate on may hold one (training refuses it,
    :func:`refuse_constant_columns`)."""
    series = read_series(resolve_path(path), **reader_keywords(options), option=option,
                         fixes=fixes, open_targets=open_targets,
                         refuse_constant=False)
    if report:
        _report(series)
    return series


def _report(series: Series) -> None:
    for note in series.notes:
        print(note, file=sys.stderr)


def split_series(series: Series, options) -> tuple[int, int]:
    """Rows where validation and test start, by ``options``' split knobs (:func:`split_rows`)."""
    return split_rows(series, options.lookback, options.horizon,
                      validation_fraction=options.validation_fraction,
                      test_fraction=options.test_fraction,
                      validation_start=options.validation_start, test_start=options.test_start)


def _expected_columns(options, input_columns: list[str]) -> str:
    """The columns a file must hold for a model (its inputs less the calendar features,
    which are generated), for messages."""
    columns = input_columns[:len(input_columns) - 2 * len(options.calendar)]
    if options.time_column:
        return f"the columns {', '.join([options.time_column, *columns])}"
    return f"a date column and the columns {', '.join(columns)}"


def _within_a_day(freq: str) -> bool:
    """Whether steps at ``freq`` are shorter than a day (their hour matters)."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        return True
    return isinstance(offset, pd.tseries.offsets.Tick) and offset.nanos < 86_400 * 10**9


def in_model_order(series: Series, artifacts: dict) -> Series:
    """The series with its columns in the order a trained model reads them, when it holds
    the same columns in another order (matched by name); else unchanged."""
    columns = list(artifacts["input_columns"])
    if series.columns == columns or sorted(series.columns) != sorted(columns) \
            or len(set(columns)) != len(columns):
        return series
    order = [series.columns.index(name) for name in columns]
    read = len(series.columns) - series.generated  # calendar columns come last in both
    targets, past = artifacts["targets"], artifacts["past"]
    return dataclasses.replace(
        series, values=series.values[:, order], targets=columns[:targets],
        past=columns[targets:targets + past], future=columns[targets + past:],
        empty=None if series.empty is None else series.empty[:, order[:read]])


def prediction_history(path: str, options, artifacts: dict
                       ) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """The history in ``path`` to forecast from with a trained model, the forecast's
    timestamps, the rows whose targets are known and their observed targets
    (:func:`forecast_history`).

    ``artifacts``: the model's ``input_columns``, ``lookback``, ``horizon`` and
    ``future_rows``; ``options`` read the file as training read the series.
    """
    columns = artifacts["input_columns"]
    # predict takes no --set: every fix is made in the file, not in the config.
    fix = f"give a file with {_expected_columns(options, columns)}, as in training"
    fixes = Fixes(reading="predict reads the file as the model's training data was read",
                  columns=fix)
    named_here = not options.targets and "target_names" in artifacts
    if named_here:
        # The model's own targets, so a column it never read (a comment, say) is
        # left out, and said so, rather than read as one more target.
        options = dataclasses.replace(options, targets=list(artifacts["target_names"]))
    # With known-future inputs the last horizon rows carry no targets: not missing values.
    series = load_series(options, path, report=False, fixes=fixes, option="predict's input",
                         open_targets=artifacts["horizon"] if artifacts["future_rows"] else 0)
    series = in_model_order(series, artifacts)
    if series.columns != columns:
        raise UserInputError("the file's columns differ from the model's", where=path,
                             expected=", ".join(columns), received=", ".join(series.columns),
                             fix=fix)
    # Calendar features are computed from the timestamps: in UTC for a model trained on
    # offsets, in local time for one trained without (without them only the labels move).
    # Dates (a step of a day or more) keep the dates they name either way.
    if options.calendar and "utc" in artifacts and bool(artifacts["utc"]) != series.utc \
            and _within_a_day(artifacts.get("freq") or series.freq):
        trained = "with UTC offsets (read in UTC)" if artifacts["utc"] else "without UTC offsets"
        raise UserInputError(
            "the file's timestamps " + ("carry" if series.utc else "lack") + " UTC offsets",
            where=path, expected=f"timestamps {trained}, as the training file's were: the "
            "calendar features and the forecast times follow them",
            received="timestamps with offsets" if series.utc else "timestamps without offsets",
            fix="write them with their offsets (+00:00 for UTC)" if artifacts["utc"]
            else "write them in the training file's local time, without offsets")
    if named_here and series.unread:
        series.notes.append(f"{path}: column(s) {', '.join(series.unread)} not read (the "
                            "model reads " + ", ".join(columns) + ")")
    window, timestamps, known, truth = forecast_history(
        series, artifacts["lookback"], artifacts["horizon"],
        future_given=bool(options.future_covariates), future_rows=artifacts["future_rows"],
        calendar=options.calendar)
    if series.utc:  # say so in every timestamp written
        timestamps = pd.DatetimeIndex(timestamps).tz_localize("UTC")
    _report(series)  # after the checks: a refused file prints its one error line only
    return window, timestamps, known, truth
