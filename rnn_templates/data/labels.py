"""Class labels and stratified splits for classification apps.

Labels are kept as strings (``"positive"``, ``"1"``); classes are sorted, so
``["negative", "positive"]`` and ``["0", "1"]`` both put the positive class at
index 1, which is the class ROC AUC scores.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import numpy as np

from rnn_templates.errors import UserInputError, counted

# What spreadsheets, pandas and R write for a value that is missing ("none" is left
# out: it names a class in many label sets).
MISSING_MARKERS = frozenset({"na", "n/a", "#n/a", "<na>", "nan", "null"})


def label_from(value: object, where: str) -> str:
    """A class name from a cell or JSON value; refuse what cannot be a class.

    A label is kept as written (``+1``, ``01``), except that a whole number
    written with a decimal point (``4.0``, as pandas writes a column with
    gaps) is the integer. Missing-value markers (``NA``, ``N/A``, ``nan``,
    ``null``...) are refused as missing labels.

    Example:
        >>> label_from(4.0, "f.csv:3"), label_from(" pos ", "f.csv:4"), label_from("4.0", "f.csv:5")
        ('4', 'pos', '4')
        >>> label_from("+1", "f.csv:6"), label_from("01", "f.csv:7")
        ('+1', '01')
    """
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        label = value.strip()
        if not label:
            raise UserInputError(
                "empty label", where=where, expected="a class name or an integer",
                fix="fill in or drop the row",
            )
        if label.casefold() in MISSING_MARKERS:
            raise UserInputError(
                "missing label", where=where, expected="a class name or an integer",
                received=repr(label), fix="fill in or drop the row (a value that marks a "
                "missing label is not a class)")
        try:
            number = float(label)
        except ValueError:
            return label
        if not re.fullmatch(r"[-+]?\d+\.0*", label):  # +1, 01, 1e3: kept as written
            if number.is_integer():
                return label
        shown = repr(label)
    elif isinstance(value, float):
        number, shown = value, repr(value)
    else:
        raise UserInputError(
            "label is not a class",
            where=where,
            expected="a class name or an integer",
            received=f"{type(value).__name__} {value!r}"[:80],
            fix="give each row a single class name",
        )
    if number.is_integer():
        return str(int(number))
    raise UserInputError(
        "label is not a class",
        where=where,
        expected="a class name or an integer",
        received=shown,
        fix="map scores to classes first (e.g. 1-2 negative, 4-5 positive)",
    )


def check_classes(labels: np.ndarray, source: str, max_classes: int, *,
                  label_hint: str = "--set label_column") -> None:
    """Refuse a single class, labels that differ only in case (``Positive`` and
    ``positive``: one class written two ways), or more classes than a label column
    plausibly has.

    ``label_hint`` names where the labels came from, for the advice.
    """
    counts = Counter(np.asarray(labels).tolist())
    if len(counts) < 2:
        only = next(iter(counts)) if counts else "none"
        raise UserInputError(
            "only one class in the labels",
            where=source,
            expected="at least two classes",
            received=f"{counted(len(labels), 'row')} all labelled {only!r}",
            fix=f"add examples of the other classes, or check {label_hint}",
        )
    folded: dict[str, list[str]] = {}
    for name in sorted(counts):
        folded.setdefault(str(name).casefold(), []).append(name)
    alike = next((names for names in folded.values() if len(names) > 1), None)
    if alike:
        raise UserInputError(
            f"labels that differ only in case: {' and '.join(map(repr, alike))}",
            where=source, expected="each class written one way",
            received=", ".join(f"{counts[name]} rows {name!r}" for name in alike),
            fix="write each class the same way in the file (all lower case, say)")
    if len(counts) > max_classes:
        sample = ", ".join(repr(c) for c, _ in counts.most_common(3))
        raise UserInputError(
            "too many distinct labels for a classification column",
            where=source,
            expected=f"at most {counted(max_classes, 'class', 'classes')} (--set max_classes=N to "
            "allow more)",
            received=f"{len(counts)} distinct values such as {sample}",
            fix=f"check {label_hint}: it should name the labels, not the texts",
        )
    total = sum(counts.values())
    rare = sorted(name for name, count in counts.items() if 100 * count <= total
                  and count <= 5)  # at most 1% of the rows, and a handful
    if rare:
        listed = ", ".join(f"{name!r} ({counts[name]} row{'s' if counts[name] > 1 else ''})"
                           for name in rare[:5])
        print(f"{source}: note: class{'es' if len(rare) > 1 else ''} {listed} of "
              f"{len(counts)} classes and {total} rows: a typo, or a header read as data? "
              f"Each is a class of its own; fix or drop those rows if not", file=sys.stderr)


def note_missing_classes(parts: dict[str, np.ndarray], class_names: list[str],
                         source: str) -> None:
    """Say which classes have no example in a split (``parts``: split name -> class
    indices): that split's scores say nothing about them."""
    for name, labels in parts.items():
        if not len(labels):
            continue
        absent = [class_names[i] for i in sorted(set(range(len(class_names)))
                                                 - set(np.asarray(labels).tolist()))]
        if absent:
            print(f"{source}: note: no example of class{'es' if len(absent) > 1 else ''} "
                  f"{', '.join(map(repr, absent))} in the {name} split ({len(labels)} "
                  f"examples): its scores say nothing about "
                  f"{'them' if len(absent) > 1 else 'it'}; add examples, or raise "
                  f"--set {name}_fraction", file=sys.stderr)


def class_indices(labels: np.ndarray, class_names: list[str], source: str) -> np.ndarray:
    """Labels as indices into ``class_names``, refusing labels not among them."""
    lookup = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(np.asarray(labels).tolist()) - set(lookup))
    if unknown:
        raise UserInputError("labels not seen in training", where=source,
                             expected=f"classes {class_names}", received=f"{unknown[:5]}",
                             fix="use the same class names as the training data")
    return np.array([lookup[label] for label in labels], dtype="int32")


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


def _key(text: object) -> str:
    return " ".join(str(text).split())


def unique_rows(texts: np.ndarray, labels: np.ndarray, source: str, policy: str = "drop",
                where: np.ndarray | None = None) -> np.ndarray:
    """Which rows to keep: each text's first row (``policy="drop"``) or all (``"keep"``).

    Repeats (texts equal up to whitespace) are reported on stderr either way,
    with how many carry another label than their first copy.

    Example:
        >>> unique_rows(np.array(["a", "b", "a "]), np.array(["x", "y", "z"]), "f.csv").tolist()
        [True, True, False]
    """
    first: dict[str, int] = {}
    repeats = [i for i, text in enumerate(texts) if first.setdefault(_key(text), i) != i]
    keep = np.ones(len(texts), bool)
    if not repeats:
        return keep
    conflicting = sum(labels[i] != labels[first[_key(texts[i])]] for i in repeats)
    places = ", ".join(str(where[i]) if where is not None else f"row {i + 1}"
                       for i in repeats[:3])
    if policy == "drop":
        keep[repeats] = False
        advice = "dropped; --set duplicates=keep keeps them"
    else:
        advice = "kept: a text in both training and validation or test inflates their scores"
    print(f"{source}: {len(repeats)} repeated texts ({conflicting} with another label than "
          f"their first copy; first at {places}) {advice}", file=sys.stderr)
    return keep


def shared_texts(train: np.ndarray, test: np.ndarray, source: str) -> np.ndarray:
    """Mask of the ``test`` texts also in ``train`` (reported on stderr), to drop them."""
    known = {_key(text) for text in train}
    shared = np.array([_key(text) in known for text in test], dtype=bool)
    if shared.any():
        print(f"{source}: {int(shared.sum())} test texts also in the training data dropped "
              "from the test split", file=sys.stderr)
    return shared
