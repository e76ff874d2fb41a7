"""Pieces every topology builder shares: the input side and the output head."""

from __future__ import annotations

from typing import Any

import keras

from rnn_templates.cells import positive_int, rate, resolve_rnn  # noqa: F401  (re-exported)
from rnn_templates.layers import GradientGate, WordDropout

# How a pretrained embedding trains: see sequence_input.
FREEZE = ("never", "always", "gated", "multichannel")


def sequence_input(
    *,
    vocab_size: int | None,
    input_dim: int | None,
    embedding_dim: int,
    timesteps: int | None = None,
    mask_value: float | None = None,
    batch_size: int | None = None,
    embedding_dropout: float = 0.0,
    word_dropout: float = 0.0,
    pretrained: Any = None,
    freeze: str = "never",
    name: str = "inputs",
    embedding_name: str = "embedding",
    mask_zero: bool = True,
    masking_name: str = "masking",
) -> tuple[Any, Any]:
    """Build the input of a sequence model and its per-step features.

    Token sequences (``vocab_size`` given) enter as int32 ids, 0 meaning
    padding, and go through an ``Embedding`` with ``mask_zero=True``. Real-valued
    sequences (``input_dim`` given) enter as float32 ``(time, input_dim)``;
    with ``mask_value`` set, steps whose features all equal it are masked.
    Padding must be on the right for the mask to stay cuDNN-compatible.
    ``embedding_dropout`` drops whole embedding channels (SpatialDropout1D);
    ``word_dropout`` replaces whole words with the unknown id 1 while training
    (:class:`~rnn_templates.layers.WordDropout`). ``mask_zero=False`` makes id 0
    an ordinary token and attaches no mask: for batches that are never padded
    (fixed windows), where a mask would only send LSTM/GRU to the slow
    per-step loop on the JAX and PyTorch backends.

    ``pretrained`` (a ``(vocab_size, embedding_dim)`` array, e.g. from
    :func:`rnn_templates.embeddings.embedding_matrix`) starts the embedding;
    ``freeze`` keeps it ``"never"`` frozen (fine-tuned from the start),
    ``"always"``, ``"gated"``: frozen until a
    :class:`~rnn_templates.training.OpenGates` callback opens the
    ``<embedding_name>_gate`` layer, or ``"multichannel"``: two copies side
    by side, ``<embedding_name>_static`` frozen and ``<embedding_name>``
    fine-tuned, concatenated (twice the width; Kim, 2014), so fine-tuning
    can move the words seen in training without losing where the unseen ones
    stand.

    Returns:
        ``(input_tensor, features)`` where features is ``(batch, time, width)``.
    """
    if (vocab_size is None) == (input_dim is None):
        raise ValueError(
            "give exactly one of `vocab_size` (token ids in) or `input_dim` (real-valued "
            f"features in); received vocab_size={vocab_size!r}, input_dim={input_dim!r}"
        )
    timesteps = positive_int("timesteps", timesteps, optional=True)
    batch_size = positive_int("batch_size", batch_size, optional=True)
    embedding_dropout = rate("embedding_dropout", embedding_dropout)
    word_dropout = rate("word_dropout", word_dropout)
    if vocab_size is not None:
        vocab_size = positive_int("vocab_size", vocab_size, minimum=2)
        embedding_dim = positive_int("embedding_dim", embedding_dim)
        if mask_value is not None:
            raise ValueError("`mask_value` masks real-valued steps (`input_dim`); token ids "
                             "are masked by `mask_zero` (id 0 is padding)")
        if freeze not in FREEZE:
            raise ValueError(f"`freeze` must be one of {', '.join(map(repr, FREEZE))}; "
                             f"received {freeze!r}")
        if freeze != "never" and pretrained is None:
            raise ValueError(f"`freeze={freeze!r}` needs `pretrained` vectors (a random "
                             "embedding that is frozen never learns)")
        if pretrained is not None:
            import numpy as np

            pretrained = np.asarray(pretrained, dtype="float32")
        inputs = keras.Input((timesteps,), batch_size=batch_size, dtype="int32", name=name)
        ids = inputs
        if word_dropout:
            ids = WordDropout(word_dropout, name=f"{embedding_name}_word_dropout")(ids)
        if pretrained is not None and tuple(pretrained.shape) != (vocab_size, embedding_dim):
            raise ValueError(f"`pretrained` must have shape {(vocab_size, embedding_dim)}; "
                             f"received {tuple(pretrained.shape)}")
        embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=mask_zero, name=embedding_name,
            trainable=freeze != "always",
        )
        features = embedding(ids)
        if pretrained is not None:
            embedding.set_weights([pretrained])
        if freeze == "multichannel":
            static = keras.layers.Embedding(
                vocab_size, embedding_dim, mask_zero=mask_zero,
                name=f"{embedding_name}_static", trainable=False)
            features = keras.layers.Concatenate(name=f"{embedding_name}_channels")(
                [features, static(ids)])
            static.set_weights([pretrained])
        if freeze == "gated":
            features = GradientGate(name=f"{embedding_name}_gate")(features)
        if embedding_dropout:
            features = keras.layers.SpatialDropout1D(
                embedding_dropout, name=f"{embedding_name}_dropout"
            )(features)
        return inputs, features
    input_dim = positive_int("input_dim", input_dim)
    inputs = keras.Input((timesteps, input_dim), batch_size=batch_size, name=name)
    features = inputs
    if mask_value is not None:
        features = keras.layers.Masking(mask_value=mask_value, name=masking_name)(inputs)
    return inputs, features


def output_head(
    x: Any,
    output_dim: int,
    activation: str | None,
    *,
    dropout: float = 0.0,
    name: str = "output_head",
    dropout_option: str = "head_dropout",
) -> Any:
    """Dropout then a Dense layer; applies per step on 3-D input."""
    output_dim = positive_int("output_dim", output_dim)
    dropout = rate(dropout_option, dropout)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.layers.Dense(output_dim, activation=activation, name=name)(x)
