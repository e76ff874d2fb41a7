"""Sentence-to-sentence decoding over a trained :func:`~rnn_templates.build_seq2seq` core.

A text encoder-decoder saved for serving reads raw source strings: a
``TextVectorization`` layer named ``source_vectorizer``, a
:class:`~rnn_templates.layers.TrimPadding` named ``trim_padding``, then the
core, named ``translation_core``, over ``[source ids, decoder ids]``. Its
*artifacts* say how to write the output: ``target_vocabulary``, ``level``,
``spaced_punctuation``, ``max_output_length``, ``length_penalty`` and
``lowercase_target``. Here:

- :func:`id_decoder` and :func:`text_decoder`: greedy and beam search
  (:mod:`rnn_templates.search`) from ids or from strings to strings, as
  TensorFlow ops (what a SavedModel signature exports);
- :func:`translate`: many sentences through a compiled search, in batches of
  similar length, by one model or an ensemble of several;
- :func:`attention_maps`: the attention of every output token;
- :class:`ValidationBleu`: the validation BLEU after every epoch, for early
  stopping to watch.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_templates.search import (
    attention_trace,
    beam_search,
    decode_in_batches,
    ensemble_step,
    greedy_search,
    keras_step,
)
from rnn_templates.sentences import END_ID, START_ID, detokenize
from rnn_templates.topologies import seq2seq_inference_models

SOURCE_VECTORIZER, TRIM, CORE = "source_vectorizer", "trim_padding", "translation_core"
TEXT = tf.TensorSpec([None], tf.string, name="text")


def strings(tensor: tf.Tensor) -> list[str]:
    """A string tensor's values as Python strings."""
    return [t.decode("utf-8") for t in tensor.numpy()]


def _member(core: keras.Model):
    """(encoder, step function) of one trained core."""
    encoder, decoder_step = seq2seq_inference_models(core)
    return encoder, keras_step(decoder_step, len(encoder.outputs) - 2)


def _search(steps, states, context, artifacts, beam_width, stop_early) -> dict:
    """Greedy or beam search over one member's step, or over several members' mean."""
    if len(steps) == 1:
        step, states, context = steps[0], states[0], context[0]
    else:
        step = ensemble_step(steps)
    search = {"start_token": START_ID, "end_token": END_ID,
              "max_length": artifacts["max_output_length"]}
    if beam_width is None:
        result = greedy_search(step, states, context, **search)
    else:
        result = beam_search(step, states, context, beam_width=beam_width,
                             length_penalty=artifacts["length_penalty"],
                             stop_early=stop_early, **search)
    translation = detokenize(result.tokens, tf.constant(artifacts["target_vocabulary"]),
                             level=artifacts["level"],
                             spaced_punctuation=artifacts["spaced_punctuation"])
    # A sentence that never emitted the end token was stopped at max_output_length.
    ended = tf.reduce_any(tf.equal(result.tokens, END_ID), axis=-1)
    return {"translation": translation, "score": result.scores, "length": result.lengths,
            "ended": ended}


def id_decoder(core: keras.Model, artifacts: dict[str, Any]):
    """``decode(source ids, beam_width or None, stop_early) -> dict`` over ``core``'s layers.

    ``source ids`` are ``(batch, time)``, right-padded with 0. The dict holds
    the ``translation`` strings, their ``score``, ``length`` and whether they
    ``ended`` (False: stopped at ``max_output_length``). The step
    models share ``core``'s weights, so a decoder made before training
    translates with the weights of the moment.
    """
    encoder, step = _member(core)

    def decode(ids, beam_width=None, stop_early=True):
        memory, mask, *states = encoder(ids, training=False)
        return _search([step], [states], [[memory, mask]], artifacts, beam_width, stop_early)

    return decode


class ValidationBleu(keras.callbacks.Callback):
    """Logs ``val_bleu``, the greedy BLEU (sacreBLEU) of the validation pairs, after each epoch.

    It must come first among ``fit``'s callbacks, so that early stopping,
    checkpoints, the run's history and the progress line find the value in
    the epoch's logs.

    Args:
        source_ids: The validation sources as ids ``(n, time)``, right-padded with 0.
        references: Their translations as written (the data's strings).
        artifacts: The run's artifacts (vocabulary, detokenizing, output length).
        rows: Sentences decoded per call.
    """

    def __init__(self, source_ids: np.ndarray, references: list[str],
                 artifacts: dict[str, Any], rows: int = 256):
        super().__init__()
        self.source_ids = np.asarray(source_ids, dtype="int32")
        self.references = [str(reference) for reference in references]
        if len(self.source_ids) != len(self.references):
            raise ValueError(f"{len(self.source_ids)} validation sources but "
                             f"{len(self.references)} references")
        self.lengths = np.maximum((self.source_ids > 0).sum(axis=1), 1)
        self.artifacts = artifacts
        self.rows = rows
        self._decode = None

    def on_train_begin(self, logs=None):
        decode = id_decoder(self.model, self.artifacts)
        self._decode = tf.function(lambda ids: decode(ids)["translation"],
                                   input_signature=[tf.TensorSpec([None, None], tf.int32)],
                                   autograph=False)

    def on_epoch_end(self, epoch, logs=None):
        import sacrebleu

        if logs is None or not self.references:
            return
        def translate(rows: list[int]) -> list[str]:
            return strings(self._decode(tf.constant(
                self.source_ids[rows, : int(self.lengths[rows].max())])))

        translations = decode_in_batches(translate, list(range(len(self.references))),
                                         rows=self.rows, length=lambda row: self.lengths[row])
        logs["val_bleu"] = sacrebleu.corpus_bleu(
            translations, [self.references],
            lowercase=self.artifacts["lowercase_target"]).score


def ensemble_artifacts(artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    """One set of decoding artifacts for several models that decode together.

    They must write the same tokens the same way (target vocabulary, level,
    case, punctuation spacing); the longest output any of them allows is
    kept. Raises ``ValueError`` naming the first difference.
    """
    first = artifacts[0]
    for number, other in enumerate(artifacts[1:], start=2):
        for key in ("target_vocabulary", "level", "lowercase_target", "spaced_punctuation"):
            if other[key] != first[key]:
                raise ValueError(
                    f"model {number} of the ensemble has another {key} than model 1: members "
                    "must be trained with the same target settings on the same training pairs "
                    "(vary the seed; keep split_seed)")
    return {**first, "max_output_length": max(a["max_output_length"] for a in artifacts)}


def text_decoder(model: keras.Model | list[keras.Model], artifacts: dict[str, Any]):
    """``decode(texts, beam_width or None, stop_early) -> dict`` over a serving model's layers.

    ``model`` may be a list of serving models: an ensemble, each member
    reading the texts with its own source vocabulary and carrying its own
    decoder states, the search following their mean next-token probabilities
    (:func:`~rnn_templates.search.ensemble_step`); ``artifacts`` then come
    from :func:`ensemble_artifacts`.
    """
    models = list(model) if isinstance(model, list | tuple) else [model]
    members = [(m.get_layer(SOURCE_VECTORIZER), m.get_layer(TRIM), *_member(m.get_layer(CORE)))
               for m in models]

    def decode(texts, beam_width=None, stop_early=True):
        states, context = [], []
        for vectorizer, trim, encoder, _ in members:
            memory, mask, *member_states = encoder(trim(vectorizer(texts)), training=False)
            states.append(member_states)
            context.append([memory, mask])
        return _search([step for *_, step in members], states, context, artifacts, beam_width,
                       stop_early)

    return decode


# model -> {(beam width, stop early, the other members' ids): (the artifacts given, the
# compiled search)}; entries go with the model.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def translate(model: keras.Model | list[keras.Model],
              artifacts: dict[str, Any] | list[dict[str, Any]], texts: list[str], *,
              beam_width: int | None = None, batch_size: int = 256,
              stop_early: bool = True,
              return_ended: bool = False) -> list[str] | tuple[list[str], list[bool]]:
    """Translations of ``texts`` by a trained model: greedy, or beam search of ``beam_width``.

    The search is compiled (a ``tf.function``) on the first call for a model,
    its artifacts and a beam width, and reused by later calls. Sentences go
    through it in batches of similar length (fewer padded source words, and a
    batch stops as soon as its own sentences have ended), ``batch_size``
    decoder rows at a time: ``batch_size`` sentences for greedy decoding,
    ``batch_size // beam_width`` for beam search, which carries ``beam_width``
    rows per sentence, so a wider beam does not take more memory. The
    translations come back in the order of ``texts``. ``stop_early=False``
    runs the beam search until every beam has ended (see
    :func:`rnn_templates.search.beam_search`); the best beam is the same.

    A list of models with the list of their artifacts decodes as one
    ensemble (:func:`text_decoder`): models trained with different seeds on
    the same pairs (``split_seed``) usually translate better together than
    any of them alone.

    ``return_ended=True`` also returns, per text, whether its translation ended
    (False: it stopped at ``max_output_length`` tokens, cut short).
    """
    models = list(model) if isinstance(model, list | tuple) else [model]
    given = list(artifacts) if isinstance(artifacts, list | tuple) else [artifacts]
    if len(given) != len(models):
        raise ValueError(f"{len(models)} models but {len(given)} artifacts")
    width = None if beam_width in (None, 1) else beam_width
    key = (width, bool(stop_early), *map(id, models[1:]))
    cached = _COMPILED.setdefault(models[0], {}).get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], given, strict=True)):
        compiled = cached[1]
    else:
        decode = text_decoder(models if len(models) > 1 else models[0],
                              ensemble_artifacts(given))
        compiled = tf.function(lambda t: _translation_ended(decode(t, width, stop_early)),
                               input_signature=[TEXT], autograph=False)
        _COMPILED[models[0]][key] = (tuple(given), compiled)

    def run(chunk: list[str]) -> list[tuple[str, bool]]:
        translations, ended = compiled(tf.constant(chunk))
        return list(zip(strings(translations), np.asarray(ended).tolist(), strict=True))

    results = decode_in_batches(run, [str(text) for text in texts], rows=batch_size,
                                rows_per_item=width or 1, length=lambda text: len(text.split()))
    translations = [translation for translation, _ in results]
    return (translations, [bool(ended) for _, ended in results]) if return_ended else translations


def _translation_ended(result: dict[str, Any]) -> tuple[Any, Any]:
    return result["translation"], result["ended"]


def attention_maps(model: keras.Model, artifacts: dict[str, Any], texts: list[str]) -> list:
    """Greedy translations of ``texts`` with the attention weights of every output token."""
    core = model.get_layer(CORE)
    try:
        encoder, decoder_step = seq2seq_inference_models(core, return_attention=True)
    except ValueError:
        return []  # a model without attention
    vectorizer = model.get_layer(SOURCE_VECTORIZER)
    source_vocabulary = vectorizer.get_vocabulary()
    target_vocabulary = artifacts["target_vocabulary"]
    maps = []
    for text in texts:
        ids = model.get_layer(TRIM)(vectorizer(tf.constant([text])))
        emitted, rows = attention_trace(encoder, decoder_step, ids, start_token=START_ID,
                                        end_token=END_ID,
                                        max_length=artifacts["max_output_length"])
        source_tokens = [str(source_vocabulary[i]) for i in np.asarray(ids)[0] if i]
        maps.append({"source": text, "source_tokens": source_tokens,
                     "target_tokens": [target_vocabulary[t] if t != END_ID else "[end]"
                                       for t in emitted],
                     "weights": [row[: len(source_tokens)] for row in rows]})
    return maps


def padded_ids(rows) -> np.ndarray:
    """Id sequences (an array, or a list of arrays) as one right-padded array."""
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        return rows
    rows = [np.asarray(row) for row in rows]
    width = max((len(row) for row in rows), default=1)
    return np.stack([np.pad(row, (0, width - len(row))) for row in rows]) if rows else \
        np.zeros((0, 1), dtype="int32")
