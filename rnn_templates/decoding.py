"""Stateful step-by-step generation and sampling.

A language model built with ``build_many_to_many(..., stateful=True,
batch_size=B)`` keeps its recurrent state between calls. :func:`generate`
primes it with a prompt in one call, then feeds back one sampled token per
call: each step costs one recurrent step, not a re-read of the whole history.
"""

from __future__ import annotations

import keras
import numpy as np


def sample_from_probabilities(
    probabilities: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw one index per row of ``probabilities`` (batch, vocab).

    Args:
        probabilities: Rows of non-negative scores summing to 1.
        temperature: Below 1 sharpens, above 1 flattens; 0 means greedy.
        top_k: Keep only the k most likely entries.
        top_p: Keep the smallest set whose probability reaches p (nucleus).
        rng: NumPy generator for reproducible draws.

    Returns:
        Int array of shape (batch,).

    Example:
        >>> sample_from_probabilities(np.array([[0.1, 0.7, 0.2]]), temperature=0)
        array([1])
    """
    if temperature < 0:
        raise ValueError(f"`temperature` must be >= 0; received {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"`top_k` must be >= 1; received {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]; received {top_p}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if temperature == 0:
        return probabilities.argmax(axis=-1)
    rng = rng or np.random.default_rng()
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-weights, axis=-1)
        sorted_weights = np.take_along_axis(weights, order, axis=-1)
        # Keep an entry if the mass before it is still below top_p (the first always stays).
        keep_sorted = np.cumsum(sorted_weights, axis=-1) - sorted_weights < top_p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        weights = np.where(keep, weights, 0.0)
        weights /= weights.sum(axis=-1, keepdims=True)
    cumulative = np.cumsum(weights, axis=-1)
    draws = rng.random((weights.shape[0], 1))
    return np.minimum((cumulative < draws).sum(axis=-1), weights.shape[-1] - 1)


def reset_states(model: keras.Model) -> None:
    """Zero the carried state of every stateful recurrent layer in ``model``."""
    for layer in model._flatten_layers():
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


def generate(
    step_model: keras.Model,
    prompts: np.ndarray,
    num_steps: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Continue each prompt by ``num_steps`` sampled tokens.

    Args:
        step_model: A stateful token model (batch, time) -> (batch, time, vocab)
            of probabilities, whose batch size equals ``len(prompts)``.
        prompts: Int array (batch, prompt_length) of token ids, no padding.
        num_steps: Tokens to generate.
        temperature, top_k, top_p: See :func:`sample_from_probabilities`.
        seed: Seed for reproducible sampling.

    Returns:
        Int array (batch, num_steps) of generated ids.
    """
    prompts = np.asarray(prompts)
    if prompts.ndim != 2 or prompts.shape[1] < 1:
        raise ValueError(
            f"`prompts` must be (batch, length >= 1) ids; received shape {prompts.shape}"
        )
    rng = np.random.default_rng(seed)
    reset_states(step_model)
    # convert_to_numpy: on a GPU the torch backend returns device tensors.
    to_numpy = keras.ops.convert_to_numpy
    probabilities = to_numpy(step_model(prompts, training=False))[:, -1]
    generated = []
    for _ in range(num_steps):
        tokens = sample_from_probabilities(
            probabilities, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng
        )
        generated.append(tokens)
        probabilities = to_numpy(step_model(tokens[:, None], training=False))[:, -1]
    return np.stack(generated, axis=1) if generated else np.zeros((len(prompts), 0), int)
