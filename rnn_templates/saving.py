"""Reloading saved models: every class the library registers with Keras, then ``load_model``.

Keras finds a custom layer in a ``.keras`` file only once the module that
registers it has been imported. ``import rnn_templates`` imports none of them
(the builders load Keras on first use), so a script that only reloads a model
would fail on its first library layer; :func:`load_model` imports them all
first.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import keras

# Every module holding a ``register_keras_serializable`` class.
REGISTERING_MODULES = (
    "rnn_templates.layers",
    "rnn_templates.ensemble",
    "rnn_templates.topologies.forecast",
    "rnn_templates.text",
    "rnn_templates.training",
    "rnn_templates.sentences",
    "rnn_templates.pitch_tokens",
)


def register_all() -> None:
    """Import every module that registers a class, so Keras can deserialize it."""
    for module in REGISTERING_MODULES:
        importlib.import_module(module)


def load_model(path: str | os.PathLike, **kwargs: Any) -> keras.Model:
    """``keras.saving.load_model`` for a model that uses the library's layers.

    Example:
        >>> import tempfile, rnn_templates as rt
        >>> model = rt.build_many_to_one(2, vocab_size=10, pooling="mean")
        >>> path = tempfile.mkdtemp() + "/model.keras"
        >>> model.save(path)
        >>> type(rt.load_model(path).get_layer("pooling")).__name__
        'MaskedGlobalAveragePooling1D'
    """
    register_all()
    return keras.saving.load_model(path, **kwargs)
