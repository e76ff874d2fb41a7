"""Note tokens: MIDI pitches folded into the training range, inside the saved model.

Token 0 is silence and ``1..high - low + 1`` the pitches ``low..high`` of the
training pieces. A pitch outside that range moves by octaves into it, so a
seed in another register still reads as the same notes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def fold_tokens(pitches: Any, low: int, high: int) -> Any:
    """MIDI pitches (0 = silence) to tokens, in ``keras.ops``."""
    ops = keras.ops
    p = ops.cast(pitches, "int32")
    up = ops.where(p < low, p + 12 * ((low - p + 11) // 12), p)
    folded = ops.where(up > high, up - 12 * ((up - high + 11) // 12), up)
    folded = ops.clip(folded, low, high)  # a range narrower than an octave
    return ops.where(p == 0, 0, folded - low + 1)


@keras.saving.register_keras_serializable(package="rnn_templates.music")
class PitchTokens(keras.layers.Layer):
    """MIDI pitches (0 = silence) to note tokens ``0..high - low + 1``.

    Pitches outside ``[low, high]`` (the training range) move by octaves into
    it, so a seed in another register still reads as the same notes.
    """

    def __init__(self, low: int, high: int, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= low <= high <= 127:
            raise ValueError(f"`low` and `high` must satisfy 1 <= low <= high <= 127; "
                             f"received low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def call(self, pitches):
        return fold_tokens(pitches, self.low, self.high)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


def tokens_of(grids: np.ndarray, artifacts: dict[str, Any]) -> np.ndarray:
    """Pitch windows (n, steps, voices) -> flat note tokens (n, steps * voices)."""
    grids = np.asarray(grids, np.int32)
    if not grids.size:
        return np.zeros((len(grids), int(np.prod(grids.shape[1:]))), np.int32)
    tokens = keras.ops.convert_to_numpy(PitchTokens(artifacts["low"], artifacts["high"])(grids))
    return tokens.reshape(len(tokens), -1)


def pitches_of(tokens: np.ndarray, low: int) -> np.ndarray:
    return np.where(tokens == 0, 0, tokens + low - 1)


@keras.saving.register_keras_serializable(package="rnn_templates.music")
class EventFeatures(keras.layers.Layer):
    """Note events ``(batch, notes, 3)`` to ``[pitch tokens, timing (batch, notes, 2)]``."""

    def __init__(self, low: int, high: int, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = int(low), int(high)

    def call(self, events):
        ops = keras.ops
        events = ops.cast(events, "float32")
        tokens = fold_tokens(ops.round(events[..., 0]), self.low, self.high)
        return [tokens, ops.maximum(events[..., 1:], 0.0)]

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}
