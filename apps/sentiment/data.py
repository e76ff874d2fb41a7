"""Sentiment data: read labelled texts from CSV, TSV, JSONL, class folders or IMDB.

Every loader returns a :class:`LabelledTexts` (texts and string labels) and
checks what it reads, so a bad file fails here with one line that names the
file, the line and the fix, before any run directory exists:

- missing or empty files, invalid UTF-8 (with line and column);
- a missing text or label column (the columns found are listed);
- empty texts, labels that are not class names (blank, fractional numbers,
  more distinct values than ``max_classes``), and a single class.

Labels are kept as strings (``"positive"``, ``"1"``); classes are sorted, so
``["negative", "positive"]`` and ``["0", "1"]`` both put the positive class at
index 1, which is the class ROC AUC scores.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from rnn_templates.errors import UserInputError

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"


@dataclasses.dataclass
class LabelledTexts:
    """Texts with their class labels, plus where they came from.

    Attributes:
        texts: Array of str, one per example.
        labels: Array of str class names, aligned with ``texts``.
        source: File or folder they were read from (for messages).
        test: An explicit held-out split shipped with the data (aclImdb), if any.
    """

    texts: np.ndarray
    labels: np.ndarray
    source: str
    test: LabelledTexts | None = None

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))

    def __len__(self) -> int:
        return len(self.texts)


def decode_utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise UserInputError(
            "file is not valid UTF-8",
            where=f"{where}:{line}:{column}",
            received=f"byte 0x{raw[error.start]:02x}",
            fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def _read_text_file(path: Path) -> str:
    if not path.exists():
        raise UserInputError(
            "data file not found",
            where=str(path),
            fix="check the path given to --data (or --set data=...)",
        )
    if path.is_dir():
        raise UserInputError(
            "expected a file but found a folder",
            where=str(path),
            fix="pass the file itself, or --set format=folder for one sub-folder per class",
        )
    text = decode_utf8(path.read_bytes(), str(path))
    if not text.strip():
        raise UserInputError(
            "data file is empty", where=str(path), fix="point --data at a file with examples"
        )
    return text


def _label_from(value: object, where: str) -> str:
    """A class name from a cell or JSON value; refuse what cannot be a class."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        raise UserInputError(
            "label is not a class",
            where=where,
            expected="a class name or an integer",
            received=repr(value),
            fix="map scores to classes first (e.g. 1-2 negative, 4-5 positive)",
        )
    if isinstance(value, str):
        label = value.strip()
        if not label:
            raise UserInputError(
                "empty label", where=where, expected="a class name or an integer",
                fix="fill in or drop the row",
            )
        try:
            number = float(label)
        except ValueError:
            return label
        if number.is_integer():
            return str(int(number))
        raise UserInputError(
            "label is not a class",
            where=where,
            expected="a class name or an integer",
            received=repr(label),
            fix="map scores to classes first (e.g. 1-2 negative, 4-5 positive)",
        )
    raise UserInputError(
        "label is not a class",
        where=where,
        expected="a class name or an integer",
        received=f"{type(value).__name__} {value!r}"[:80],
        fix="give each row a single class name",
    )


def _text_from(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserInputError(
            "empty or missing text",
            where=where,
            expected="a non-empty string",
            received=repr(value)[:80],
            fix="fill in or drop the row",
        )
    return value


def read_table(
    path: str | os.PathLike, fmt: str, text_column: str, label_column: str
) -> LabelledTexts:
    """Read a CSV or TSV file with a header row naming its columns.

    Args:
        path: The file.
        fmt: ``"csv"`` or ``"tsv"``.
        text_column: Header of the text column.
        label_column: Header of the label column.
    """
    path = Path(path)
    content = _read_text_file(path)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as error:
        raise UserInputError(f"cannot parse header: {error}", where=f"{path}:1") from None
    for wanted, option in ((text_column, "text_column"), (label_column, "label_column")):
        if wanted not in header:
            raise UserInputError(
                f"column '{wanted}' not found",
                where=f"{path}:1",
                expected=f"a header naming the {option.split('_')[0]} column",
                received=f"columns {header}",
                fix=f"pick one with --set {option}=<name>, or add a header row",
            )
    text_index, label_index = header.index(text_column), header.index(label_column)
    texts, labels = [], []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) <= max(text_index, label_index):
                raise UserInputError(
                    "row has too few fields",
                    where=where,
                    expected=f"{len(header)} fields like the header",
                    received=f"{len(row)} field(s)",
                    fix=f"check the {'tab' if fmt == 'tsv' else 'comma'} separators and quoting",
                )
            texts.append(_text_from(row[text_index], f"{where} column '{text_column}'"))
            labels.append(_label_from(row[label_index], f"{where} column '{label_column}'"))
    except csv.Error as error:
        raise UserInputError(
            f"cannot parse row: {error}", where=f"{path}:{reader.line_num}",
            fix="check the quoting of that row",
        ) from None
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object), str(path))


def read_jsonl(path: str | os.PathLike, text_column: str, label_column: str) -> LabelledTexts:
    """Read one JSON object per line, e.g. ``{"text": "...", "label": "positive"}``."""
    path = Path(path)
    content = _read_text_file(path)
    texts, labels = [], []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserInputError(
                "line is not valid JSON",
                where=f"{where}:{error.colno}",
                received=error.msg,
                fix="write one JSON object per line",
            ) from None
        if not isinstance(record, dict):
            raise UserInputError(
                "line is not a JSON object", where=where,
                expected='{"text": ..., "label": ...}', received=type(record).__name__,
            )
        for wanted, option in ((text_column, "text_column"), (label_column, "label_column")):
            if wanted not in record:
                raise UserInputError(
                    f"key '{wanted}' not found",
                    where=where,
                    received=f"keys {sorted(record)}",
                    fix=f"pick one with --set {option}=<key>",
                )
        texts.append(_text_from(record[text_column], f"{where} key '{text_column}'"))
        labels.append(_label_from(record[label_column], f"{where} key '{label_column}'"))
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object), str(path))


def _read_class_folders(root: Path) -> LabelledTexts:
    texts, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if class_dir.name == "unsup":  # aclImdb's unlabelled reviews
            continue
        for file in sorted(class_dir.glob("*.txt")):
            text = decode_utf8(file.read_bytes(), str(file))
            if text.strip():
                texts.append(text.replace("<br />", " "))
                labels.append(class_dir.name)
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object), str(root))


def read_folder(path: str | os.PathLike) -> LabelledTexts:
    """Read ``root/<class>/*.txt``; with ``root/train`` and ``root/test``, keep that split.

    This is the aclImdb layout (``unsup/`` is skipped, ``<br />`` becomes a space).
    """
    root = Path(path)
    if not root.is_dir():
        raise UserInputError(
            "data folder not found", where=str(root),
            fix="point --data at a folder with one sub-folder of .txt files per class",
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = _read_class_folders(root / "train")
        train.test = _read_class_folders(root / "test")
        train.source = str(root)
        data = train
    else:
        data = _read_class_folders(root)
    if len(data) == 0:
        raise UserInputError(
            "no .txt files found in class sub-folders",
            where=str(root),
            expected="<folder>/<class>/*.txt",
            fix="put each class's texts in its own sub-folder",
        )
    return data


def download_imdb(cache_dir: str | os.PathLike, url: str) -> Path:
    """Download and unpack the Large Movie Review Dataset (Maas et al., 2011).

    Uses ``keras.utils.get_file``, which caches the archive in
    ``<cache_dir>/datasets`` so the ~80 MB download happens once.

    Returns:
        The ``aclImdb`` folder (``train/{pos,neg}``, ``test/{pos,neg}``).
    """
    import keras

    # get_file silently falls back to /tmp/.keras when the cache folder does not
    # exist yet (it checks that it is writable), so create it first.
    cache = Path(cache_dir).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        extracted = keras.utils.get_file(
            fname=IMDB_ARCHIVE, origin=url, extract=True, cache_dir=str(cache)
        )
    except Exception as error:  # get_file raises bare Exception on network failures
        raise UserInputError(
            "could not download IMDB",
            where=url,
            received=str(error).splitlines()[0][:200],
            fix="check the network, or download the archive yourself and pass the aclImdb "
            "folder with --set format=folder",
        ) from None
    folder = Path(extracted) / "aclImdb"
    if not folder.is_dir():
        raise UserInputError(
            "downloaded archive has no aclImdb folder", where=str(extracted),
            fix="delete the cached archive and try again",
        )
    return folder


def resolve_format(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    if Path(path).is_dir():
        return "folder"
    suffix = Path(path).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return TABLE_SUFFIXES[suffix]
    if not Path(path).exists():
        return "csv"  # the reader reports the missing file
    raise UserInputError(
        "cannot tell the file format from its extension",
        where=path,
        expected=f"one of {', '.join(sorted(TABLE_SUFFIXES))} or a folder",
        received=repr(suffix or "no extension"),
        fix="rename the file or choose with --set format=csv|tsv|jsonl|folder",
    )


def check_classes(data: LabelledTexts, max_classes: int) -> None:
    """Refuse a single class, or more classes than a label column plausibly has."""
    counts = Counter(data.labels.tolist())
    if len(counts) < 2:
        only = next(iter(counts)) if counts else "none"
        raise UserInputError(
            "only one class in the labels",
            where=data.source,
            expected="at least two classes",
            received=f"{len(data)} rows all labelled {only!r}",
            fix="add examples of the other classes, or check --set label_column",
        )
    if len(counts) > max_classes:
        sample = ", ".join(repr(c) for c, _ in counts.most_common(3))
        raise UserInputError(
            "too many distinct labels for a classification column",
            where=data.source,
            expected=f"at most {max_classes} classes (--set max_classes=N to allow more)",
            received=f"{len(counts)} distinct values such as {sample}",
            fix="check that --set label_column names the label and not the text",
        )


def load(config) -> LabelledTexts:
    """Read the data a :class:`~apps.sentiment.config.SentimentConfig` points at."""
    fmt = resolve_format(config.data, config.format)
    if fmt == "imdb":
        data = read_folder(download_imdb(config.data, config.imdb_url))
    elif fmt == "folder":
        data = read_folder(config.data)
    elif fmt == "jsonl":
        data = read_jsonl(config.data, config.text_column, config.label_column)
    else:
        data = read_table(config.data, fmt, config.text_column, config.label_column)
    check_classes(data, config.max_classes)
    return data


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, ...], seed: int
) -> list[np.ndarray]:
    """Index arrays for a stratified split: the rest first, then one per fraction.

    Every class keeps at least one example in the first (training) part.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in sorted(set(labels.tolist())):
        indices = np.flatnonzero(labels == label)
        rng.shuffle(indices)
        start = 0
        sizes = [int(round(f * len(indices))) for f in fractions]
        while sum(sizes) >= len(indices) and any(sizes):
            sizes[sizes.index(max(sizes))] -= 1
        for part, size in enumerate(sizes, start=1):
            parts[part].extend(indices[start : start + size])
            start += size
        parts[0].extend(indices[start:])
    return [np.sort(np.array(p, dtype=int)) for p in parts]
