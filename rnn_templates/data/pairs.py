"""Translation data: sentence pairs from Tatoeba/Anki TSV, CSV or JSONL, or the Anki download.

Every loader returns :class:`Pairs` and reports what it leaves out, so no
line disappears silently:

- a malformed line (no tab, an empty side, bytes that are not UTF-8) is
  skipped and reported with its line number (``malformed=skip``), or refused
  with one line that names it (``malformed=refuse``);
- pairs with a side longer than ``max_words`` words and repeated pairs
  (``duplicates=drop``) are counted and reported;
- ``max_pairs`` keeps the first pairs of the file, in file order.
"""

from __future__ import annotations

import codecs
import collections
import dataclasses
import io
import os
import sys
import unicodedata
from pathlib import Path

import numpy as np

from rnn_templates.data.readers import (
    check_encoding,
    decode_text,
    fetch_archive,
    read_table,
    require_file,
    resolve_format,
    resolve_path,
)
from rnn_templates.errors import UserInputError

PAIR_SUFFIXES = {".tsv": "tsv", ".txt": "tsv", ".tab": "tsv"}


@dataclasses.dataclass
class Pairs:
    """Sentence pairs and where they came from.

    Attributes:
        sources: Object array of source sentences.
        targets: Object array of their translations.
        lines: The line each pair came from (1-based).
        source: The file, for messages.
        dropped: What was left out and why: ``{"malformed": [(line, reason)...],
            "too_long": [line...], "duplicates": [line...], "beyond_max_pairs": n}``.
        test: A separate test set (``--test-data``), or None.
    """

    sources: np.ndarray
    targets: np.ndarray
    lines: np.ndarray
    source: str
    dropped: dict = dataclasses.field(default_factory=dict)
    test: Pairs | None = None

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, keep: np.ndarray) -> Pairs:
        return dataclasses.replace(self, sources=self.sources[keep], targets=self.targets[keep],
                                   lines=self.lines[keep])


def read_pair_lines(path: str | os.PathLike, *, malformed: str = "skip",
                    encoding: str = "utf-8") -> Pairs:
    """Read ``source<TAB>target[<TAB>attribution...]`` lines (the Tatoeba/Anki layout).

    Blank lines are ignored; a line of only spaces and tabs is a pair with
    empty sides, so malformed. A third field (the attribution) is not read; a
    line with more tabs than most of the file's lines (a tab inside a
    sentence, a doubled tab) is malformed. A UTF-8 byte-order mark is
    dropped. Each line is decoded on its own, so one bad byte costs one line.

    Args:
        path: The file.
        malformed: ``"skip"`` (report) or ``"refuse"`` (raise) a bad line.
        encoding: The file's encoding.

    Raises:
        UserInputError: a missing or empty file, a malformed line under
            ``refuse``, or no usable line at all.
    """
    path = Path(path)
    stream = io.BytesIO(_pair_bytes(path, encoding))
    sources, targets, lines, bad = [], [], [], []
    read: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            _malformed(bad, malformed, path, number, f"byte 0x{raw[error.start]:02x} is not "
                       f"{encoding} (column {error.start + 1})",
                       "re-save the file as UTF-8 or set --set encoding=<name>")
            continue
        text = text.rstrip("\r\n")
        if not text.strip() and "\t" not in text:
            continue  # a blank line; one with a tab is a pair with two empty sides
        read.append((number, text.split("\t")))
    # The file's own layout: two fields, or three with the attribution. A line with more
    # fields than most has a tab inside a sentence (or a doubled tab).
    counts = collections.Counter(len(fields) for _, fields in read if len(fields) >= 2)
    usual = max(counts.items(), key=lambda item: (item[1], item[0]))[0] if counts else 2
    for number, fields in read:
        if len(fields) < 2:
            _malformed(bad, malformed, path, number, "no tab between source and target",
                       "separate the two sentences with one tab")
            continue
        if len(fields) > usual:
            _malformed(bad, malformed, path, number,
                       f"{len(fields) - 1} tabs where the file's lines have {usual - 1}",
                       "remove the tab inside a sentence (or the doubled tab)")
            continue
        source, target = fields[0].strip(), fields[1].strip()
        if _blank(source) or _blank(target):
            _malformed(bad, malformed, path, number, f"empty {_empty_sides(source, target)}",
                       "write both sentences, or delete the line")
            continue
        sources.append(source)
        targets.append(target)
        lines.append(number)
    return _pairs(sources, targets, lines, str(path), bad)


def _pair_bytes(path: Path, encoding: str) -> bytes:
    """The file's bytes without a UTF-8 byte-order mark, refusing what cannot be a pairs file.

    A missing path, a folder or an empty file is one clear line. The
    byte-order mark follows :func:`~rnn_templates.data.readers.decode_text`:
    UTF-8 and single-byte encodings drop it, but a single-byte encoding
    (``--set encoding=cp1252``) over a UTF-8 file is refused rather than
    misread; ``utf-8-sig`` and the UTF-16/32 codecs handle it themselves.
    """
    name = check_encoding(encoding)
    raw = require_file(path).read_bytes()
    if raw.startswith(codecs.BOM_UTF8) and (name == "utf-8" or not name.startswith("utf")):
        body = raw[len(codecs.BOM_UTF8):]
        if name != "utf-8" and not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                pass  # not UTF-8 after all: the mark's bytes are dropped, the rest read as set
            else:
                decode_text(raw, str(path), encoding)  # raises its one line: UTF-8, not <name>
        raw = body
    if not raw.decode("latin-1").strip():
        raise UserInputError("data file is empty", where=str(path),
                             fix="point --data at a file with examples")
    return raw


def _blank(text: str) -> bool:
    """Nothing but spaces, control and format characters: no sentence to read."""
    return all(unicodedata.category(c)[0] in "CZ" for c in text)


def _empty_sides(source: str, target: str) -> str:
    if _blank(source) and _blank(target):
        return "source and target sentences"
    return "source sentence" if _blank(source) else "target sentence"


def _malformed(bad: list, policy: str, path: Path, number: int, reason: str, fix: str) -> None:
    if policy == "refuse":
        raise UserInputError(f"malformed line: {reason}", where=f"{path}:{number}",
                             fix=f"{fix}, or --set malformed=skip to leave such lines out")
    bad.append((number, reason))


def _pairs(sources, targets, lines, where: str, bad: list) -> Pairs:
    if not sources:
        raise UserInputError("no sentence pairs found", where=where,
                             received=f"{len(bad)} malformed line(s)" if bad else "no lines",
                             expected="lines of source<TAB>target",
                             fix="check the file and its format (--set format=...)")
    return Pairs(np.array(sources, dtype=object), np.array(targets, dtype=object),
                 np.array(lines, dtype=int), where, {"malformed": sorted(bad)})


def read_pair_table(path: str | os.PathLike, fmt: str, source_column: str, target_column: str,
                    *, malformed: str = "skip", encoding: str = "utf-8",
                    multiline: bool = False) -> Pairs:
    """Pairs from the named columns of a CSV (with a header) or JSONL file.

    Under ``malformed="skip"`` a row with too few fields, a line that is not a
    JSON object or one without the two keys is reported and left out like any
    other malformed line; ``multiline`` lets quoted CSV sentences hold line
    breaks.
    """
    bad: list[tuple[int, str]] = []
    table = read_table(path, fmt, {source_column: "source_column",
                                   target_column: "target_column"}, encoding=encoding,
                       multiline=multiline,
                       missing_fix="name the columns with --set source_column=<name> --set "
                       "target_column=<name>, or add a header row naming them",
                       skipped=bad if malformed == "skip" else None)
    sources, targets, lines = [], [], []
    for row, line in enumerate(table.lines):
        source = table.columns[source_column][row]
        target = table.columns[target_column][row]
        if not isinstance(source, str) or not isinstance(target, str):
            _malformed(bad, malformed, Path(path), int(line), "a sentence that is not text",
                       "write both sentences as strings")
            continue
        if _blank(source) or _blank(target):
            _malformed(bad, malformed, Path(path), int(line),
                       f"empty {_empty_sides(source, target)}",
                       "write both sentences, or delete the row")
            continue
        sources.append(" ".join(source.split()))
        targets.append(" ".join(target.split()))
        lines.append(int(line))
    return _pairs(sources, targets, lines, str(path), bad)


def download_anki(cache_dir: str | os.PathLike, url: str) -> Path:
    """An Anki archive of manythings.org (``<lang>-eng.zip``), downloaded once into ``cache_dir``.

    A failed download removes the folders it created, as
    :func:`~rnn_templates.data.readers.fetch_archive` does.

    Returns:
        The pairs file inside it (``fra.txt`` for ``fra-eng.zip``).
    """
    archive = url.rstrip("/").rsplit("/", 1)[-1]
    extracted = fetch_archive(url, archive, cache_dir, None, what="the Anki archive",
                              fix="download it yourself and pass the .txt with --data")
    found = sorted(p for p in extracted.rglob("*.txt") if not p.name.startswith("_"))
    if not found:
        raise UserInputError("the downloaded archive holds no pairs file (*.txt)",
                             where=str(extracted), fix="check --set anki_url")
    return found[0]


def load(config, *, report: bool = True) -> Pairs:
    """Read, cap and deduplicate the pairs a :class:`TranslationConfig` points at."""
    check_encoding(config.encoding)
    if config.format == "anki":
        path, fmt = download_anki(config.data, config.anki_url), "tsv"
    else:
        path = resolve_path(config.data)
        suffix = Path(path).suffix.lower()
        fmt = config.format
        if fmt == "auto":
            fmt = PAIR_SUFFIXES.get(suffix) or resolve_format(path, "auto")
    if fmt == "tsv":
        pairs = read_pair_lines(path, malformed=config.malformed, encoding=config.encoding)
    elif fmt in ("csv", "jsonl"):
        pairs = read_pair_table(path, fmt, config.source_column, config.target_column,
                                malformed=config.malformed, encoding=config.encoding,
                                multiline=config.multiline)
    else:
        raise UserInputError("a folder is not a file of pairs", where=str(path),
                             fix="pass a .tsv, .csv or .jsonl file")
    pairs = cap(pairs, max_pairs=config.max_pairs, max_words=config.max_words,
                duplicates=config.duplicates)
    if report:
        line = describe_dropped(pairs)
        if line:
            print(line, file=sys.stderr)
    return pairs


def cap(pairs: Pairs, *, max_pairs: int = 0, max_words: int = 0,
        duplicates: str = "drop") -> Pairs:
    """The first ``max_pairs`` pairs, without too-long pairs or (``drop``) repeated ones."""
    dropped = dict(pairs.dropped)
    if max_pairs and len(pairs) > max_pairs:
        dropped["beyond_max_pairs"] = len(pairs) - max_pairs
        pairs = pairs.subset(np.arange(max_pairs))
    if max_words:
        words = np.array([max(len(s.split()), len(t.split()))
                          for s, t in zip(pairs.sources, pairs.targets, strict=True)])
        keep = words <= max_words
        dropped["too_long"] = [int(line) for line in pairs.lines[~keep]]
        pairs = pairs.subset(np.flatnonzero(keep))
    if duplicates == "drop":
        seen, keep = set(), []
        for index, pair in enumerate(zip(pairs.sources, pairs.targets, strict=True)):
            if pair not in seen:
                seen.add(pair)
                keep.append(index)
        repeated = np.ones(len(pairs), dtype=bool)
        repeated[keep] = False
        dropped["duplicates"] = [int(line) for line in pairs.lines[repeated]]
        pairs = pairs.subset(np.array(keep, dtype=int))
    if not len(pairs):
        raise UserInputError("no pairs left after the caps", where=pairs.source,
                             received=describe_dropped(dataclasses.replace(pairs,
                                                                           dropped=dropped)),
                             fix="raise --set max_words or check the file")
    return dataclasses.replace(pairs, dropped=dropped)


def describe_dropped(pairs: Pairs) -> str:
    """One line saying what was left out of ``pairs`` and why ('' when nothing)."""
    parts = []
    bad = pairs.dropped.get("malformed", [])
    if bad:
        shown = ", ".join(f"{line} ({reason})" for line, reason in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        parts.append(f"skipped {len(bad)} malformed line(s): {shown}{more}")
        undecoded = [reason for _, reason in bad if reason.startswith("byte 0x")]
        if undecoded:
            encoding = undecoded[0].split(" is not ", 1)[1].split(" (", 1)[0]
            parts.append(f"{len(undecoded)} of them not {encoding}: if the file is in another "
                         "encoding, give it with --set encoding=<name> (latin-1, cp1252...) to "
                         "read every line")
    for key, what in (("too_long", "pair(s) longer than max_words"),
                      ("duplicates", "repeated pair(s)"),
                      ("beyond_max_pairs", "pair(s) after max_pairs")):
        value = pairs.dropped.get(key)
        if isinstance(value, list) and value:  # the lines they came from
            more = f" and {len(value) - 5} more" if len(value) > 5 else ""
            parts.append(f"left out {len(value)} {what} (line{'s' if len(value) > 1 else ''} "
                         f"{', '.join(map(str, value[:5]))}{more})")
        elif value:
            parts.append(f"left out {value} {what}")
    return f"{pairs.source}: " + "; ".join(parts) if parts else ""


def load_with_test(config) -> Pairs:
    """:func:`load` of ``config.data``, with ``config.test_data`` (when given) read whole
    as ``.test``: its pairs that are also training pairs are left out and reported, and a
    test file of training pairs only is refused."""
    pairs = load(config)
    if not config.test_data:
        return pairs
    require_file(resolve_path(config.test_data), "--test-data")
    # max_pairs caps the training file; the test file is read whole.
    test = load(dataclasses.replace(config, data=config.test_data, test_data="",
                                    format="auto", max_pairs=0))
    seen = set(zip(pairs.sources.tolist(), pairs.targets.tolist(), strict=True))
    known = np.array([pair in seen for pair in zip(test.sources.tolist(),
                                                   test.targets.tolist(), strict=True)])
    if known.all():
        raise UserInputError("every test pair is also a training pair", where=test.source,
                             received=f"{len(test)} pairs",
                             fix="test on pairs the training file does not hold")
    if known.any():
        print(f"{test.source}: left out {int(known.sum())} test pair(s) that are also "
              f"training pairs (first at line {int(test.lines[known][0])})", file=sys.stderr)
        test = test.subset(~known)
    pairs.test = test
    return pairs
