"""Labelled texts for text classifiers: CSV, TSV or JSONL files and folders of classes.

Every reader returns a :class:`LabelledTexts` (texts and string labels) and
checks what it reads, so a bad file fails with one line that names the file,
the line and the fix, before any run directory exists: empty texts and labels
that are not class names here, file-level problems in
:mod:`rnn_templates.data.readers`. :func:`drop_duplicates` reports repeated
texts and keeps training texts out of a shipped test split.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from rnn_templates.data.labels import label_from, shared_texts, unique_rows
from rnn_templates.data.readers import decode_text, read_table, refuse_utf8_misread
from rnn_templates.errors import UserInputError


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
    if value is not None and not isinstance(value, str):
        raise UserInputError(
            "text is not a string", where=where, expected="a string",
            received=f"{type(value).__name__} {value!r}"[:80],
            fix='write the text in double quotes (e.g. "123")')
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


def _hidden(path: Path) -> bool:
    """A hidden file or folder (``.ipynb_checkpoints``, macOS's ``._x.txt``) or ``__MACOSX``."""
    return path.name.startswith(".") or path.name == "__MACOSX"


def _read_class_folders(root: Path, encoding: str) -> LabelledTexts:
    texts, labels, where = [], [], []
    hidden: list[str] = []  # hidden files and folders left out
    empty: list[str] = []  # class folders without a .txt file
    nested: list[str] = []  # folders inside class folders, not read
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if class_dir.name == "unsup":  # aclImdb's unlabelled reviews
            continue
        if _hidden(class_dir):
            hidden.append(class_dir.name + "/")
            continue
        found = 0
        for entry in sorted(class_dir.iterdir()):
            if _hidden(entry):
                if entry.is_dir() or entry.suffix.lower() == ".txt":  # not .DS_Store
                    hidden.append(f"{class_dir.name}/{entry.name}" + "/" * entry.is_dir())
                continue
            if entry.is_dir():
                nested.append(f"{class_dir.name}/{entry.name}/")
                continue
            if entry.suffix.lower() != ".txt":
                continue
            raw = entry.read_bytes()
            text = decode_text(raw, str(entry), encoding)
            refuse_utf8_misread(raw, str(entry), encoding)
            if not text.strip():
                raise UserInputError("empty text file", where=str(entry),
                                     expected="the text of one example",
                                     fix="write the text, or remove the file")
            texts.append(text.replace("<br />", " "))
            labels.append(class_dir.name)
            where.append(str(entry))
            found += 1
        if not found:
            empty.append(class_dir.name + "/")
    _note(root, hidden, "hidden file(s) or folder(s) left out (names starting with '.', "
          "__MACOSX)")
    _note(root, empty, "class folder(s) with no .txt file, so no class")
    _note(root, nested, "folder(s) inside class folders not read (move their .txt files up "
          "into the class folder to use them)")
    return LabelledTexts(np.array(texts, dtype=object), np.array(labels, dtype=object),
                         str(root), where=np.array(where, dtype=object))


def _note(root: Path, names: list[str], what: str) -> None:
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        print(f"{root}: note: {len(names)} {what}: {shown}", file=sys.stderr)


def read_folder(path: str | os.PathLike, *, encoding: str = "utf-8") -> LabelledTexts:
    """Read ``root/<class>/*.txt``; with ``root/train`` and ``root/test``, keep that split.

    This is the aclImdb layout (``unsup/`` is skipped, ``<br />`` becomes a space).
    Every file is read with ``encoding``; each example's ``where`` is its file. Hidden
    files and folders (``.*``, ``__MACOSX``) are left out, and a note on stderr names
    them, class folders without a ``.txt`` file and folders nested in class folders.
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


def with_test(data: LabelledTexts, test: LabelledTexts) -> LabelledTexts:
    """``test`` checked as ``data``'s test split: known classes, no training texts (reported)."""
    unknown = sorted(set(test.labels.tolist()) - set(data.labels.tolist()))
    if unknown:
        raise UserInputError(
            "the test data has classes the training data lacks", where=test.source,
            expected=f"classes among {data.classes}", received=f"{unknown[:5]}",
            fix="check --test-data and the label column")
    return test.subset(~shared_texts(data.texts, test.texts, test.source))
