"""Translation data: sentence pairs from Tatoeba/Anki TSV, CSV or JSONL, or the Anki download.

Every loader returns :class:`Pairs` and reports what it leaves out, so no
line disappears silently:

- a malformed line (no tab, an empty side, bytes the encoding cannot read) is
  skipped and reported with its line number (``malformed=skip``), or refused
  with one line that names it (``malformed=refuse``);
- pairs with a side longer than ``max_words`` words and repeated pairs
  (``duplicates=drop``) are counted and reported;
- ``max_pairs`` keeps the first pairs of the file, in file order.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import re
import sys
from pathlib import Path

import numpy as np

from rnn_templates.data.readers import (
    blank,
    check_encoding,
    decode_text,
    fetch_archive,
    read_table,
    refuse_json_array,
    refuse_utf8_misread,
    require_file,
    resolve_format,
    resolve_path,
    split_lines,
    undecodable,
)
from rnn_templates.data.splits import example_keys
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
        notes: Lines for standard error about pairs read as they are (a header-like
            first line).
        stray_bytes: The lines skipped for undecodable bytes are stray bytes in a
            file otherwise UTF-8 (to fix line by line, not with another encoding).
    """

    sources: np.ndarray
    targets: np.ndarray
    lines: np.ndarray
    source: str
    dropped: dict = dataclasses.field(default_factory=dict)
    test: Pairs | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    stray_bytes: bool = False

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, keep: np.ndarray) -> Pairs:
        return dataclasses.replace(self, sources=self.sources[keep], targets=self.targets[keep],
                                   lines=self.lines[keep])


def read_pair_lines(path: str | os.PathLike, *, malformed: str = "skip",
                    encoding: str = "utf-8",
                    columns: tuple[str, str] = ("source", "target")) -> Pairs:
    """Read ``source<TAB>target[<TAB>attribution...]`` lines (the Tatoeba/Anki layout).

    Blank lines are ignored; a line of only spaces and tabs is a pair with
    empty sides, so malformed. A third field (the attribution) is not read; a
    line with more tabs than most of the file's lines (a tab inside a
    sentence, a doubled tab) is malformed. The file is decoded whole (so
    UTF-16 and UTF-32 work when ``encoding`` names them) and a byte the encoding
    cannot read costs its line only. A first line that looks like a header
    (``columns``, language codes) is read as a pair, with a note in
    ``Pairs.notes``; a file whose lines all start with a number (an index
    column) is refused.

    Args:
        path: The file.
        malformed: ``"skip"`` (report) or ``"refuse"`` (raise) a bad line.
        encoding: The file's encoding.
        columns: The CSV/JSONL column names of the app (a header like them is noted).

    Raises:
        UserInputError: a missing or empty file, a file in UTF-16/32 or valid
            UTF-8 read as another encoding, an index column, a malformed line
            under ``refuse``, or no usable line at all.
    """
    path = Path(path)
    lines_read = split_lines(_pair_text(path, encoding))
    undecoded = _undecodable_lines(lines_read, encoding)
    stray = _stray_bytes(lines_read, undecoded, encoding)
    byte_fix = _byte_fix(stray)
    sources, targets, lines, bad = [], [], [], []
    read: list[tuple[int, list[str]]] = []
    for number, text in enumerate(lines_read, start=1):
        if number in undecoded:
            _malformed(bad, malformed, path, number, undecoded[number], byte_fix)
            continue
        if not text.strip() and "\t" not in text:
            continue  # a blank line; one with a tab is a pair with two empty sides
        read.append((number, text.split("\t")))
    # The file's own layout: two fields, or three with the attribution. A line with more
    # fields than most has a tab inside a sentence (or a doubled tab).
    counts = collections.Counter(len(fields) for _, fields in read if len(fields) >= 2)
    usual = max(counts.items(), key=lambda item: (item[1], item[0]))[0] if counts else 2
    if usual >= 3:
        _refuse_index_column(read, path)
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
        if blank(source) or blank(target):
            _malformed(bad, malformed, path, number, f"empty {_empty_sides(source, target)}",
                       "write both sentences, or delete the line")
            continue
        sources.append(source)
        targets.append(target)
        lines.append(number)
    pairs = _pairs(sources, targets, lines, str(path), bad, "lines of source<TAB>target")
    pairs.stray_bytes = stray
    if read and lines[0] == read[0][0] and _header_like(sources[0], targets[0], columns):
        pairs.notes.append(
            f"{path}:{lines[0]}: note: line {lines[0]} looks like a header ({sources[0]!r} / "
            f"{targets[0]!r}); it is read as a pair: delete it if it is a header (a pairs "
            "file has none)")
    return pairs


def _pair_text(path: Path, encoding: str) -> str:
    """The file decoded whole, bytes the encoding cannot read kept as lone surrogates.

    A missing path, a folder or an empty file is one clear line. The
    byte-order mark follows :func:`~rnn_templates.data.readers.decode_text`:
    a UTF-16/32 file is refused unless ``encoding`` names it, UTF-8 and
    single-byte encodings drop a UTF-8 mark, and a single-byte encoding
    (``--set encoding=cp1252``) over a UTF-8 file is refused rather than misread,
    with or without the mark.
    """
    raw = require_file(path).read_bytes()
    text = decode_text(raw, str(path), encoding, errors="surrogateescape")
    refuse_utf8_misread(raw, str(path), encoding)
    if not text.strip():
        raise UserInputError("data file is empty", where=str(path),
                             fix="point --data at a file with examples")
    return text


def _undecodable_lines(lines: list[str], encoding: str) -> dict[int, str]:
    """Line number to the reason, for each line holding a byte the encoding could not read."""
    found = {}
    for number, line in enumerate(lines, start=1):
        spot = undecodable(line)
        if spot:
            found[number] = f"byte 0x{spot[1]:02x} is not {encoding} (column {spot[0] + 1})"
    return found


def _stray_bytes(lines: list[str], undecoded: dict[int, str], encoding: str) -> bool:
    """Whether the undecodable lines are stray bytes in a UTF-8 file: its other lines
    hold UTF-8 accents, which a new encoding for the whole file would garble."""
    return bool(undecoded) and check_encoding(encoding).startswith("utf-8") and any(
        not line.isascii() for number, line in enumerate(lines, start=1)
        if number not in undecoded)


def _byte_fix(stray: bool) -> str:
    """How to fix a line with undecodable bytes: that line, or the file's encoding."""
    if stray:
        return ("the rest of the file is UTF-8: write this line in UTF-8 (re-encoding the "
                "whole file would garble its other lines)")
    return "re-save the file as UTF-8 or set --set encoding=<name>"


_HEADER_NAMES = {"source", "target", "src", "tgt", "text", "sentence", "translation",
                 "input", "output", "english", "french", "german", "spanish", "original"}


# Language codes a pairs file's header names its columns by (ISO 639-1, the common ones).
_LANGUAGE_CODES = frozenset(
    "ar bg ca cs da de el en eo es et fa fi fr he hi hr hu id it ja ko lt lv nl no pl pt ro "
    "ru sk sl sr sv th tr uk vi zh".split())


def _header_like(source: str, target: str, columns: tuple[str, str]) -> bool:
    """Both sides look like column names: the app's, a language code, a word like source."""
    def column_like(name: str) -> bool:
        return (name in columns or name.lower() in _HEADER_NAMES
                or re.fullmatch(r"[a-z]{2}", name) is not None and name in _LANGUAGE_CODES
                or re.fullmatch(r"[a-z]{2}[-_][A-Za-z]{2,4}", name) is not None
                or re.fullmatch(r"[A-Za-z]+(?:_[A-Za-z0-9]+)+", name) is not None)
    return column_like(source) and column_like(target)


def _refuse_index_column(read: list[tuple[int, list[str]]], path: Path) -> None:
    """Refuse a file whose lines start with a number (all but perhaps a header line)."""
    firsts = [(number, fields[0].strip()) for number, fields in read if len(fields) >= 2]
    numbered = [(number, first) for number, first in firsts
                if re.fullmatch(r"[0-9]+", first)]
    if len(numbered) >= 2 and len(numbered) >= len(firsts) - 1:
        number, first = numbered[0]
        raise UserInputError(
            "the lines start with a number, an index column (pandas to_csv writes one), "
            "not a source sentence", where=f"{path}:{number}",
            expected="source<TAB>target[<TAB>attribution] lines",
            received=f"{len(numbered)} of {len(firsts)} lines starting with a number, "
            f"the first {first!r}",
            fix="save the file without the index (pandas: df.to_csv(path, sep=\"\\t\", "
            "index=False, header=False))")


def _empty_sides(source: str, target: str) -> str:
    if blank(source) and blank(target):
        return "source and target sentences"
    return "source sentence" if blank(source) else "target sentence"


def _malformed(bad: list, policy: str, path: Path, number: int, reason: str, fix: str) -> None:
    if policy == "refuse":
        raise UserInputError(f"malformed line: {reason}", where=f"{path}:{number}",
                             fix=f"{fix}, or --set malformed=skip to leave such lines out")
    bad.append((number, reason))


def _pairs(sources, targets, lines, where: str, bad: list, expected: str) -> Pairs:
    if not sources:
        first = min(bad) if bad else None
        raise UserInputError("no sentence pairs found", where=where,
                             received=f"{len(bad)} malformed line(s), the first line "
                             f"{first[0]} ({first[1]})" if bad else "no lines",
                             expected=expected,
                             fix="check the file and its format (--set format=...)")
    return Pairs(np.array(sources, dtype=object), np.array(targets, dtype=object),
                 np.array(lines, dtype=int), where, {"malformed": sorted(bad)})


def read_pair_table(path: str | os.PathLike, fmt: str, source_column: str, target_column: str,
                    *, malformed: str = "skip", encoding: str = "utf-8",
                    multiline: bool = False) -> Pairs:
    """Pairs from the named columns of a CSV (with a header) or JSONL file.

    Under ``malformed="skip"`` a row with too few fields, a line that is not a
    JSON object or one without the two keys, and a line with a byte the
    encoding cannot read is reported and left out like any other malformed
    line; ``multiline`` lets quoted CSV sentences hold line breaks. Sentences
    are read as written, only the spaces around them stripped (as for TSV). A
    ``.json`` file holding one JSON array is refused, naming the fix.
    """
    path = Path(path)
    text = _pair_text(path, encoding)
    if fmt == "jsonl":
        refuse_json_array(text, path)
    physical = split_lines(text) if fmt == "jsonl" else io.StringIO(text, newline="").readlines()
    undecoded = _undecodable_lines(physical, encoding)
    stray = _stray_bytes(physical, undecoded, encoding)
    byte_fix = _byte_fix(stray)
    if undecoded and malformed == "refuse":
        number = min(undecoded)
        _malformed([], malformed, path, number, undecoded[number], byte_fix)
    bad: list[tuple[int, str]] = []
    table = read_table(path, fmt, {source_column: "source_column",
                                   target_column: "target_column"}, encoding=encoding,
                       multiline=multiline,
                       missing_fix="name the columns with --set source_column=<name> --set "
                       "target_column=<name>, or add a header row naming them",
                       skipped=bad if malformed == "skip" else None,
                       text=text, header_example=(source_column, target_column))
    bad = [(line, undecoded.get(line, reason)) for line, reason in bad]
    sources, targets, lines = [], [], []
    for row, line in enumerate(table.lines):
        source = table.columns[source_column][row]
        target = table.columns[target_column][row]
        spot = next((undecodable(side) for side in (source, target)
                     if isinstance(side, str) and undecodable(side)), None)
        if line in undecoded or spot:
            bad.append((int(line), undecoded.get(line) or
                        f"byte 0x{spot[1]:02x} is not {encoding} (in a sentence of the row)"))
            continue
        if not isinstance(source, str) or not isinstance(target, str):
            _malformed(bad, malformed, Path(path), int(line), "a sentence that is not text",
                       "write both sentences as strings")
            continue
        if blank(source) or blank(target):
            _malformed(bad, malformed, Path(path), int(line),
                       f"empty {_empty_sides(source, target)}",
                       "write both sentences, or delete the row")
            continue
        sources.append(source.strip())
        targets.append(target.strip())
        lines.append(int(line))
    expected = (f"a header naming the columns '{source_column}' and '{target_column}', then "
                "one row per pair" if fmt == "csv" else
                f'one JSON object per line with the keys "{source_column}" and '
                f'"{target_column}"')
    pairs = _pairs(sources, targets, lines, str(path), bad, expected)
    pairs.stray_bytes = stray
    return pairs


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


def load(config, *, report: bool = True, evaluating: bool = False) -> Pairs:
    """Read, cap and deduplicate the pairs a :class:`TranslationConfig` points at.
    ``evaluating``: the file of ``evaluate --data``, capped as the run's training data
    was (evaluate takes no ``--set max_words``)."""
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
        pairs = read_pair_lines(path, malformed=config.malformed, encoding=config.encoding,
                                columns=(config.source_column, config.target_column))
    elif fmt in ("csv", "jsonl"):
        pairs = read_pair_table(path, fmt, config.source_column, config.target_column,
                                malformed=config.malformed, encoding=config.encoding,
                                multiline=config.multiline)
    else:
        raise UserInputError("a folder is not a file of pairs", where=str(path),
                             fix="pass a .tsv, .csv or .jsonl file")
    pairs = cap(pairs, max_pairs=config.max_pairs, max_words=config.max_words,
                duplicates=config.duplicates, evaluating=evaluating)
    if report:
        for note in pairs.notes:
            print(note, file=sys.stderr)
        line = describe_dropped(pairs)
        if line:
            print(line, file=sys.stderr)
    return pairs


def cap(pairs: Pairs, *, max_pairs: int = 0, max_words: int = 0,
        duplicates: str = "drop", evaluating: bool = False) -> Pairs:
    """The first ``max_pairs`` pairs, without too-long pairs or (``drop``) repeated ones.
    ``evaluating``: the caps are a trained run's, which the command cannot change."""
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
        left_out = _dropped_parts(dataclasses.replace(pairs, dropped=dropped))
        raise UserInputError(
            "no pairs left after the caps", where=pairs.source,
            received="; ".join(left_out),  # where names the file already
            fix=f"evaluate on shorter pairs, or train a run with a larger --set max_words "
            f"(this run's is {max_words})" if evaluating else
            "raise --set max_words or check the file")
    return dataclasses.replace(pairs, dropped=dropped)


def describe_dropped(pairs: Pairs) -> str:
    """One line saying what was left out of ``pairs`` and why ('' when nothing)."""
    parts = _dropped_parts(pairs)
    return f"{pairs.source}: " + "; ".join(parts) if parts else ""


def _dropped_parts(pairs: Pairs) -> list[str]:
    """What was left out of ``pairs`` and why, one part per reason."""
    parts = []
    bad = pairs.dropped.get("malformed", [])
    if bad:
        shown = ", ".join(f"{line} ({reason})" for line, reason in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        parts.append(f"skipped {len(bad)} malformed line(s): {shown}{more}")
        undecoded = [reason for _, reason in bad if reason.startswith("byte 0x")]
        if undecoded and pairs.stray_bytes:
            parts.append(f"{len(undecoded)} of them not utf-8 in a file otherwise UTF-8: "
                         "write those lines in UTF-8 (another --set encoding, or re-encoding "
                         "the whole file, would garble its other lines)")
        elif undecoded:
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
    return parts


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
    # Compared as evaluate --data counts seen_in_training: white space does not count.
    known = np.isin(example_keys(test.sources, test.targets),
                    example_keys(pairs.sources, pairs.targets))
    if known.all():
        raise UserInputError("every test pair is also a training pair", where=test.source,
                             received=f"{len(test)} pair{'' if len(test) == 1 else 's'}",
                             fix="test on pairs the training file does not hold")
    if known.any():
        print(f"{test.source}: left out {int(known.sum())} test pair(s) that are also "
              f"training pairs (first at line {int(test.lines[known][0])})", file=sys.stderr)
        test = test.subset(~known)
    pairs.test = test
    return pairs
