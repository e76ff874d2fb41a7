"""Translation model: an encoder-decoder over token ids with attention, and its search space.

The core is :func:`rnn_templates.build_seq2seq` trained with teacher forcing:
``[source ids, START + target ids] -> logits of target + END``. The app
wraps it with the source vectorizer so the saved model reads raw source
strings; decoding (greedy or beam search) runs outside the core through
:mod:`rnn_templates.search`.
"""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from apps.translation.config import TranslationConfig
from rnn_templates import build_seq2seq
from rnn_templates.search import beam_search, decode_in_batches, greedy_search, keras_step
from rnn_templates.sentences import END_ID, START_ID, detokenize, pair_dataset
from rnn_templates.topologies import seq2seq_inference_models
from rnn_templates.training import SmoothedSparseCrossentropy, compile_model
from rnn_templates.tuning import choice, float_around


def id_decoder(core: keras.Model, artifacts: dict[str, Any]):
    """``decode(source ids, beam_width or None, stop_early) -> dict`` over ``core``'s layers.

    ``source ids`` are ``(batch, time)``, right-padded with 0. The dict holds
    the ``translation`` strings, their ``score`` and ``length``. The step
    models share ``core``'s weights, so a decoder made before training
    translates with the weights of the moment.
    """
    encoder, decoder_step = seq2seq_inference_models(core)
    step = keras_step(decoder_step, len(encoder.outputs) - 2)
    vocabulary = tf.constant(artifacts["target_vocabulary"])
    search = {"start_token": START_ID, "end_token": END_ID,
              "max_length": artifacts["max_output_length"]}

    def decode(ids, beam_width=None, stop_early=True):
        memory, mask, *states = encoder(ids, training=False)
        if beam_width is None:
            result = greedy_search(step, states, [memory, mask], **search)
        else:
            result = beam_search(step, states, [memory, mask], beam_width=beam_width,
                                 length_penalty=artifacts["length_penalty"],
                                 stop_early=stop_early, **search)
        translation = detokenize(result.tokens, vocabulary, level=artifacts["level"],
                                 spaced_punctuation=artifacts["spaced_punctuation"])
        return {"translation": translation, "score": result.scores, "length": result.lengths}

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
        lengths = np.maximum((self.source_ids > 0).sum(axis=1), 1)

        def translate(rows: list[int]) -> list[str]:
            ids = self.source_ids[rows, : int(lengths[rows].max())]
            return [t.decode("utf-8") for t in self._decode(tf.constant(ids)).numpy()]

        translations = decode_in_batches(translate, list(range(len(self.references))),
                                         rows=self.rows, length=lambda row: lengths[row])
        logs["val_bleu"] = sacrebleu.corpus_bleu(
            translations, [self.references],
            lowercase=self.artifacts["lowercase_target"]).score


class TranslationHyperModel(keras_tuner.HyperModel):
    """Search space for the translator, with the config as its defaults.

    ``build(keras_tuner.HyperParameters())`` is exactly the configured model.

    Args:
        config: Defaults for every hyperparameter.
        source_vocab_size: Size of the fitted source vocabulary.
        target_vocab_size: Size of the fitted target vocabulary.
    """

    def __init__(self, config: TranslationConfig, source_vocab_size: int,
                 target_vocab_size: int, *, references: list[str] | None = None,
                 artifacts: dict[str, Any] | None = None):
        super().__init__(name="translation")
        self.config = config
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.references = references
        self.artifacts = artifacts

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        c = self.config
        rnn = dict(
            cell=choice(hp, "cell", ["lstm", "gru"], c.cell),
            units=choice(hp, "units", [128, 256, 512], c.units),
            num_layers=hp.Int("num_layers", 1, max(2, c.num_layers), default=c.num_layers),
            bidirectional=hp.Boolean("bidirectional", default=c.bidirectional),
            dropout=float_around(hp, "dropout", 0.0, 0.4, c.dropout, step=0.1),
            recurrent_dropout=c.recurrent_dropout,
            activation=c.activation,
        )
        attention = choice(hp, "attention", ["luong", "bahdanau", "none"], c.attention)
        model = build_seq2seq(
            self.target_vocab_size,
            source_vocab_size=self.source_vocab_size,
            target_vocab_size=self.target_vocab_size,
            embedding_dim=choice(hp, "embedding_dim", [64, 128, 256], c.embedding_dim),
            rnn=rnn,
            attention=None if attention == "none" else attention,
            dropout=float_around(hp, "head_dropout", 0.0, 0.5, c.head_dropout, step=0.1),
            output_activation=None,  # logits: the search takes log_softmax itself
            name="translation_core",
        )
        return compile_model(
            model,
            loss=SmoothedSparseCrossentropy(c.label_smoothing) if c.label_smoothing
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            learning_rate=float_around(hp, "learning_rate", 3e-4, 1e-2, c.learning_rate,
                                 sampling="log"),
            clipnorm=c.clipnorm or None,
            weight_decay=c.weight_decay,
        )

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> int:
        """The batch size: tuned in ``fit``, declared up front so every worker samples it."""
        c = self.config
        return choice(hp, "batch_size", [32, 64, 128], c.batch_size)

    def fit(self, hp, model, train, validation, *args, callbacks=None, **kwargs):
        """Train on ``train=(source ids, target ids)`` (lists of id arrays), validating too.

        The batch size is tuned here because it shapes the dataset, not the model.
        """
        c = self.config
        batch_size = self.declare_hyperparameters(hp)
        train_data = pair_dataset(*train, batch_size, num_buckets=c.num_buckets,
                                  shuffle_seed=c.seed)
        validation_data = pair_dataset(*validation, 256, num_buckets=c.num_buckets)
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False  # the dataset shuffles itself, every epoch
        callbacks = list(callbacks or [])
        if self.needs_bleu():
            if self.references is None or self.artifacts is None:
                raise ValueError("val_bleu needs the validation references and the run's "
                                 "artifacts: TranslationHyperModel(..., references=, artifacts=)")
            callbacks.insert(0, ValidationBleu(_padded(validation[0]), self.references,
                                               self.artifacts))
        return model.fit(train_data, *args, validation_data=validation_data,
                         callbacks=callbacks, **kwargs)

    def needs_bleu(self) -> bool:
        """Whether early stopping or the search's objective reads ``val_bleu``."""
        c = self.config
        return "val_bleu" in (c.monitor, c.tuning_objective.partition(":")[0])


def _padded(rows) -> np.ndarray:
    """Id sequences (an array, or a list of arrays) as one right-padded array."""
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        return rows
    rows = [np.asarray(row) for row in rows]
    width = max((len(row) for row in rows), default=1)
    return np.stack([np.pad(row, (0, width - len(row))) for row in rows]) if rows else \
        np.zeros((0, 1), dtype="int32")
