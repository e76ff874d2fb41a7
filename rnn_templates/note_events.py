"""The note-event representation: a melody as (pitch, step, duration) per note.

As in the TensorFlow music tutorial, the pitch is a category (a softmax over
the training range) and the step (time from the previous note's start) and
duration are positive regressions, here in quarter notes so a piece's tempo
does not matter. The model reads each note's pitch embedding beside its step
and duration and predicts the next note's three values.

:class:`EventSampler` generates with the same carried state as
:class:`rnn_templates.sampling.RecurrentSampler`: the pitch is sampled
(temperature, top-k, top-p), step and duration are the model's predictions
(at most :data:`rnn_templates.data.midi.MAX_QUARTERS` quarter notes, as a seed's),
and the three feed the next step, in one compiled loop.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from rnn_templates.cells import RecurrentConfig, recurrent_stack
from rnn_templates.data.midi import MAX_QUARTERS
from rnn_templates.pitch_tokens import PitchTokens
from rnn_templates.sampling import RecurrentSampler, choose_tokens

OUTPUTS = ("pitch", "step", "duration")


def build_event_model(vocab_size: int, embedding_dim: int, rnn: RecurrentConfig,
                      head_dropout: float, name: str) -> keras.Model:
    """``[pitch tokens, timing] -> {pitch: probabilities, step, duration}`` at every note."""
    tokens = keras.Input((None,), dtype="int32", name="pitch_tokens")
    timing = keras.Input((None, 2), name="timing")
    embedded = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(tokens)
    features = keras.layers.Concatenate(name="note_features")([embedded, timing])
    hidden = recurrent_stack(features, rnn, return_sequences=True, name="rnn")
    if head_dropout:
        hidden = keras.layers.Dropout(head_dropout, name="head_dropout")(hidden)
    outputs = {
        "pitch": keras.layers.Dense(vocab_size, activation="softmax", name="pitch")(hidden),
        "step": keras.layers.Dense(1, activation="softplus", name="step")(hidden),
        "duration": keras.layers.Dense(1, activation="softplus", name="duration")(hidden),
    }
    return keras.Model([tokens, timing], outputs, name=name)


class EventSampler(RecurrentSampler):
    """Generate note events from a model built by :func:`build_event_model`."""

    def __init__(self, model: keras.Model):
        layers = sorted((layer for layer in model.layers if layer.name.startswith("rnn_")
                         and layer.name[4:].isdigit()), key=lambda layer: int(layer.name[4:]))
        super().__init__(model.get_layer("embedding"), layers, model.get_layer("pitch"))
        self.step_head = model.get_layer("step")
        self.duration_head = model.get_layer("duration")

    def _layers(self) -> list[keras.layers.Layer]:
        return [*super()._layers(), self.step_head, self.duration_head]

    def event_step(self, tokens: Any, timing: Any, states: list[list[Any]]):
        x = keras.ops.concatenate([self.embed(tokens), timing], axis=-1)
        new_states = []
        for layer, state in zip(self.recurrent, states, strict=True):
            x, state = layer.cell(x, state, training=False)
            new_states.append(list(state) if isinstance(state, list | tuple) else [state])
        timing = keras.ops.concatenate([self.step_head(x), self.duration_head(x)], axis=-1)
        # As a seed's: at most MAX_QUARTERS, which a written MIDI file holds.
        timing = keras.ops.minimum(timing, float(MAX_QUARTERS))
        return self.logits(x), timing, new_states

    def event_loop(self, tokens: Any, timing: Any, uniforms: Any, temperature: Any = 1.0,
                   top_k: Any = 0, top_p: Any = 1.0, starts: Any = None):
        """Read the seed notes (left-padded, first real one at ``starts``), then sample
        ``len(uniforms)`` notes; returns ``(tokens (batch, steps), timing (batch, steps, 2))``."""
        ops = keras.ops
        tokens = ops.cast(tokens, "int32")
        batch, length = ops.shape(tokens)[0], ops.shape(tokens)[1]
        steps = ops.shape(uniforms)[0]
        starts = ops.expand_dims(ops.cast(
            ops.zeros((batch,), "int32") if starts is None else starts, "int32"), -1)

        def read(t, carry):
            logits, predicted, states = carry
            new_logits, new_timing, new_states = self.event_step(
                ops.take(tokens, t, axis=1), ops.take(timing, t, axis=1), states)
            started = t >= starts
            new_states = [[ops.where(started, n, o) for n, o in zip(ns, os_, strict=True)]
                          for ns, os_ in zip(new_states, states, strict=True)]
            return (ops.where(started, new_logits, logits),
                    ops.where(started, new_timing, predicted), new_states)

        carry = (ops.zeros((batch, self.vocab_size)), ops.zeros((batch, 2)),
                 self.initial_states(batch))
        logits, predicted, states = self.fori_loop(0, length, read, carry)

        def writes(filtering):
            def write(t, carry):
                logits, predicted, states, out_tokens, out_timing = carry
                chosen = choose_tokens(logits, ops.take(uniforms, t, axis=0), temperature,
                                       top_k, top_p, filtering)
                out_tokens = ops.slice_update(out_tokens, (0, t), ops.expand_dims(chosen, 1))
                out_timing = ops.slice_update(out_timing, (0, t, 0),
                                              ops.expand_dims(predicted, 1))
                logits, predicted, states = self.event_step(chosen, predicted, states)
                return logits, predicted, states, out_tokens, out_timing

            carry = (logits, predicted, states, ops.zeros((batch, steps), "int32"),
                     ops.zeros((batch, steps, 2)))
            return self.fori_loop(0, steps, write, carry)[3:]

        out_tokens, out_timing = self.filtered_loop(writes, top_k, top_p)
        return out_tokens, out_timing


class RepeatLastEvent:
    """Baseline: the next note repeats the last one (its pitch with probability 0.9)."""

    name = "repeat last note"

    def __init__(self, artifacts: dict[str, Any]):
        self.artifacts = {key: artifacts[key] for key in ("low", "high")}
        self.settings = {"kept_probability": 0.9}

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        inputs = np.asarray(inputs, np.float32)[:, :-1]
        vocab = self.artifacts["high"] - self.artifacts["low"] + 2
        tokens = keras.ops.convert_to_numpy(PitchTokens(**self.artifacts)(
            np.round(inputs[..., 0]).astype(np.int32)))
        probabilities = np.full((*tokens.shape, vocab), 0.1 / vocab, np.float32)
        rows, cols = np.indices(tokens.shape)
        probabilities[rows, cols, tokens] += 0.9
        return {"pitch": probabilities, "step": inputs[..., 1:2], "duration": inputs[..., 2:3]}


def event_metrics(targets: np.ndarray, outputs: dict[str, np.ndarray],
                  artifacts: dict[str, Any]) -> dict[str, Any]:
    """Pitch accuracy and NLL, step and duration mean absolute error (quarter notes)."""
    targets = np.asarray(targets, np.float32)
    if not targets.size:
        return {"accuracy": float("nan"), "nll_per_note": float("nan"), "notes": 0}
    tokens = keras.ops.convert_to_numpy(PitchTokens(artifacts["low"], artifacts["high"])(
        np.round(targets[..., 0]).astype(np.int32))).astype(np.int64)
    probabilities = outputs["pitch"]
    chosen = np.take_along_axis(probabilities, tokens[..., None], axis=-1)[..., 0]
    nll = float(-np.log(np.clip(chosen, 1e-12, None)).mean())
    return {"accuracy": float((probabilities.argmax(-1) == tokens).mean()),
            "nll_per_note": nll, "nll_per_step": nll, "perplexity": float(np.exp(nll)),
            "step_mae": float(np.abs(outputs["step"][..., 0] - targets[..., 1]).mean()),
            "duration_mae": float(np.abs(outputs["duration"][..., 0] - targets[..., 2]).mean()),
            "notes": int(tokens.size), "windows": int(len(tokens))}
