"""Data helpers shared by the apps.

- :mod:`~rnn_templates.data.readers`: CSV, TSV, JSONL and line files read into
  columns, with errors that name the file, line and column (no TensorFlow);
- :mod:`~rnn_templates.data.bucketing`: length bucketing and padding (tf.data);
- :mod:`~rnn_templates.data.shuffle`: a per-epoch shuffle that resumed runs repeat;
- :mod:`~rnn_templates.data.pipeline`: the prefetching last step of every pipeline,
  with tf.data's autotuning off.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "bucket_by_length": "rnn_templates.data.bucketing",
    "length_boundaries": "rnn_templates.data.bucketing",
    "EpochShuffle": "rnn_templates.data.shuffle",
    "prefetched": "rnn_templates.data.pipeline",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    # TensorFlow is imported only when a tf.data helper is asked for.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnn_templates.data' has no attribute {name!r}")
