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

from apps.translation.config import TranslationConfig
from rnn_templates import build_seq2seq
from rnn_templates.sentence_decoding import ValidationBleu, padded_ids
from rnn_templates.sentences import pair_dataset
from rnn_templates.training import SmoothedSparseCrossentropy, compile_model
from rnn_templates.tuning import choice, float_around


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
        grid = c.tuner == "grid"  # each float: its configured value and one step either side
        rnn = dict(
            cell=choice(hp, "cell", ["lstm", "gru"], c.cell),
            units=choice(hp, "units", [128, 256, 512], c.units),
            num_layers=hp.Int("num_layers", 1, max(2, c.num_layers), default=c.num_layers),
            bidirectional=hp.Boolean("bidirectional", default=c.bidirectional),
            dropout=float_around(hp, "dropout", 0.0, 0.4, c.dropout, step=0.1, grid=grid),
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
            dropout=float_around(hp, "head_dropout", 0.0, 0.5, c.head_dropout, step=0.1,
                                 grid=grid),
            output_activation=None,  # logits: the search takes log_softmax itself
            name="translation_core",
        )
        return compile_model(
            model,
            loss=SmoothedSparseCrossentropy(c.label_smoothing) if c.label_smoothing
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            learning_rate=float_around(hp, "learning_rate", 3e-4, 1e-2, c.learning_rate,
                                       sampling="log", grid=grid),
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
        validation_data = (None if validation is None  # refitted on train + validation
                           else pair_dataset(*validation, 256, num_buckets=c.num_buckets))
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False  # the dataset shuffles itself, every epoch
        callbacks = list(callbacks or [])
        if self.needs_bleu() and validation is not None:
            if self.references is None or self.artifacts is None:
                raise ValueError("val_bleu needs the validation references and the run's "
                                 "artifacts: TranslationHyperModel(..., references=, artifacts=)")
            callbacks.insert(0, ValidationBleu(padded_ids(validation[0]), self.references,
                                               self.artifacts))
        return model.fit(train_data, *args, validation_data=validation_data,
                         callbacks=callbacks, **kwargs)

    def needs_bleu(self) -> bool:
        """Whether early stopping or the search's objective reads ``val_bleu``."""
        c = self.config
        return "val_bleu" in (c.monitor, c.tuning_objective.partition(":")[0])

