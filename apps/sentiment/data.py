"""Sentiment data: read labelled texts from CSV, TSV, JSONL, class folders or IMDB.

Every loader returns a :class:`LabelledTexts` (texts and string labels) and
checks what it reads, so a bad file fails here with one line that names the
file, the line and the fix, before any run directory exists:

- missing or empty files, bytes the ``encoding`` cannot read (with line and column);
- CSV rows that run over several lines (an unclosed quote) unless ``multiline``;
- a missing text or label column (the columns found are listed);
- empty texts, labels that are not class names (blank, fractional numbers,
  more distinct values than ``max_classes``), and a single class.

Files are read by the library's readers (:mod:`rnn_templates.data.readers`) and
labels checked by :mod:`rnn_templates.data.labels`; this module adds the
folder and IMDB layouts.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from rnn_templates.data.labels import check_classes, label_from, shared_texts, unique_rows
from rnn_templates.data.readers import (
    check_encoding,
    decode_text,
    fetch_archive,
    read_table,
    resolve_format,
    resolve_path,
)
from rnn_templates.errors import UserInputError

IMDB_ARCHIVE = "aclImdb_v1.tar.gz"


@dataclasses.dataclass
class LabelledTexts:
    """Texts with their class labels, plus where they came from.

    Attributes:
        texts: Array of str, one per example.
        labels: Array of str class names, aligned with ``texts``.
        source: File or folder they were read from (for messages).
        test: An explicit held-out split shipped with the data (aclImdb), if any.
        where: Where each example came from (``file:line``), for reports.
    """

    texts: np.ndarray
    labels: np.ndarray
    source: str
    test: LabelledTexts | None = None
    where: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> LabelledTexts:
        where = None if self.where is None else self.where[keep]
        return LabelledTexts(self.texts[keep], self.labels[keep], self.source, self.test, where)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))

    def __len__(self) -> int:
        return len(self.texts)


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


def read_labelled_table(path: str | os.PathLike, fmt: str, text_column: str,
                        label_column: str, *, header: bool = True, encoding: str = "utf-8",
                        multiline: bool = False) -> LabelledTexts:
    """Read a CSV, TSV or JSONL file of texts and labels.

    Without a header row (``header=False``, the UCI ``sentence<TAB>label``
    layout), the default column names mean the first and the last column.
    ``encoding`` is the file's text encoding; ``multiline`` accepts CSV texts
    with line breaks inside quotes.
    """
    if not header:
        text_column = "0" if text_column == "text" else text_column
        label_column = "-1" if label_column == "label" else label_column
    table = read_table(path, fmt, {text_column: "text_column", label_column: "label_column"},
                       header=header, encoding=encoding, multiline=multiline)
    kind = "key" if fmt == "jsonl" else "column"
    texts = [_text_from(value, table.where(row, text_column).replace(" column", f" {kind}"))
             for row, value in enumerate(table.columns[text_column])]
    labels = [label_from(value, table.where(row, label_column).replace(" column", f" {kind}"))
              for row, value in enumerate(table.columns[label_column])]
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object),
                         table.source,
                         where=np.array([f"{table.source}:{n}" for n in table.lines], object))


def drop_duplicates(data: LabelledTexts, policy: str) -> LabelledTexts:
    """Report repeated texts (dropped unless ``policy="keep"``); never test on training texts."""
    keep = unique_rows(data.texts, data.labels, data.source, policy, data.where)
    data = data.subset(keep) if not keep.all() else data
    if data.test is not None:
        data.test = data.test.subset(~shared_texts(data.texts, data.test.texts, data.test.source))
    return data


def _read_class_folders(root: Path, encoding: str) -> LabelledTexts:
    texts, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if class_dir.name == "unsup":  # aclImdb's unlabelled reviews
            continue
        for file in sorted(p for p in class_dir.iterdir() if p.suffix.lower() == ".txt"):
            text = decode_text(file.read_bytes(), str(file), encoding)
            if text.strip():
                texts.append(text.replace("<br />", " "))
                labels.append(class_dir.name)
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object), str(root))


def read_folder(path: str | os.PathLike, *, encoding: str = "utf-8") -> LabelledTexts:
    """Read ``root/<class>/*.txt``; with ``root/train`` and ``root/test``, keep that split.

    This is the aclImdb layout (``unsup/`` is skipped, ``<br />`` becomes a space).
    Every file is read with ``encoding``.
    """
    root = Path(path)
    if not root.is_dir():
        raise UserInputError(
            "data folder not found", where=str(root),
            fix="point --data at a folder with one sub-folder of .txt files per class",
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = _read_class_folders(root / "train", encoding)
        train.test = _read_class_folders(root / "test", encoding)
        train.source = str(root)
        data = train
    else:
        data = _read_class_folders(root, encoding)
    if len(data) == 0:
        raise UserInputError(
            "no .txt files found in class sub-folders",
            where=str(root),
            expected="<folder>/<class>/*.txt",
            fix="put each class's texts in its own sub-folder",
        )
    return data


def download_imdb(cache_dir: str | os.PathLike, url: str) -> Path:
    """The Large Movie Review Dataset (Maas et al., 2011), downloaded once into ``cache_dir``.

    Returns:
        The ``aclImdb`` folder (``train/{pos,neg}``, ``test/{pos,neg}``).
    """
    return fetch_archive(url, IMDB_ARCHIVE, cache_dir, "aclImdb", what="IMDB",
                         fix="download the archive yourself and pass the aclImdb folder with "
                         "--set format=folder")


def load(config) -> LabelledTexts:
    """Read the data a :class:`~apps.sentiment.config.SentimentConfig` points at."""
    check_encoding(config.encoding)  # a misspelt codec fails before any download or read
    if config.format == "imdb":
        data = read_folder(download_imdb(config.data, config.imdb_url), encoding=config.encoding)
    else:
        path = resolve_path(config.data)
        fmt = resolve_format(path, config.format)
        if fmt == "folder":
            data = read_folder(path, encoding=config.encoding)
        else:
            data = read_labelled_table(path, fmt, config.text_column, config.label_column,
                                       header=config.header, encoding=config.encoding,
                                       multiline=config.multiline)
            check_classes(data.labels, data.source, config.max_classes)
            return drop_duplicates(data, config.duplicates)
    check_classes(data.labels, data.source, config.max_classes,
                  label_hint="the class sub-folders (one per class)")
    return drop_duplicates(data, config.duplicates)
