"""rnn_templates: Keras 3 builders for every recurrent-network topology.

Importing this package quietens TensorFlow's start-up notices unless the user
has already chosen otherwise, and selects the TensorFlow backend unless
``KERAS_BACKEND`` says otherwise. Both must happen before Keras is first
imported, which is why they live here. TensorFlow's oneDNN notices are printed
before its log level is read, so the only way to silence them is to leave the
oneDNN graph rewrites off; recurrent models do not use them (they measure
slightly faster without), and ``TF_ENABLE_ONEDNN_OPTS=1`` turns them back on.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import importlib  # noqa: E402
from typing import Any  # noqa: E402

from rnn_templates.errors import UserInputError  # noqa: E402

__version__ = "0.1.0"

# Builders load Keras (and TensorFlow) on first use, so `rnnt --help`, config
# checks and user errors answer without importing TensorFlow.
_LAZY = {
    "CELL_TYPES": "rnn_templates.cells",
    "RecurrentConfig": "rnn_templates.cells",
    "recurrent_stack": "rnn_templates.cells",
    "build_conditioned_generator": "rnn_templates.topologies",
    "build_many_to_many": "rnn_templates.topologies",
    "build_many_to_one": "rnn_templates.topologies",
    "build_one_to_many": "rnn_templates.topologies",
    "build_one_to_one": "rnn_templates.topologies",
    "build_seq2seq": "rnn_templates.topologies",
    "compile_model": "rnn_templates.training",
    "fit_tbptt": "rnn_templates.tbptt",
    "generate": "rnn_templates.decoding",
    "load_model": "rnn_templates.saving",
    "reset_states": "rnn_templates.decoding",
    "seq2seq_inference_models": "rnn_templates.topologies",
    "stream_chunks": "rnn_templates.tbptt",
}

__all__ = ["UserInputError", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnn_templates' has no attribute {name!r}")
