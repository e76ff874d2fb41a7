"""Stateful step-by-step generation and sampling.

:func:`generate` continues prompts with a language model built by
``build_many_to_many``: it reads each prompt once and then feeds back one
sampled token per step through the layers' cells, carrying the state, in one
compiled loop (:mod:`rnn_templates.sampling`): each step costs one recurrent
step, not a re-read of the whole history. :func:`sample_from_probabilities`
is the same draw in NumPy, for probabilities you already have.
"""

from __future__ import annotations

import weakref

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
    """Draw one index per row of ``probabilities`` (batch, vocab), or one for one row (vocab,).

    Args:
        probabilities: Rows of non-negative scores summing to 1 (a softmax's
            output; logits are refused: apply ``keras.ops.softmax`` first).
        temperature: Below 1 sharpens, above 1 flattens; 0 means greedy.
        top_k: Keep only the k most likely entries (0 or None: all).
        top_p: Keep the smallest set whose probability reaches p (nucleus).
        rng: NumPy generator for reproducible draws.

    Returns:
        Int array of shape (batch,); an int for one row of shape (vocab,).

    Example:
        >>> sample_from_probabilities(np.array([[0.1, 0.7, 0.2]]), temperature=0)
        array([1])
        >>> int(sample_from_probabilities(np.array([0.1, 0.7, 0.2]), temperature=0))
        1
    """
    from rnn_templates.sampling import check_sampling

    top_k = top_k or None  # 0 means all, as in generate
    check_sampling(temperature, top_k, top_p)
    given = np.asarray(probabilities)
    # A softmax in 16-bit floats sums to 1 only within its rounding.
    tolerance = 1e-3 if given.dtype.itemsize >= 4 else 2e-2
    probabilities = given.astype(np.float64)
    if probabilities.ndim == 1:
        return sample_from_probabilities(probabilities[None], temperature=temperature,
                                         top_k=top_k, top_p=top_p, rng=rng)[0]
    if probabilities.ndim != 2 or probabilities.shape[-1] < 1:
        raise ValueError("`probabilities` must be (batch, vocab) or (vocab,); received shape "
                         f"{probabilities.shape}")
    sums = probabilities.sum(axis=-1)
    if (probabilities < 0).any() or not np.allclose(sums, 1.0, atol=tolerance):
        raise ValueError("`probabilities` must be non-negative rows summing to 1; received "
                         f"values from {probabilities.min():.3g} to {probabilities.max():.3g}, "
                         f"rows summing to {sums.min():.3g}-{sums.max():.3g} (logits? apply "
                         "keras.ops.softmax first)")
    if temperature == 0:
        return probabilities.argmax(axis=-1)
    rng = rng or np.random.default_rng()
    with np.errstate(divide="ignore"):  # a probability of 0 stays impossible at any heat
        logits = np.log(probabilities) / temperature
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
    """Zero the carried state of every stateful recurrent layer in ``model``.

    Keras 3 models have no ``reset_states()``; call this between independent
    sequences (a new piece to generate, a new series in truncated BPTT).
    """
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
    conditions: np.ndarray | None = None,
) -> np.ndarray:
    """Continue each prompt by ``num_steps`` sampled tokens.

    Runs :class:`rnn_templates.sampling.RecurrentSampler`: one loop that
    carries the recurrent state through the model's cells, compiled on
    TensorFlow and JAX (each step compiled on PyTorch). The model may be
    stateful or not (its own carried state is not used or changed).

    Args:
        step_model: A token model built by ``build_many_to_many`` (layers
            ``embedding``, ``rnn_1``..., ``output_head``).
        prompts: Int array (batch, prompt_length) of token ids. Prompts of
            different lengths are left-padded with 0 when the model masks id 0
            (``mask_zero``): each is then read from its first token, as if alone.
        num_steps: Tokens to generate.
        temperature, top_k, top_p: See :func:`sample_from_probabilities`.
        seed: Seed for reproducible sampling. Each row has its own stream of
            random numbers keyed on the seed and the row's index, so row ``i``
            gives the same tokens in any batch where it is row ``i``.
        conditions: For a model from ``build_conditioned_generator``, one
            condition vector per prompt (batch, condition_dim).

    Returns:
        Int array (batch, num_steps) of generated ids.
    """
    from rnn_templates.sampling import RecurrentSampler

    prompts = np.asarray(prompts)
    if prompts.ndim != 2 or prompts.shape[1] < 1:
        raise ValueError(
            f"`prompts` must be (batch, length >= 1) ids; received shape {prompts.shape}"
        )
    starts = None
    embedding = next((layer for layer in step_model.layers if layer.name == "embedding"), None)
    if getattr(embedding, "mask_zero", False) and np.issubdtype(prompts.dtype, np.integer) \
            and (prompts == 0).any():
        starts = (prompts != 0).argmax(axis=1)
        real = np.arange(prompts.shape[1])[None, :] >= starts[:, None]
        wrong = np.flatnonzero(((prompts == 0) & real).any(axis=1) | (prompts == 0).all(axis=1))
        if len(wrong):
            raise ValueError(
                f"`prompts` row {wrong[0]} holds the padding id 0 after its first token (or "
                "only padding): the model masks id 0, so pad prompts of different lengths "
                "on the left only, and give each at least one token")
    sampler = _SAMPLERS.get(step_model)
    if sampler is None:
        sampler = _SAMPLERS[step_model] = RecurrentSampler.from_model(step_model)
    return sampler.sample(prompts, num_steps, temperature=temperature, top_k=top_k, top_p=top_p,
                          seed=seed, starts=starts, conditions=conditions)


# One sampler (and so one compiled loop) per model.
_SAMPLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
