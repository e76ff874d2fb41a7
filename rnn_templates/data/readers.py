"""File readers that return columns and report problems with file, line and column.

Every reader checks what it reads and raises
:class:`~rnn_templates.errors.UserInputError` with one line that names the
file, the line, what was expected, what was found and how to fix it: missing
or empty files, bytes the encoding cannot read, unparseable rows, CSV rows
that run over several lines, missing columns. Apps turn
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
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnn_templates.errors import UserInputError

# Appended as the last line of a CSV file: a quote still open at the end takes it in.
_END_MARK = "\ufdd0end of file\ufdd0"
# The project checkout: relative --data paths not found in the current
# directory are looked up here, so the shipped samples work from anywhere.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
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


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, refusing a name Python does not know as a text encoding.

    Example:
        >>> check_encoding("Latin-1")
        'iso8859-1'
    """
    try:
        name = codecs.lookup(encoding).name
        b"x".decode(encoding, "ignore")  # bytes-to-bytes codecs (base64, zlib) end here
    except LookupError:
        raise UserInputError(
            "unknown text encoding", where="--set encoding",
            expected="a codec name such as utf-8, cp1252 (Windows-1252) or latin-1",
            received=repr(encoding), fix="pick one with --set encoding=<name>",
        ) from None
    except UnicodeError:  # a real codec that refuses the "ignore" handler (idna)
        pass
    return name


def _position(body: bytes, start: int, encoding: str) -> str:
    """``line:column`` (1-based, in characters) of byte ``start`` of ``body``."""
    before = body[:start].decode(encoding, errors="replace")
    line = before.count("\n") + 1
    column = len(before) - before.rfind("\n")
    return f"{line}:{column}"


def _advice(byte: int) -> tuple[str, str]:
    """The encoding a stray byte most likely came from: (codec, its common name)."""
    if 0x80 <= byte <= 0x9F:
        try:
            bytes([byte]).decode("cp1252")
            return "cp1252", "Windows-1252"
        except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are unused there
            pass
    return "latin-1", "Latin-1"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32", "utf-32"), (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
              (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"), (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"))


def wide_bom(raw: bytes) -> tuple[str, str] | None:
    """``(name, codec)`` of the UTF-16 or UTF-32 byte-order mark ``raw`` starts with, if any.

    Example:
        >>> wide_bom("text".encode("utf-16")), wide_bom(b"text")
        (('UTF-16', 'utf-16'), None)
    """
    return next(((name, codec) for bom, name, codec in _WIDE_BOMS if raw.startswith(bom)), None)


def wide_without_bom(raw: bytes) -> str | None:
    """The codec of UTF-16 or UTF-32 text written without a byte-order mark, or None:
    its Latin characters have zero bytes at fixed places (every other byte in UTF-16).

    Example:
        >>> wide_without_bom("date,co2".encode("utf-16-le")), wide_without_bom(b"date,co2")
        ('utf-16-le', None)
    """
    sample = raw[:4096]
    if len(sample) < 8 or b"\0" not in sample or wide_bom(sample):
        return None

    def zero(start: int, step: int) -> float:
        part = sample[start::step]
        return part.count(0) / max(1, len(part))

    for codec, zeros, others in (("utf-32-le", (1, 2, 3), (0,)), ("utf-32-be", (0, 1, 2), (3,)),
                                 ("utf-16-le", (1,), (0,)), ("utf-16-be", (0,), (1,))):
        step = 4 if codec.startswith("utf-32") else 2
        if (all(zero(i, step) >= 0.9 for i in zeros)
                and all(zero(i, step) < 0.5 for i in others)):
            return codec
    return None


def refuse_wide_without_bom(raw: bytes, where: str, encoding: str = "utf-8", *,
                            choice: bool = True) -> None:
    """Refuse UTF-16/32 text without a byte-order mark read as ``encoding``: valid
    UTF-8 with a zero byte after every letter, it would be read as garbage.
    ``choice``: the reader takes ``--set encoding`` (else the fix is to re-save)."""
    codec = wide_without_bom(raw)
    if codec and not codecs.lookup(encoding).name.startswith(codec[:6]):
        name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
        hint = ("every other byte is 0" if codec.startswith("utf-16")
                else "three bytes of four are 0")
        resave = f"re-save it as UTF-8 (e.g. iconv -f {codec} -t utf-8)"
        raise UserInputError(
            f"file looks like {name} without a byte-order mark ({hint}), not "
            f"{encoding}", where=where,
            fix=f"read it with --set encoding={codec}, or {resave}" if choice else resave)


def not_utf8(body: bytes, start: int, where: str, *, choice: bool = True) -> UserInputError:
    """The error for the byte at ``start`` that UTF-8 cannot read: ``where:line:column``
    and how to re-save the file, plus (``choice``: the reader takes ``--set encoding``)
    the encoding it most likely came from."""
    byte = body[start]
    codec, written = _advice(byte)
    fix = f"re-save the file as UTF-8 (e.g. iconv -f {codec.replace('-', '')} -t utf-8)"
    if choice:
        fix += f" or, if it was written as {written}, read it with --set encoding={codec}"
    return UserInputError("file is not valid UTF-8",
                          where=f"{where}:{_position(body, start, 'utf-8')}",
                          received=f"byte 0x{byte:02x}", fix=fix)


def decode_text(raw: bytes, where: str, encoding: str = "utf-8", *,
                errors: str = "strict") -> str:
    """Decode a file's bytes, naming line and column of a byte the encoding cannot read.

    UTF-8 drops a byte-order mark; so does a single-byte encoding such as
    cp1252, unless the rest is UTF-8 too (refused rather than misread). For
    UTF-8 the advice fits the bytes found: 0x80-0x9f are printable only in
    Windows-1252, the others most likely Latin-1. With ``errors="surrogateescape"``
    a byte the encoding cannot read is kept as a lone surrogate (U+DC80-U+DCFF, see
    :func:`undecodable`) for the caller to report with its line, instead of refused.

    Example:
        >>> decode_text(b"\\xef\\xbb\\xbfok", "f.txt")
        'ok'
        >>> decode_text(b"\\x93caf\\xe9\\x94", "f.txt", "cp1252")
        '\u201ccafé\u201d'
    """
    name = check_encoding(encoding)
    refuse_wide_without_bom(raw, where, encoding)
    wide = wide_bom(raw)
    if wide and not name.startswith(wide[1]):
        # Excel's "Unicode text": read as UTF-8 or a single-byte encoding it is garbage.
        raise UserInputError(
            f"file is {wide[0]} (it starts with a {wide[0]} byte-order mark), not {encoding}",
            where=where, fix=f"read it with --set encoding={wide[1]}, or re-save it as UTF-8 "
            f"(e.g. iconv -f {wide[1]} -t utf-8)",
        )
    body = raw
    if raw.startswith(codecs.BOM_UTF8) and (name == "utf-8" or not name.startswith("utf")):
        body = raw[len(codecs.BOM_UTF8):]
        if name != "utf-8" and not body.isascii() and _is_utf8(body):
            raise UserInputError(
                f"file is UTF-8 (it starts with a byte-order mark), not {encoding}",
                where=where, fix="read it with --set encoding=utf-8",
            )
    try:
        text = body.decode(name, errors)
        return text[1:] if wide and text.startswith("\ufeff") else text  # utf-16-le keeps it
    except UnicodeDecodeError as error:
        start, byte = error.start, body[error.start]
        position = f"{where}:{_position(body, start, name)}"
    except UnicodeError as error:  # codecs that give no position
        raise UserInputError(f"file cannot be read as {encoding}", where=where,
                             received=str(error)[:200],
                             fix="check --set encoding=<name>") from None
    if name == "utf-8":
        raise not_utf8(body, start, where)
    raise UserInputError(
        f"file is not valid {encoding}", where=position, received=f"byte 0x{byte:02x}",
        fix="check what the file was written in and pick it with --set encoding=<name> "
        "(latin-1 reads every byte), or re-save the file as UTF-8 and drop the option",
    )


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def undecodable(text: str) -> tuple[int, int] | None:
    """``(index, byte)`` of the first byte :func:`decode_text` kept undecoded in ``text``.

    Example:
        >>> undecodable(b"caf\\xe9".decode("utf-8", "surrogateescape"))
        (3, 233)
    """
    found = _UNDECODABLE.search(text)
    return (found.start(), ord(found.group()) - 0xDC00) if found else None


def refuse_utf8_misread(raw: bytes, where: str, encoding: str) -> None:
    """Refuse an ``encoding`` other than UTF-8 for a file in UTF-8: one whose lines
    with non-ASCII bytes are valid UTF-8, all or most of them. Read as cp1252 or
    latin-1, every accent would be garbled, silently.

    A file with a byte-order mark is left to :func:`decode_text`.
    """
    name = check_encoding(encoding)
    if (name.startswith("utf-8") or raw.isascii() or wide_bom(raw)
            or raw.startswith(codecs.BOM_UTF8)):
        return
    utf8, other = [], []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.isascii():
            (utf8 if _is_utf8(line) else other).append((number, line))
    if len(utf8) <= len(other):
        return
    number, line = utf8[0]
    sample = line.decode("utf-8").strip()[:60]
    found = (f"file is UTF-8 but for {len(other)} line(s) (the first line {other[0][0]})"
             if other else "file is valid UTF-8")
    raise UserInputError(
        f"{found}, not {encoding}: read as {encoding}, every accented letter would be "
        "garbled", where=where, received=f"UTF-8 text such as {sample!r} (line {number})",
        fix="read it with --set encoding=utf-8"
        + (" and write those lines in UTF-8" if other else ""))


def blank(text: str) -> bool:
    """Whether ``text`` holds nothing but spaces, controls and invisible format
    characters (a zero-width space, say): what the text apps' standardization
    leaves empty.

    Example:
        >>> blank(" \u200b\t"), blank(" a ")
        (True, False)
    """
    return all(unicodedata.category(c)[0] in "CZ" for c in text)


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


def require_file(path: str | os.PathLike, option: str = "--data", *,
                 folder_ok: bool = False) -> Path:
    """``path``, refusing in one line one that does not exist, or (unless
    ``folder_ok``) is a folder; the message names ``option``."""
    path = Path(path)
    if not path.exists():
        raise UserInputError("data file not found", where=str(path),
                             fix=f"check the path given to {option}")
    if path.is_dir() and not folder_ok:
        raise UserInputError("expected a file but found a folder", where=str(path),
                             fix=f"pass the file itself to {option}")
    return path


def read_text_file(path: str | os.PathLike, *, option: str = "--data",
                   encoding: str = "utf-8") -> str:
    """The whole file as text, refusing a missing, folder, empty or undecodable file,
    and a single-byte ``encoding`` over a UTF-8 file (:func:`refuse_utf8_misread`)."""
    path = require_file(path, option)
    raw = path.read_bytes()
    text = decode_text(raw, str(path), encoding)
    refuse_utf8_misread(raw, str(path), encoding)
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
    fix = "rename the file or choose with --set format=csv|tsv|jsonl|folder"
    if path.is_file():
        with path.open("rb") as file:
            first = file.readline(65536)
        if b"\t" in first:  # the UCI sentence<TAB>label files are .txt
            fix = ("its first line holds a tab: read it with --set format=tsv, plus --set "
                   "header=false if that line is already data (sentence<TAB>label)")
    raise UserInputError(
        "cannot tell the file format from its extension",
        where=str(path),
        expected=f"one of {', '.join(sorted(SUFFIXES))} or a folder",
        received=repr(suffix or "no extension"),
        fix=fix,
    )


def _missing(path: Path, line: str, wanted: str, option: str, found: list[str],
             fix: str | None = None) -> UserInputError:
    return UserInputError(
        f"column '{wanted}' not found",
        where=f"{path}:{line}",
        expected=f"a header naming the {option.removesuffix('_column')} column",
        received=f"columns {found}",
        fix=fix or f"pick one with --set {option}=<name>, add a header row, or --set "
        "header=false for a file without one",
    )


def _physical_rows(reader, source: str) -> list[tuple[int, int, list[str]]]:
    """Every row with its first and last line, parse errors naming where the row began."""
    rows = []
    first = 1
    try:
        for row in reader:
            rows.append((first, reader.line_num, row))
            first = reader.line_num + 1
    except csv.Error as error:
        spans = (f" (a row running from line {first} to {reader.line_num})"
                 if reader.line_num > first else "")
        what = "cannot parse header" if first == 1 else "cannot parse row"
        raise UserInputError(f"{what}: {error}{spans}", where=f"{source}:{first}",
                             fix=f"check the quoting on line {first}") from None
    return rows


def _check_one_row_per_line(rows: list[tuple[int, int, list[str]]], source: str,
                            last_line: int, multiline: bool) -> None:
    """Refuse rows over several lines (unless ``multiline``) and a quote open at the end.

    ``rows`` ends with the end marker's row, removed here; a quote still open
    at the end of the file has taken the marker into its text instead.
    """
    first, _, row = rows.pop()
    unclosed = row != [_END_MARK]
    spanning = [(start, end) for start, end, _ in rows if end > start]
    if spanning and not multiline:
        start, end = spanning[0]
        count = len(spanning) + unclosed
        raise UserInputError(
            f"row runs over lines {start}-{end} (a quote opened on line {start} takes the line "
            "breaks after it into the text)", where=f"{source}:{start}",
            expected="one row per line",
            received=f"{count} such row{'s' if count > 1 else ''} in the file"
            + (", this is the first" if count > 1 else ""),
            fix=f"check the quoting on line {start}, or --set multiline=true if the texts "
            "really contain line breaks",
        )
    if unclosed:
        raise UserInputError(
            "quoted text is never closed", where=f"{source}:{first}",
            expected="a closing double quote",
            received=f"a quote opened on line {first}, the last line" if first == last_line
            else f"a row running from line {first} to the end of the file (line {last_line})",
            fix=f"check the quoting on line {first}: close the quote, or double each quote "
            'inside a quoted text ("")',
        )


def _other_separator(path: Path, fmt: str, names: list[str],
                     example: tuple[str, ...] = ("text", "label")) -> UserInputError | None:
    """The error for a header that is one column holding another separator, else None;
    ``example`` is the header the message shows."""
    if len(names) != 1:
        return None
    found = [(mark, name) for mark, name in (("\t", "tab"), (";", "semicolon"), (",", "comma"))
             if mark in names[0] and name != ("tab" if fmt == "tsv" else "comma")]
    if not found:
        return None
    mark, name = found[0]
    other = {"tab": "tsv", "comma": "csv"}.get(name)
    fix = (f"read it with --set format={other}" if other else
           "save it with comma separators, or as tab-separated text (.tsv)")
    return UserInputError(
        f"the columns are separated by {name}s, not {'tabs' if fmt == 'tsv' else 'commas'}",
        where=f"{path}:1", expected=f"a {fmt.upper()} header such as "
        + ("<TAB>" if fmt == "tsv" else ",").join(example),
        received=f"one column {names[0][:60]!r}", fix=fix)


def _common_width(rows: list[tuple[int, int, list[str]]], path: Path, fmt: str,
                  index: dict[str, int], columns: dict[str, str], needed: int
                  ) -> tuple[int, str]:
    """The field count of most rows of a file without a header, and how to name it.

    Trailing empty fields (separators at the end of a line) do not count; on a tie
    the count that came first wins.
    """
    counts: Counter[int] = Counter()
    for _, _, row in rows:
        if row and (len(row) > 1 or row[0].strip()):
            full = len(row)
            while full > 1 and not row[full - 1].strip():
                full -= 1
            counts[full] += 1
    if not counts:
        return needed, "the first row"
    width, count = counts.most_common(1)[0]
    total = sum(counts.values())
    if count * 2 > total:
        like = f"most rows ({count} of {total})"
    else:  # a tie goes to the first row's count
        like = "the first row" if width == next(iter(counts)) else f"{count} of {total} rows"
    if width == 1 and len(set(index.values())) > 1:
        separator = "tab" if fmt == "tsv" else "comma"
        first = next(row[0] for _, _, row in rows if row and row[0].strip())
        wrong = _other_separator(path, fmt, [first])
        raise UserInputError(
            f"rows have a single field: no {separator} between the text and the label",
            where=str(path), expected=f"the text and the label separated by a {separator}",
            received=f"{count} of {total} rows with one field",
            fix=wrong.fix if wrong else f"check the {separator}s, or --set format=<format>",
        )
    if width < needed:
        position = max(index.values(), key=lambda p: p if p >= 0 else -p - 1)
        option = next(columns[name] for name, p in index.items() if p == position)
        raise UserInputError(
            f"column position {position} is past the end of the rows", where=str(path),
            expected=f"positions among 0-{width - 1}, or -1 for the last column",
            received=f"{width} fields in most rows", fix=f"check --set {option}=<position>")
    return width, like


def _refuse_quoted_break(physical: list[str], line: int, width: int, path: Path) -> None:
    """Refuse TSV row ``line`` when, read with CSV quotes, it is a quoted text over lines.

    pandas and spreadsheets put a text that holds a line break in double quotes;
    TSV is read without quote processing, so its row looks cut short.
    """
    reader = csv.reader(physical, delimiter="\t")
    start = 1
    try:
        for row in reader:
            end = reader.line_num
            if start <= line <= end:
                if end > start and len(row) == width:
                    raise UserInputError(
                        f"a quoted text seems to hold a line break (a quote opened on line "
                        f"{start} closes on line {end})", where=f"{path}:{start}",
                        expected="one row per line (TSV is read without quote processing, "
                        "--set multiline=true included)",
                        fix="save the file as CSV (pandas: df.to_csv(\"reviews.csv\")) and "
                        "read it with --set multiline=true, or remove the line breaks from "
                        "the texts")
                return
            start = end + 1
    except csv.Error:
        return


def read_delimited(path: str | os.PathLike, fmt: str, columns: dict[str, str], *,
                   header: bool = True, encoding: str = "utf-8",
                   multiline: bool = False, missing_fix: str | None = None,
                   skipped: list[tuple[int, str]] | None = None, text: str | None = None,
                   header_example: tuple[str, ...] = ("text", "label")) -> Table:
    """Read a CSV (``fmt="csv"``) or TSV file whose first row names its columns.

    A CSV row must fit on one line unless ``multiline``: a double quote that
    opens a text and is not closed on that line would take the following lines
    into that text, silently, so such a file is refused with the line where the
    quote opened. A quote still open at the end of the file is always refused. TSV
    is read without quote processing; a row cut short by a quoted text over lines is
    refused with that cause, and a header holding another separator (``;``) is named.

    Args:
        path: The file.
        fmt: ``"csv"`` or ``"tsv"``.
        columns: The config option for each wanted column name, e.g.
            ``{"review": "text_column"}`` (named in the message when missing).
        header: ``False`` for a file without a header row: columns are then
            named by position, ``"0"``, ``"1"``... and ``"-1"`` for the last one,
            and every row must have the field count of most rows.
        encoding: The text encoding of the file (a Python codec name).
        multiline: Accept CSV rows whose quoted texts hold line breaks; each
            row's line is then the line it starts on.
        missing_fix: The fix a missing column's message gives, for apps whose
            options differ from ``--set <column option>`` and ``header``.
        skipped: A list to append ``(line, reason)`` to for each row with too few
            fields for the wanted columns, or more non-empty fields than the header
            (a separator inside an unquoted text), which is then left out; None (the
            default) refuses such a row.
        text: The file's text, when the caller has decoded it already (keeping
            the bytes the encoding cannot read, say); else read from ``path``.
        header_example: The column names a message about the separator shows.

    Returns:
        A :class:`Table` of the wanted columns; blank lines are skipped (a row of
        empty fields is kept, for the app to report).

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        ...     _ = f.write('text,label\\n"one\\ntwo",pos\\nthree,neg\\n')
        >>> read_delimited(f.name, "csv", {"text": "text_column"}, multiline=True).lines
        array([2, 4])
    """
    path = Path(path)
    content = read_text_file(path, encoding=encoding) if text is None else text
    # Split as csv does with newline="" (at \n, \r\n and \r) so line numbers agree.
    physical = io.StringIO(content, newline="").readlines()
    if fmt == "tsv":
        # TSV is read without quote processing: a text that starts with a double quote
        # would otherwise swallow the lines after it, silently.
        rows = _physical_rows(csv.reader(physical, delimiter="\t", quoting=csv.QUOTE_NONE),
                              str(path))
    else:
        # A quote left open at the end takes the marker line into its text.
        ended = physical[:-1] + [physical[-1].rstrip("\r\n") + "\n", _END_MARK + "\n"]
        rows = _physical_rows(csv.reader(ended), str(path))
        _check_one_row_per_line(rows, str(path), len(physical), multiline)
    if header:
        names = [name.strip() for name in rows.pop(0)[2]] if rows else []
        for wanted, option in columns.items():
            if wanted not in names:
                raise (_other_separator(path, fmt, names, header_example)
                       or _missing(path, "1", wanted, option, names, missing_fix))
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
    needed = max(p if p >= 0 else -p - 1 for p in index.values()) + 1
    # No row holds more than the header's fields (or, without a header, most rows')
    # unless the extra ones are empty (trailing separators): a separator inside an
    # unquoted text would otherwise shift the columns unseen. With a header, a shorter
    # row is read while it holds the wanted columns (spreadsheets leave off empty
    # trailing cells); without one, where the last column is the label, it is refused.
    if names:
        width, like = len(names), "the header"
    else:
        width, like = _common_width(rows, path, fmt, index, columns, needed)
    separator = "tab" if fmt == "tsv" else "comma"
    for first, _, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line; a row of empty fields goes on, for the app to report
        few = (len(row) <= max(index.values()) if names else len(row) < width) \
            or len(row) < needed
        many = any(field.strip() for field in row[width:])
        if few or many:
            if skipped is not None:
                skipped.append((first, f"{len(row)} field(s), {width} expected"))
                continue
            if fmt == "tsv":
                _refuse_quoted_break(physical, first, width, path)
            raise UserInputError(
                f"row has too {'few' if few else 'many'} fields",
                where=f"{path}:{first}",
                expected=f"{width} fields like {like}", received=f"{len(row)} field(s)",
                fix=f"check the {separator}s" + (" and quoting: a text holding a comma "
                                                 "must be in double quotes" if fmt != "tsv"
                                                 else ": a text may not hold a tab"),
            )
        row = row[:width]  # the extra fields are empty: -1 is still the last column
        for name, position in index.items():
            values[name].append(row[position])
        lines.append(first)
    if not lines and not skipped:
        raise UserInputError("file has a header but no data rows", where=str(path),
                             received=f"header {names}", fix="add rows below the header")
    return Table({k: np.array(v, dtype=object) for k, v in values.items()},
                 np.array(lines, dtype=int), str(path))


def refuse_json_array(text: str, path: Path) -> None:
    """Refuse a file holding one JSON array (of objects) instead of one object per line."""
    if not text.lstrip().startswith("["):
        return
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    first = text.lstrip().split("\n", 1)[0].strip()
    if first in ("[", "[{") or (isinstance(whole, list)
                                and any(isinstance(item, dict) for item in whole)):
        target = path.with_suffix(".jsonl")
        if target == path:  # never `jq ... f.jsonl > f.jsonl`, which empties the file first
            target = path.with_name(f"{path.stem}-lines.jsonl")
        raise UserInputError(
            "file is a JSON array, not JSON Lines (one object per line)", where=str(path),
            expected="one JSON object per line",
            fix=f"convert it, e.g. jq -c '.[]' {path} > {target}")


def read_jsonl(path: str | os.PathLike, columns: dict[str, str], *,
               encoding: str = "utf-8", skipped: list[tuple[int, str]] | None = None,
               text: str | None = None) -> Table:
    """Read one JSON object per line, keeping the keys named in ``columns``.

    ``skipped``: a list to append ``(line, reason)`` to for each line that is not
    a JSON object or lacks a wanted key, which is then left out; None (the
    default) refuses such a line. ``text``: the file's text, when the caller has
    decoded it already. A key that no line has is refused either way
    (a misspelt ``--set`` option, not a bad line).
    """
    path = Path(path)
    values: dict[str, list[object]] = {name: [] for name in columns}
    lines: list[int] = []
    wanted_keys = " and ".join(f'"{name}"' for name in columns)
    first_missing: UserInputError | None = None
    if text is None:
        text = read_text_file(path, encoding=encoding)
    refuse_json_array(text, path)
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if skipped is not None:
                skipped.append((number, f"not valid JSON: {error.msg} (column {error.colno})"))
                continue
            raise UserInputError("line is not valid JSON", where=f"{where}:{error.colno}",
                                 received=error.msg, fix="write one JSON object per line") from None
        if not isinstance(record, dict):
            if skipped is not None:
                skipped.append((number, f"a JSON {type(record).__name__}, not an object"))
                continue
            raise UserInputError("line is not a JSON object", where=where,
                                 expected=f"an object with the keys {wanted_keys}",
                                 received=type(record).__name__)
        absent = [(wanted, option) for wanted, option in columns.items() if wanted not in record]
        if absent:
            wanted, option = absent[0]
            error = UserInputError(f"key '{wanted}' not found", where=where,
                                   received=f"keys {sorted(record)}",
                                   fix=f"pick one with --set {option}=<key>")
            if skipped is None:
                raise error
            first_missing = first_missing or error
            skipped.append((number, f"no key '{wanted}'"))
            continue
        for wanted in columns:
            values[wanted].append(record[wanted])
        lines.append(number)
    if not lines and first_missing is not None:
        raise first_missing
    return Table({k: np.array(v, dtype=object) for k, v in values.items()},
                 np.array(lines, dtype=int), str(path))


def read_table(path: str | os.PathLike, fmt: str, columns: dict[str, str], *,
               header: bool = True, encoding: str = "utf-8", multiline: bool = False,
               missing_fix: str | None = None,
               skipped: list[tuple[int, str]] | None = None, text: str | None = None,
               header_example: tuple[str, ...] = ("text", "label")) -> Table:
    """Read CSV, TSV or JSONL (``fmt`` as from :func:`resolve_format`).

    ``encoding`` is the files' text encoding; ``multiline`` lets CSV rows span
    lines, ``missing_fix`` replaces the fix a missing column's message gives,
    ``skipped`` collects the rows left out instead of refusing them, ``text`` is
    the file's text when the caller has decoded it, and ``header_example`` names
    the expected header (see :func:`read_delimited` and :func:`read_jsonl`).
    """
    if fmt == "jsonl":
        return read_jsonl(path, columns, encoding=encoding, skipped=skipped, text=text)
    return read_delimited(path, fmt, columns, header=header, encoding=encoding,
                          multiline=multiline, missing_fix=missing_fix, skipped=skipped,
                          text=text, header_example=header_example)


def iter_lines(path: str, *, option: str = "--input") -> Iterator[str]:
    """Every line of a UTF-8 file (``-`` is standard input), read lazily.

    One line is one input: a blank line is an empty input, not skipped, so the
    outputs line up with the lines. Lines end at ``\\n`` only (a ``\\r`` before it
    is dropped, as is a byte-order mark at the start), never at other Unicode
    line separators such as U+0085.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("first\\n\\nsecond\\u0085half\\r\\n")
        >>> list(iter_lines(f.name))
        ['first', '', 'second\\x85half']
    """
    if path == "-":
        yield from _utf8_lines(sys.stdin.buffer, "standard input")
        return
    file = Path(path)
    if file.is_dir():
        raise UserInputError("is a folder, expected a file with one input per line",
                             where=path, fix=f"give {option} a file")
    if not file.is_file():
        raise UserInputError("input file not found", where=path, fix=f"check the {option} path")
    with open(file, "rb") as stream:
        yield from _utf8_lines(stream, path)


def _utf8_lines(stream: BinaryIO, name: str) -> Iterator[str]:
    stdin = name == "standard input"
    for number, raw in enumerate(stream, start=1):
        wide = wide_bom(raw) if number == 1 else None
        if number == 1 and not stdin:
            refuse_wide_without_bom(raw + stream.peek(4096)[:4096], name, choice=False)
        if wide:
            raise UserInputError(
                f"{'standard input' if stdin else 'file'} is {wide[0]} (it starts with a "
                f"{wide[0]} byte-order mark), not UTF-8", where=name,
                fix=(f"pipe it through iconv -f {wide[1]} -t utf-8" if stdin else
                     f"re-save the file as UTF-8 (e.g. iconv -f {wide[1]} -t utf-8)"),
            )
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise UserInputError(
                f"{'standard input' if stdin else 'file'} is not valid UTF-8",
                where=f"{name}:{number}:{error.start + 1}",
                received=f"byte 0x{raw[error.start]:02x}",
                fix=("pipe it through iconv -f latin1 -t utf-8" if stdin else
                     "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
            ) from None
        yield line.removesuffix("\n").removesuffix("\r")


def resolve_path(path: str) -> str:
    """``path`` as given, or inside the project when only found there."""
    if not Path(path).exists() and not Path(path).is_absolute() and (PROJECT_ROOT / path).exists():
        return str(PROJECT_ROOT / path)
    return path


def fetch_archive(url: str, archive: str, cache_dir: str | os.PathLike, folder: str | None,
                  *, what: str, fix: str) -> Path:
    """Download and unpack ``archive`` from ``url`` once, into ``<cache_dir>/datasets``.

    Uses ``keras.utils.get_file`` (cached, so later runs do not download).

    Args:
        url: Where to download from (a local ``http://`` URL works too).
        archive: The archive's file name.
        cache_dir: The cache folder (created if missing; a failed download removes
            the folders it created).
        folder: The folder the archive must unpack to; None: where it unpacked.
        what: The dataset's name, for messages.
        fix: What to do without a network, for messages.

    Returns:
        The unpacked ``folder``.
    """
    import keras

    # get_file silently falls back to /tmp/.keras when the cache folder does not
    # exist yet (it checks that it is writable), so create it first.
    cache = Path(cache_dir).resolve()
    # The folders this attempt creates (get_file adds datasets/), deepest first: a failed
    # download removes them again, so nothing is left behind in the user's folder.
    created = [folder for folder in (cache / "datasets", cache, *cache.parents)
               if not folder.exists()]
    cache.mkdir(parents=True, exist_ok=True)
    done = False
    try:
        extracted = keras.utils.get_file(fname=archive, origin=url, extract=True,
                                         cache_dir=str(cache))
        done = True
    except Exception as error:  # get_file raises bare Exception on network failures
        raise UserInputError(
            f"could not download {what}", where=url,
            received=str(error).splitlines()[0][:200], fix=f"check the network, or {fix}",
        ) from None
    finally:
        if not done:  # also on Ctrl-C; get_file itself deletes a partial archive
            for folder in created:
                try:
                    folder.rmdir()  # only while empty
                except OSError:
                    break
    unpacked = Path(extracted) / (folder or "")
    if not unpacked.is_dir():
        raise UserInputError(
            f"downloaded archive has no {folder} folder", where=str(extracted),
            fix="delete the cached archive and try again",
        )
    return unpacked
