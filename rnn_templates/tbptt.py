"""Truncated backpropagation through time over long series: stateful training on chunks.

A series far longer than a window is cut into ``streams`` contiguous parts
read side by side (one batch row each) and walked through in consecutive
chunks of ``chunk`` steps. A stateful recurrent model carries its state from
one chunk to the next, so it sees the whole history, while gradients flow
back through one chunk only (Williams and Peng, 1990; the "stateful" recipe
of the Keras documentation). States are reset where a series begins: at the
start of every epoch, and between series when several are given.

With ``chunk`` at least the stream length, one chunk holds everything and
the update is exactly full backpropagation through time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import keras
import numpy as np

from rnn_templates.decoding import reset_states


def stream_chunks(inputs: np.ndarray, targets: np.ndarray, streams: int, chunk: int
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Cut one series into ``streams`` side-by-side parts, then consecutive chunks.

    Args:
        inputs: ``(steps, features)``.
        targets: ``(steps, outputs)``, aligned with ``inputs`` (e.g. the next value).
        streams: Batch rows; each reads one contiguous part of the series.
        chunk: Steps per chunk (the truncation length).

    Returns:
        ``([(x (streams, chunk', features), y (streams, chunk', outputs)), ...],
        unused)``: the chunks in time order (the last may be shorter) and how
        many final steps did not fill a stream (``steps % streams``).

    Example:
        >>> chunks, unused = stream_chunks(np.arange(10.0)[:, None], np.arange(10.0)[:, None],
        ...                                streams=2, chunk=3)
        >>> [x[:, :, 0].tolist() for x, _ in chunks], unused
        ([[[0.0, 1.0, 2.0], [5.0, 6.0, 7.0]], [[3.0, 4.0], [8.0, 9.0]]], 0)
    """
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool)
               for n in (streams, chunk)) or streams < 1 or chunk < 1:
        raise ValueError(f"`streams` and `chunk` must be positive integers; received {streams} "
                         f"and {chunk}")
    if len(inputs) != len(targets):
        raise ValueError(f"`inputs` and `targets` must have the same number of steps; "
                         f"received {len(inputs)} and {len(targets)}")
    length = len(inputs) // streams
    if length == 0:
        raise ValueError(f"`streams` must be at most the series length ({len(inputs)}); "
                         f"received {streams}")
    used = length * streams
    x = np.asarray(inputs[:used]).reshape(streams, length, -1)
    y = np.asarray(targets[:used]).reshape(streams, length, -1)
    chunks = [(x[:, start:start + chunk], y[:, start:start + chunk])
              for start in range(0, length, chunk)]
    return chunks, len(inputs) - used


def fit_tbptt(model: keras.Model, series: Sequence[tuple[np.ndarray, np.ndarray]], *,
              streams: int, chunk: int, epochs: int = 1) -> list[float]:
    """Train a compiled stateful model by truncated BPTT over one or more series.

    Args:
        model: Compiled, its recurrent layers ``stateful=True`` with batch size
            ``streams`` and time dimension ``None``; it maps ``(streams, time,
            features)`` to ``(streams, time, outputs)``.
        series: ``(inputs, targets)`` pairs, one per series; states are reset
            before each.
        streams: Side-by-side parts of each series (the batch size).
        chunk: Truncation length in steps.
        epochs: Passes over all series.

    Returns:
        The mean training loss of each epoch.

    Raises:
        ValueError: ``model`` has no stateful recurrent layer (it would train on
            independent chunks, which is not truncated BPTT), its batch size is
            not ``streams``, ``series`` is not a list of ``(inputs, targets)``, or
            the backend is JAX (whose compiled train step carries no state).
    """
    if not any(getattr(layer, "stateful", False) for layer in model._flatten_layers()):
        raise ValueError("`model` has no stateful recurrent layer, so no state would carry "
                         "from one chunk to the next; build it with stateful=True and "
                         f"batch_size={streams} (e.g. build_many_to_many(..., stateful=True, "
                         f"batch_size={streams}))")
    batch = model.inputs[0].shape[0] if model.inputs else None
    if batch is not None and batch != streams:
        raise ValueError(f"`streams` ({streams}) must equal the stateful model's batch size "
                         f"({batch})")
    if isinstance(series, tuple) and len(series) == 2 and not isinstance(series[0], tuple):
        raise ValueError("`series` must be a list of (inputs, targets) pairs, one per series; "
                         "received one pair: wrap it in a list, [(inputs, targets)]")
    if keras.backend.backend() == "jax":
        raise ValueError("fit_tbptt needs the TensorFlow backend: on JAX, Keras's compiled "
                         "train step does not carry a stateful layer's states from one "
                         "train_on_batch to the next, so every chunk would start from zeros; "
                         "run it with KERAS_BACKEND=tensorflow")
    losses = []
    with _state_copying_layers(model):
        for _ in range(epochs):
            epoch = []
            for inputs, targets in series:
                reset_states(model)  # a new series: nothing carries over from the last one
                chunks, _ = stream_chunks(inputs, targets, streams, chunk)
                for x, y in chunks:
                    result = model.train_on_batch(x, y, return_dict=True)
                    epoch.append(float(result["loss"]))
            losses.append(float(np.mean(epoch)))
    reset_states(model)
    return losses


@contextlib.contextmanager
def _state_copying_layers(model: keras.Model):
    """On PyTorch, run the stateful GRU/LSTM layers step by step while training.

    Keras 3.15's fused GRU and LSTM on PyTorch write a stateful layer's new state
    into the variable autograd still needs for the backward pass, which then
    fails (keras-team/keras#23462, fixed after 3.15.1); the step-by-step path
    copies the state first. Other backends are left alone.
    """
    if keras.backend.backend() != "torch":
        yield
        return
    layers = [layer for layer in model._flatten_layers()
              if getattr(layer, "stateful", False) and getattr(layer, "use_cudnn", False)]
    before = [layer.use_cudnn for layer in layers]
    for layer in layers:
        layer.use_cudnn = False
    try:
        yield
    finally:
        for layer, value in zip(layers, before, strict=True):
            layer.use_cudnn = value
