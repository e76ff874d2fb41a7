"""The music HyperModel: pitch embedding -> recurrent stack -> softmax over pitches.

An aligned many-to-many language model over a window of notes (chords
flattened voice by voice): at every position it predicts the next note.
Windows are never padded, so the embedding attaches no mask and LSTM/GRU keep
their fused kernels on every backend. ``build(HyperParameters())`` is the
configured model; a search varies the cell, width, depth, embedding, dropout
and learning rate.
"""

from __future__ import annotations

import keras
import keras_tuner
import tensorflow as tf

from apps.music.config import MusicConfig
from rnn_templates.cells import RecurrentConfig
from rnn_templates.data.pipeline import prefetched
from rnn_templates.data.shuffle import EpochShuffle
from rnn_templates.note_events import build_event_model
from rnn_templates.topologies import build_many_to_many
from rnn_templates.training import compile_model
from rnn_templates.tuning import choice, float_around

LM_NAME = "music_lm"


class MusicHyperModel(keras_tuner.HyperModel):
    def __init__(self, config: MusicConfig, vocab_size: int):
        super().__init__(name="music")
        self.config = config
        self.vocab_size = vocab_size

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        c = self.config
        rnn = dict(
            cell=choice(hp, "cell", ["lstm", "gru"], c.cell),
            units=choice(hp, "units", [64, 128, 256], c.units),
            num_layers=hp.Int("num_layers", 1, max(3, c.num_layers), default=c.num_layers),
            dropout=choice(hp, "dropout", [0.0, 0.1, 0.2, 0.3], c.dropout),
            activation=c.activation, recurrent_dropout=c.recurrent_dropout,
        )
        embedding_dim = choice(hp, "embedding_dim", [8, 16, 32], c.embedding_dim)
        learning_rate = float_around(hp, "learning_rate", 5e-4, 5e-3, c.learning_rate,
                                     sampling="log", grid=c.tuner == "grid")
        options = dict(learning_rate=learning_rate, clipnorm=c.clipnorm or None,
                       weight_decay=c.weight_decay)
        if c.representation == "events":
            model = build_event_model(self.vocab_size, embedding_dim, RecurrentConfig(**rnn),
                                      c.head_dropout, LM_NAME)
            # Step and duration in quarter notes: squared errors of the order of the
            # pitch's cross-entropy, so no output drowns the others.
            return compile_model(
                model, loss={"pitch": "sparse_categorical_crossentropy", "step": "mse",
                             "duration": "mse"},
                metrics={"pitch": ["accuracy"]}, **options)
        model = build_many_to_many(
            self.vocab_size, vocab_size=self.vocab_size, mask_zero=False,
            embedding_dim=embedding_dim, rnn=rnn, head_dropout=c.head_dropout,
            output_activation="softmax", name=LM_NAME)
        return compile_model(model, loss="sparse_categorical_crossentropy",
                             metrics=["accuracy"], **options)

    def fit(self, hp, model, train, validation, *args, callbacks=None, **kwargs):
        """Train on ``train=(notes, next_notes)`` windows, validating on ``validation``."""
        c = self.config
        # The order of each epoch depends on (seed, epoch) only: a resumed run repeats it.
        shuffle = EpochShuffle(c.seed)
        notes, targets = (tf.nest.map_structure(tf.constant, a) for a in train)

        def gather(indices):
            return tf.nest.map_structure(lambda t: tf.gather(t, indices), (notes, targets))

        train_ds = prefetched(shuffle.indices(len(tf.nest.flatten(train[1])[0]))
                              .batch(c.batch_size).map(gather))
        val_ds = (None if validation is None  # refitted on train + validation
                  else prefetched(tf.data.Dataset.from_tensor_slices(validation).batch(256)))
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False
        return model.fit(train_ds, *args, validation_data=val_ds,
                         callbacks=[shuffle, *(callbacks or [])], **kwargs)
