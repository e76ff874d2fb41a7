"""File readers that return columns and report problems with file, line and column.

Every reader checks what it reads and raises
:class:`~rnn_templates.errors.UserInputError` with one line that names the
file, the line, what was expected, what was found and how to fix it: missing
or empty files, invalid UTF-8, unparseable rows, missing columns. Apps turn
the columns into their own types (labels, numbers) with :meth:`Table.where`
for their own messages.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rnn_templates.errors import UserInputError

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclasses.dataclass
class Table:
    """Named columns read from a file, with the line each row came from.

    Attributes:
        columns: Column name to an object array of raw values (str for CSV/TSV,
            any JSON value for JSONL).
        lines: The 1-based line number of each row.
        source: The file (for messages).
    """

    columns: dict[str, np.ndarray]
    lines: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.lines)

    def where(self, row: int, column: str) -> str:
        """``file:line column 'name'`` for messages about one cell."""
        return f"{self.source}:{self.lines[row]} column '{column}'"


def decode_utf8(raw: bytes, where: str) -> str:
    """Decode UTF-8 (a byte-order mark is dropped), naming line and column of a bad byte.

    The advice fits the bytes found: 0x80-0x9f are printable only in Windows-1252.

    Example:
        >>> decode_utf8(b"\\xef\\xbb\\xbfok", "f.txt")
        'ok'
    """
    body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        line = body[:start].count(b"\n") + 1
        line_start = body.rfind(b"\n", 0, start) + 1
        column = len(body[line_start:start].decode("utf-8", errors="replace")) + 1
        byte = body[start]
        source = "cp1252" if 0x80 <= byte <= 0x9F else "latin1"
        raise UserInputError(
            "file is not valid UTF-8",
            where=f"{where}:{line}:{column}",
            received=f"byte 0x{byte:02x}",
            fix=f"re-save the file as UTF-8 (e.g. iconv -f {source} -t utf-8, if it was "
            f"written as {'Windows-1252' if source == 'cp1252' else 'Latin-1'})",
        ) from None


def split_lines(text: str) -> list[str]:
    """Lines ended by ``\\n`` (or ``\\r\\n``) only, never by U+0085, U+2028 or U+2029.

    ``str.splitlines`` also ends lines at those characters, which real text
    holds inside a line; one line of a file must stay one record.

    Example:
        >>> split_lines("a\\u2028b\\r\\nc\\n")
        ['a\\u2028b', 'c']
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_text_file(path: str | os.PathLike, *, option: str = "--data") -> str:
    """The whole file as text, refusing a missing, folder, empty or non-UTF-8 file."""
    path = Path(path)
    if not path.exists():
        raise UserInputError("data file not found", where=str(path),
                             fix=f"check the path given to {option}")
    if path.is_dir():
        raise UserInputError("expected a file but found a folder", where=str(path),
                             fix=f"pass the file itself to {option}")
    text = decode_utf8(path.read_bytes(), str(path))
    if not text.strip():
        raise UserInputError("data file is empty", where=str(path),
                             fix=f"point {option} at a file with examples")
    return text


def resolve_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    """``csv``, ``tsv``, ``jsonl`` or ``folder`` from ``fmt`` or, for ``auto``, the path."""
    if fmt != "auto":
        return fmt
    path = Path(path)
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if not path.exists():
        return "csv"  # the reader reports the missing file
    raise UserInputError(
        "cannot tell the file format from its extension",
        where=str(path),
        expected=f"one of {', '.join(sorted(SUFFIXES))} or a folder",
        received=repr(suffix or "no extension"),
        fix="rename the file or choose with --set format=csv|tsv|jsonl|folder",
    )


def _missing(path: Path, line: str, wanted: str, option: str, found: list[str]) -> UserInputError:
    return UserInputError(
        f"column '{wanted}' not found",
        where=f"{path}:{line}",
        expected=f"a header naming the {option.removesuffix('_column')} column",
        received=f"columns {found}",
        fix=f"pick one with --set {option}=<name>, add a header row, or --set header=false "
        "for a file without one",
    )


def read_delimited(path: str | os.PathLike, fmt: str, columns: dict[str, str], *,
                   header: bool = True) -> Table:
    """Read a CSV (``fmt="csv"``) or TSV file whose first row names its columns.

    Args:
        path: The file.
        fmt: ``"csv"`` or ``"tsv"``.
        columns: The config option for each wanted column name, e.g.
            ``{"review": "text_column"}`` (named in the message when missing).
        header: ``False`` for a file without a header row: columns are then
            named by position, ``"0"``, ``"1"``... and ``"-1"`` for the last one.

    Returns:
        A :class:`Table` of the wanted columns; blank rows are skipped.
    """
    path = Path(path)
    content = read_text_file(path)
    # TSV is read without quote processing: a text that starts with a double quote
    # would otherwise swallow the lines after it, silently.
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
    reader = csv.reader(io.StringIO(content, newline=""), **options)
    if header:
        try:
            names = [name.strip() for name in next(reader)]
        except csv.Error as error:
            raise UserInputError(f"cannot parse header: {error}", where=f"{path}:1") from None
        for wanted, option in columns.items():
            if wanted not in names:
                raise _missing(path, "1", wanted, option, names)
        index = {name: names.index(name) for name in columns}
    else:
        names = []
        index = {}
        for wanted, option in columns.items():
            try:
                index[wanted] = int(wanted)
            except ValueError:
                raise UserInputError(
                    f"column '{wanted}' cannot be found in a file without a header",
                    where=str(path), expected="a position: 0, 1, ... or -1 for the last column",
                    received=repr(wanted), fix=f"set --set {option}=<position>",
                ) from None
    values: dict[str, list[str]] = {name: [] for name in columns}
    lines: list[int] = []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            needed = max(p if p >= 0 else -p - 1 for p in index.values()) + 1
            if len(row) < needed or (names and len(row) <= max(index.values())):
                raise UserInputError(
                    "row has too few fields",
                    where=f"{path}:{reader.line_num}",
                    expected=f"{len(names) or needed} fields"
                    + (" like the header" if names else ""),
                    received=f"{len(row)} field(s)",
                    fix=f"check the {'tab' if fmt == 'tsv' else 'comma'} separators and quoting",
                )
            for name, position in index.items():
                values[name].append(row[position])
            lines.append(reader.line_num)
    except csv.Error as error:
        raise UserInputError(f"cannot parse row: {error}", where=f"{path}:{reader.line_num}",
                             fix="check the quoting of that row") from None
    if not lines:
        raise UserInputError("file has a header but no data rows", where=str(path),
                             received=f"header {names}", fix="add rows below the header")
    return Table({k: np.array(v, dtype=object) for k, v in values.items()},
                 np.array(lines, dtype=int), str(path))


def read_jsonl(path: str | os.PathLike, columns: dict[str, str]) -> Table:
    """Read one JSON object per line, keeping the keys named in ``columns``."""
    path = Path(path)
    values: dict[str, list[object]] = {name: [] for name in columns}
    lines: list[int] = []
    for number, line in enumerate(split_lines(read_text_file(path)), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserInputError("line is not valid JSON", where=f"{where}:{error.colno}",
                                 received=error.msg, fix="write one JSON object per line") from None
        if not isinstance(record, dict):
            raise UserInputError("line is not a JSON object", where=where,
                                 expected="an object like {\"text\": ...}",
                                 received=type(record).__name__)
        for wanted, option in columns.items():
            if wanted not in record:
                raise UserInputError(f"key '{wanted}' not found", where=where,
                                     received=f"keys {sorted(record)}",
                                     fix=f"pick one with --set {option}=<key>")
            values[wanted].append(record[wanted])
        lines.append(number)
    return Table({k: np.array(v, dtype=object) for k, v in values.items()},
                 np.array(lines, dtype=int), str(path))


def read_table(path: str | os.PathLike, fmt: str, columns: dict[str, str], *,
               header: bool = True) -> Table:
    """Read CSV, TSV or JSONL (``fmt`` as from :func:`resolve_format`)."""
    if fmt == "jsonl":
        return read_jsonl(path, columns)
    return read_delimited(path, fmt, columns, header=header)


def iter_lines(path: str, *, option: str = "--input") -> Iterator[str]:
    """Non-empty lines of a UTF-8 file (``-`` is standard input), read lazily.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("first\\n\\nsecond\\n")
        >>> list(iter_lines(f.name))
        ['first', 'second']
    """
    if path == "-":
        for line in sys.stdin:
            if line.strip():
                yield line.rstrip("\n")
        return
    file = Path(path)
    if not file.is_file():
        raise UserInputError("input file not found", where=path, fix=f"check the {option} path")
    with open(file, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise UserInputError(
                    "file is not valid UTF-8", where=f"{path}:{number}:{error.start + 1}",
                    received=f"byte 0x{raw[error.start]:02x}",
                    fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                ) from None
            if line.strip():
                yield line
