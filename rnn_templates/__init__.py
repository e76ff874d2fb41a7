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

from rnn_templates.cells import CELL_TYPES, RecurrentConfig, recurrent_stack  # noqa: E402
from rnn_templates.errors import UserInputError  # noqa: E402
from rnn_templates.topologies import (  # noqa: E402
    build_many_to_many,
    build_many_to_one,
    build_one_to_many,
    build_one_to_one,
    build_seq2seq,
)

__version__ = "0.1.0"

__all__ = [
    "CELL_TYPES",
    "RecurrentConfig",
    "UserInputError",
    "build_many_to_many",
    "build_many_to_one",
    "build_one_to_many",
    "build_one_to_one",
    "build_seq2seq",
    "recurrent_stack",
]
