"""Sentiment data: read labelled texts from CSV, TSV, JSONL, class folders or IMDB.

Every loader returns a :class:`LabelledTexts` (texts and string labels) and
checks what it reads, so a bad file fails here with one line that names the
file, the line and the fix, before any run directory exists:

- missing or empty files, bytes the ``encoding`` cannot read (with line and column);
- CSV rows that run over several lines (an unclosed quote) unless ``multiline``;
- a missing text or label column (the columns found are listed);
- empty texts, labels that are not class names (blank, fractional numbers,
  more distinct values than ``max_classes``), and a single class.

Files and class folders are read by :mod:`rnn_templates.data.labelled`;
this module adds the IMDB download and the config's choices.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnn_templates.data.labelled import (  # noqa: F401  (the app's data API)
    LabelledTexts,
    drop_duplicates,
    read_folder,
    read_labelled_table,
)
from rnn_templates.data.labels import check_classes
from rnn_templates.data.readers import check_encoding, fetch_archive, resolve_format, resolve_path

IMDB_ARCHIVE = "aclImdb_v1.tar.gz"


def download_imdb(cache_dir: str | os.PathLike, url: str) -> Path:
    """The Large Movie Review Dataset (Maas et al., 2011), downloaded once into ``cache_dir``.

    A failed download removes the folders it created (``datasets/``, and
    ``cache_dir`` itself when it was new), so the user's folder is left as it was.

    Returns:
        The ``aclImdb`` folder (``train/{pos,neg}``, ``test/{pos,neg}``).
    """
    return fetch_archive(url, IMDB_ARCHIVE, cache_dir, "aclImdb", what="IMDB",
                         fix="download the archive yourself and pass the aclImdb folder with "
                         "--set format=folder")


def load(config, *, training: bool = True) -> LabelledTexts:
    """Read the data a :class:`~apps.sentiment.config.SentimentConfig` points at.

    ``training=False`` (a file to test or evaluate on, scored with the classes a
    model already has): one class, or a rare one, is fine, so the classes are not
    checked here (the caller checks they are the model's).
    """
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
            if training:
                check_classes(data.labels, data.source, config.max_classes)
            return drop_duplicates(data, config.duplicates)
    if training:
        check_classes(data.labels, data.source, config.max_classes,
                      label_hint="the class sub-folders (one per class)")
    return drop_duplicates(data, config.duplicates)
