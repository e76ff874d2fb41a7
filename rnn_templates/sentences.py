"""Sentence tokenization for sequence-to-sequence text, in stock TensorFlow ops.

Translation needs more from its tokenizer than classification: the output is
read by people, so tokens must join back into text, and the vocabulary must
hold start and end tokens. Everything here runs inside the model (as a
``TextVectorization`` standardization, or as graph ops in the serving
function), so a SavedModel takes and returns raw strings:

- :func:`standardize` composes decomposed accents (``e`` + U+0301 becomes
  ``é``, what Unicode NFC does for the Latin letters of French, Spanish and
  German), maps typographic apostrophes, quotes and the narrow no-break spaces
  of French typography to plain ones, optionally lower-cases (Unicode-aware),
  and at word level splits punctuation into tokens of its own while keeping
  elisions whole (``j'ai`` -> ``j' ai``, ``l'homme`` -> ``l' homme``) and
  hyphenated words whole (``peut-être``, ``est-ce``);
- :func:`sentence_vectorizer` fits a vocabulary on the training sentences
  with ids 0 padding, 1 unknown, 2 :data:`START` and 3 :data:`END`;
- :func:`detokenize` turns ids back into text: tokens joined, spaces before
  closing punctuation removed, except before the marks French typography
  spaces (``!?:;`` by default);
- :func:`pair_dataset` batches (source, target) id pairs by length for
  teacher forcing.

Character level works the same way with spaces kept as ``▁`` tokens.

Example:
    >>> [t.decode() for t in standardize(tf.constant(["L\u2019e\u0301te\u0301 ?"]),
    ...                                   level="word", lowercase=True).numpy()]
    ["l' été ?"]
"""

from __future__ import annotations

import unicodedata

import keras
import numpy as np
import tensorflow as tf

from rnn_templates.data.pipeline import prefetched

PAD_ID, UNKNOWN_ID, START_ID, END_ID = 0, 1, 2, 3
START, END = "[start]", "[end]"
SPACE = "\u2581"  # stands for a space at character level
LEVELS = ("word", "char")

# Combining marks of the Latin letters in French, Spanish, German, Portuguese
# and Italian: grave, acute, circumflex, tilde, diaeresis, ring, cedilla.
_MARKS = "\u0300\u0301\u0302\u0303\u0308\u030a\u0327"
_COMPOSITIONS = [
    (letter + mark, unicodedata.normalize("NFC", letter + mark))
    for letter in "aceinouyAEIOUCNY" for mark in _MARKS
    if len(unicodedata.normalize("NFC", letter + mark)) == 1
]
_TYPOGRAPHY = [
    ("[\u2018\u2019\u02bc\u00b4`]", "'"),  # curly apostrophes and accents used as them
    ("[\u201c\u201d\u201e\u00ab\u00bb]", '"'),  # curly quotes and guillemets
    ("[\u00a0\u202f\u2009\u2007]", " "),  # no-break, narrow no-break, thin and figure spaces
    ("[\u2013\u2014]", " - "),  # en and em dashes
    ("\u2026", "..."),
    (r"<br\s*/?>|[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]", " "),  # line breaks, controls
]
# Punctuation that becomes a token of its own at word level (not the
# apostrophe or the hyphen inside words).
_PUNCTUATION = r'([.,!?;:"()\[\]{}¿¡/%&*+=<>@#$])'
_LETTER = r"[\p{L}\p{N}]"


def _compose(texts: tf.Tensor) -> tf.Tensor:
    for decomposed, composed in _COMPOSITIONS:
        texts = tf.strings.regex_replace(texts, decomposed, composed)
    return texts


def standardize(texts: tf.Tensor, *, level: str = "word", lowercase: bool = False) -> tf.Tensor:
    """Normalize sentences for tokenization (see the module docstring).

    Args:
        texts: string tensor of any shape.
        level: ``"word"`` (punctuation split off, tokens separated by single
            spaces) or ``"char"`` (spaces become :data:`SPACE`).
        lowercase: Lower-case (Unicode-aware) before tokenizing.

    Returns:
        A string tensor of the same shape.
    """
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {', '.join(map(repr, LEVELS))}; "
                         f"received {level!r}")
    texts = tf.convert_to_tensor(texts, tf.string)
    # Most batches hold no combining mark: skip the composition ops then.
    decomposed = tf.reduce_any(tf.strings.regex_full_match(texts, f"(?s).*[{_MARKS}].*"))
    texts = tf.cond(decomposed, lambda: _compose(texts), lambda: texts)
    for pattern, replacement in _TYPOGRAPHY:
        texts = tf.strings.regex_replace(texts, pattern, replacement)
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if level == "word":
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
        texts = tf.strings.regex_replace(texts, f"({_LETTER})'", r"\1' ")  # elision: j' ai
        texts = tf.strings.regex_replace(texts, r"(\s)'(\S)", r"\1' \2")  # a quote opening
    texts = tf.strings.strip(tf.strings.regex_replace(texts, r"\s+", " "))
    if level == "char":
        texts = tf.strings.regex_replace(texts, " ", SPACE)
    return texts


# TextVectorization saves its standardization by registered name, so each
# variant is a named function.
@keras.saving.register_keras_serializable(package="rnn_templates")
def standardize_words(texts: tf.Tensor) -> tf.Tensor:
    """:func:`standardize` at word level, case kept."""
    return standardize(texts, level="word", lowercase=False)


@keras.saving.register_keras_serializable(package="rnn_templates")
def standardize_words_lower(texts: tf.Tensor) -> tf.Tensor:
    """:func:`standardize` at word level, lower-cased."""
    return standardize(texts, level="word", lowercase=True)


@keras.saving.register_keras_serializable(package="rnn_templates")
def standardize_chars(texts: tf.Tensor) -> tf.Tensor:
    """:func:`standardize` at character level, case kept."""
    return standardize(texts, level="char", lowercase=False)


@keras.saving.register_keras_serializable(package="rnn_templates")
def standardize_chars_lower(texts: tf.Tensor) -> tf.Tensor:
    """:func:`standardize` at character level, lower-cased."""
    return standardize(texts, level="char", lowercase=True)


_STANDARDIZERS = {("word", False): standardize_words, ("word", True): standardize_words_lower,
                  ("char", False): standardize_chars, ("char", True): standardize_chars_lower}


def token_counts(texts, *, level: str = "word", lowercase: bool = False) -> np.ndarray:
    """How many tokens :func:`sentence_vectorizer`'s standardization and split make of each text.

    Example:
        >>> token_counts(["Il pleut.", "Qui ?"]).tolist()
        [3, 2]
    """
    standardized = _STANDARDIZERS[(level, bool(lowercase))](
        tf.constant(np.asarray(texts, dtype=object).astype(str)))
    tokens = (tf.strings.unicode_split(standardized, "UTF-8") if level == "char"
              else tf.strings.split(standardized))
    return tokens.row_lengths().numpy()


def sentence_vectorizer(
    texts: np.ndarray | list[str],
    *,
    level: str = "word",
    lowercase: bool = False,
    max_tokens: int = 10000,
    max_length: int | None = None,
    name: str = "vectorizer",
) -> keras.layers.TextVectorization:
    """A vocabulary of the most frequent tokens of ``texts`` (the training split).

    Ids: 0 padding, 1 unknown, 2 :data:`START`, 3 :data:`END`, then tokens by
    frequency. Standardized text never produces the start and end tokens
    (brackets are split off as punctuation).

    Args:
        texts: Training sentences.
        level: ``"word"`` or ``"char"``.
        lowercase: Lower-case before tokenizing.
        max_tokens: Vocabulary size, the four reserved ids included.
        max_length: Pad or cut every sentence to this many ids; ``None``
            pads each batch to its longest sentence.
        name: Layer name.

    Example:
        >>> v = sentence_vectorizer(["Il pleut.", "Il neige !"], max_tokens=20)
        >>> [str(token) for token in v.get_vocabulary()[:5]]
        ['', '[UNK]', '[start]', '[end]', 'Il']
    """
    if max_tokens < 5:
        raise ValueError(f"`max_tokens` must be at least 5 (4 reserved ids); received {max_tokens}")
    standardize_fn = _STANDARDIZERS[(level, bool(lowercase))]
    split = "character" if level == "char" else "whitespace"
    counter = keras.layers.TextVectorization(
        max_tokens=max_tokens - 2, standardize=standardize_fn, split=split)
    counter.adapt(tf.constant(np.asarray(texts, dtype=object).astype(str)), batch_size=2048)
    words = [w for w in counter.get_vocabulary()[2:] if w not in (START, END)]
    return keras.layers.TextVectorization(
        standardize=standardize_fn, split=split, vocabulary=[START, END, *words],
        output_sequence_length=max_length, name=name)


def sentence_ids(vectorizer: keras.layers.TextVectorization, texts) -> np.ndarray:
    """Token ids ``(n, longest)`` int32, right-padded with 0 (the vectorizer's length if fixed)."""
    texts = np.asarray(texts, dtype=object).astype(str)
    chunks = [np.asarray(vectorizer(tf.constant(texts[start:start + 4096])), dtype="int32")
              for start in range(0, len(texts), 4096)]
    if not chunks:
        return np.zeros((0, 1), dtype="int32")
    width = max(max(chunk.shape[1] for chunk in chunks), 1)
    return np.concatenate([np.pad(chunk, ((0, 0), (0, width - chunk.shape[1])))
                           for chunk in chunks])


def detokenize(
    ids: tf.Tensor,
    vocabulary: list[str] | tf.Tensor,
    *,
    level: str = "word",
    spaced_punctuation: str = "!?:;",
) -> tf.Tensor:
    """Text from ids ``(batch, time)``: everything from the end token on is dropped.

    Args:
        ids: int ids, as returned by a search (the end token, then padding).
        vocabulary: The target vectorizer's vocabulary.
        level: ``"word"`` or ``"char"``.
        spaced_punctuation: Marks that keep a space before them (French
            typography); others attach to the preceding word.

    Returns:
        string ``(batch,)``.
    """
    vocabulary = tf.convert_to_tensor(vocabulary, tf.string)
    ids = tf.convert_to_tensor(ids)
    ended = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=-1) > 0
    # Padding, start and end print as nothing.
    hidden = tf.logical_or(ended, tf.reduce_any(
        tf.equal(ids[..., None], tf.constant([PAD_ID, START_ID, END_ID], ids.dtype)), axis=-1))
    tokens = tf.where(hidden, "", tf.gather(vocabulary, ids))
    if level == "char":
        text = tf.strings.reduce_join(tokens, axis=-1)
        return tf.strings.strip(tf.strings.regex_replace(text, SPACE, " "))
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))
    for pattern, replacement in _REJOINED:
        text = tf.strings.regex_replace(text, pattern, replacement)
    attached = "".join(c for c in ".,!?;:)]}%" if c not in spaced_punctuation)
    if attached:
        text = tf.strings.regex_replace(text, f" ([{_escape(attached)}])", r"\1")
    text = tf.strings.regex_replace(text, r"([(\[{¿¡]) ", r"\1")
    for pattern, replacement in _NUMBERS_AND_ABBREVIATIONS:
        text = tf.strings.regex_replace(text, pattern, replacement)
    # Straight quotes, in pairs from the left: the opening one before its first word,
    # the closing one after its last.
    return tf.strings.regex_replace(text, r'" ([^"]*?) "', r'"\1"')


_NOT_WORD = r"(^|[^\p{L}\p{N}])"
# What standardize split at an apostrophe, joined again: an elision (French l', qu',
# aujourd'hui) or a contraction (don't, it's, I'm); a possessive ("doctors' advice") or
# a closing quote keeps the space before the next word, and an opening quote loses the
# one after it.
_ELIDED = (_NOT_WORD + r"([CcDdJjLlMmNnSsTtOo]|[Qq]u|[Jj]usqu|[Ll]orsqu|[Pp]uisqu|[Qq]uoiqu|"
           r"[Pp]resqu|[Qq]uelqu|[Aa]ujourd|[Pp]rud|[Ee]ntr)' ", r"\1\2'")
_REJOINED = [
    _ELIDED, _ELIDED,  # twice: d'aujourd'hui
    (r"(\p{L})' ([SsTtDdMm]|re|ll|ve)([^\p{L}\p{N}]|$)", r"\1'\2\3"),
    (r"(^| )' ", r"\1'"),
]
# Punctuation inside a number (11:30, 3.5, 10,000), a currency sign before one ($5),
# a slash between words (and/or) and initials (U.S., a.m.) take no spaces. Applied twice,
# since a match cannot overlap the one before it (1,000,000; U.S.A.).
_NUMBERS_AND_ABBREVIATIONS = 2 * [
    (r"(\p{N}) ?: (\p{N}{2})([^\p{N}]|$)", r"\1:\2\3"),  # a time: 11:30, not 3 : 2
    (r"(\p{N})\. (\p{N})", r"\1.\2"),
    (_NOT_WORD + r"(\p{N}{1,3}), (\p{N}{3})([^\p{N}]|$)", r"\1\2,\3\4"),
    (r"([$€£]) (\p{N})", r"\1\2"),
    (r"(\S) / (\S)", r"\1/\2"),
    (r"(^|[^\p{L}])(\p{L})\. (\p{L})\.", r"\1\2.\3."),
]


def _escape(characters: str) -> str:
    return "".join("\\" + c if c in r"\]^-[" else c for c in characters)


def pair_dataset(
    sources: list[np.ndarray],
    targets: list[np.ndarray],
    batch_size: int,
    *,
    num_buckets: int = 1,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """Teacher-forcing batches ``((source, decoder_input), decoder_target, weights)``.

    ``sources`` and ``targets`` are right-padded id arrays (from
    :func:`sentence_ids`) or lists of unpadded id arrays.

    The decoder reads ``[START] + target`` and predicts ``target + [END]``;
    ``weights`` is 1 on real target steps and 0 on padding, so padding never
    counts in the loss. Pairs are grouped by source length into
    ``num_buckets`` buckets, each batch padded to its own longest sentence.

    Args:
        sources: Source ids per pair.
        targets: Target ids per pair.
        batch_size: Pairs per batch.
        num_buckets: Length buckets (1 = plain batching).
        shuffle_seed: Shuffle the pairs every epoch with this seed; ``None``
            keeps the order (validation).
    """
    if len(sources) != len(targets):
        raise ValueError(f"`sources` and `targets` differ in length: {len(sources)} and "
                         f"{len(targets)}")
    if not len(sources):
        raise ValueError("no pairs to batch")
    def padded(rows, before=(), after=()):
        rows = [[*before, *(t for t in row if t != PAD_ID), *after] for row in rows]
        lengths = np.array([len(row) for row in rows], dtype="int32")
        array = np.zeros((len(rows), max(lengths.max(), 1)), dtype="int32")
        for index, row in enumerate(rows):
            array[index, : len(row)] = row
        return array, lengths

    source, source_lengths = padded(sources)
    decoder_in, target_lengths = padded(targets, before=(START_ID,))
    decoder_out, _ = padded(targets, after=(END_ID,))
    dataset = tf.data.Dataset.from_tensor_slices(
        (source, source_lengths, decoder_in, decoder_out, target_lengths))
    # Each pair keeps only its own steps; a batch is padded to its longest.
    dataset = dataset.map(lambda s, n, i, o, m: (s[: tf.maximum(n, 1)], i[:m], o[:m]))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(sources), seed=shuffle_seed, reshuffle_each_iteration=True)
    boundaries = sorted({int(q) + 1 for q in np.quantile(
        source_lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])}) if num_buckets > 1 else []
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda s, _i, _o: tf.shape(s)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    dataset = dataset.map(lambda s, i, o: ((s, i), o, tf.cast(o != PAD_ID, tf.float32)))
    return prefetched(dataset)


def fit_pair_vectorizers(sources, targets, *, level: str, lowercase_source: bool,
                         lowercase_target: bool, source_tokens: int, target_tokens: int):
    """The source and target vectorizers of a translator, fitted on its training pairs.

    The source vectorizer reads up to twice the longest training source (at least
    8 tokens) and drops the rest. Returns ``(source_vectorizer, target_vectorizer,
    source_length, longest_target)``: the tokens the source vectorizer reads and
    the longest training target in tokens.
    """
    target_vectorizer = sentence_vectorizer(targets, level=level, lowercase=lowercase_target,
                                            max_tokens=target_tokens, name="target_vectorizer")
    longest_target = sentence_ids(target_vectorizer, targets).shape[1]
    sample = sentence_vectorizer(sources[:2000], level=level, lowercase=lowercase_source,
                                 max_tokens=source_tokens)
    source_length = 2 * max(sentence_ids(sample, sources).shape[1], 8)
    source_vectorizer = sentence_vectorizer(sources, level=level, lowercase=lowercase_source,
                                            max_tokens=source_tokens, max_length=source_length,
                                            name="source_vectorizer")
    return source_vectorizer, target_vectorizer, source_length, longest_target
