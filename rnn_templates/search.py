"""Batched greedy and beam search over a one-step decoder, as TensorFlow graph ops.

Every search here drives a *step function*, the one interface a decoder has
to offer::

    step(tokens, states, context) -> (log_probs, new_states)

- ``tokens``: int32 ``(n,)``, the token each sequence emitted last;
- ``states``: a nest (list, tuple, dict) of ``(n, ...)`` tensors the decoder
  carries from one step to the next (recurrent states, a step counter...);
- ``context``: a nest of ``(n, ...)`` tensors that stay fixed while decoding
  (the encoder outputs and their mask), or ``None``;
- ``log_probs``: float32 ``(n, vocab)`` log-probabilities of the next token.

A step reads one token per sequence and returns the new states, so decoding
``t`` tokens costs ``t`` decoder steps: the decoder never re-reads the
prefix. Greedy and beam search run all sequences of a batch together in one
``tf.while_loop`` that stops as soon as every sequence has emitted the end
token (or at ``max_length``); beam search stops sooner, once every input's
best beam is final. They use stock TensorFlow ops only, so a
``tf.function`` (or a SavedModel signature) wrapping them runs on TensorFlow
Serving. :func:`keras_step` adapts the one-step decoder of
:func:`~rnn_templates.topologies.seq2seq_inference_models`.

Example:
    >>> import tensorflow as tf
    >>> table = tf.math.log(tf.constant([[0.1, 0.1, 0.2, 0.6],   # after token 0
    ...                                  [0.1, 0.1, 0.2, 0.6],   # after 1
    ...                                  [0.1, 0.1, 0.1, 0.7],   # after 2
    ...                                  [0.1, 0.7, 0.1, 0.1]]))  # after 3: end (1)
    >>> def step(tokens, states, context):
    ...     return tf.gather(table, tokens), states
    >>> result = greedy_search(step, [tf.zeros([2, 1])], start_token=2, end_token=1,
    ...                        max_length=5)
    >>> result.tokens.numpy().tolist()
    [[3, 1], [3, 1]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

StepFunction = Callable[[tf.Tensor, Any, Any], tuple[tf.Tensor, Any]]
# A score far below any real log-probability, finite so sums never give NaN.
_IMPOSSIBLE = -1e9


class SearchResult(NamedTuple):
    """What a search returns.

    Attributes:
        tokens: int32 ``(batch, time)`` best sequence per input: the emitted
            tokens, the end token included, then ``pad_token``.
        scores: float32 ``(batch,)`` summed log-probabilities of ``tokens``.
        lengths: int32 ``(batch,)`` tokens up to and including the end token.
        beam_tokens: int32 ``(batch, beam, time)`` every beam, best first
            (beam search; greedy gives one beam).
        beam_scores: float32 ``(batch, beam)`` their summed log-probabilities.
        normalized_scores: float32 ``(batch, beam)`` the scores the beams are
            ranked by (divided by the length penalty).
    """

    tokens: tf.Tensor
    scores: tf.Tensor
    lengths: tf.Tensor
    beam_tokens: tf.Tensor
    beam_scores: tf.Tensor
    normalized_scores: tf.Tensor


def _batch_size(states: Any) -> tf.Tensor:
    flat = tf.nest.flatten(states)
    if not flat:
        raise ValueError("`states` must hold at least one tensor with a batch dimension")
    return tf.shape(flat[0])[0]


def _shape_invariant(tensor: tf.Tensor) -> tf.TensorShape:
    # The batch dimension may be unknown when tracing; every other one stays.
    return tf.TensorShape([None, *tensor.shape[1:]])


# Block size of `top_k`: big enough for few blocks, small enough to scan few candidates.
_TOP_K_BLOCK = 64


def top_k(values: tf.Tensor, k: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``tf.math.top_k`` over the last axis for a small ``k``, several times faster on a CPU.

    The last axis is cut into blocks of 64 and only the ``k`` blocks with the
    highest maxima are searched: every one of the ``k`` largest values lies in
    one of them. The result is exactly ``tf.math.top_k``'s, ties included (the
    lower index first): the blocks are taken lowest index first among equal
    maxima and searched in index order. On a vocabulary of 8,000 tokens it
    takes about a fifth of the time, which is most of what beam search adds
    to a decoder step.

    Example:
        >>> values, indices = top_k(tf.constant([[3.0, 9.0, 1.0, 9.0, 5.0]]), 3)
        >>> values.numpy().tolist(), indices.numpy().tolist()
        ([[9.0, 9.0, 5.0]], [[1, 3, 4]])
    """
    size = values.shape[-1]
    if size is not None and size <= 4 * _TOP_K_BLOCK:
        return tf.math.top_k(values, k=k)
    outer = tf.shape(values)[:-1]
    rows = tf.reshape(values, [-1, tf.shape(values)[-1]])
    size = tf.shape(rows)[1]
    blocks = (size + _TOP_K_BLOCK - 1) // _TOP_K_BLOCK
    # Padding never outranks a real value of the same level: it comes last.
    rows = tf.pad(rows, [[0, 0], [0, blocks * _TOP_K_BLOCK - size]],
                  constant_values=float("-inf"))
    grid = tf.reshape(rows, [tf.shape(rows)[0], blocks, _TOP_K_BLOCK])
    _, chosen = tf.math.top_k(tf.reduce_max(grid, axis=2), k=tf.minimum(k, blocks))
    chosen = tf.sort(chosen, axis=1)
    candidates = tf.reshape(tf.gather(grid, chosen, batch_dims=1), [tf.shape(rows)[0], -1])
    top, where = tf.math.top_k(candidates, k=k)
    indices = tf.gather(chosen, where // _TOP_K_BLOCK, batch_dims=1) * _TOP_K_BLOCK + (
        where % _TOP_K_BLOCK)
    shape = tf.concat([outer, [-1]], axis=0)
    return tf.reshape(top, shape), tf.reshape(indices, shape)


def length_penalty_factor(lengths: tf.Tensor, alpha: float | tf.Tensor) -> tf.Tensor:
    """GNMT's length penalty ``((5 + length) / 6) ** alpha`` (Wu et al., 2016); 1 for alpha 0.

    A beam's ranking score is its summed log-probability divided by this, so
    ``alpha > 0`` stops the search from preferring short outputs.

    Example:
        >>> float(length_penalty_factor(tf.constant(7), 1.0))
        2.0
    """
    lengths = tf.cast(lengths, tf.float32)
    return tf.pow((5.0 + lengths) / 6.0, tf.cast(alpha, tf.float32))


def greedy_search(
    step: StepFunction,
    states: Any,
    context: Any = None,
    *,
    start_token: int,
    end_token: int,
    max_length: int | tf.Tensor,
    pad_token: int = 0,
) -> SearchResult:
    """Pick the most likely next token at every step, for a whole batch at once.

    Args:
        step: The step function (see the module docstring).
        states: Initial decoder states, a nest of ``(batch, ...)`` tensors.
        context: Fixed tensors every step reads, a nest of ``(batch, ...)``.
        start_token: The token fed at the first step.
        end_token: The token that ends a sequence.
        max_length: The most tokens to emit per sequence.
        pad_token: What follows the end token in ``tokens``.

    Returns:
        A :class:`SearchResult` with one beam.
    """
    batch = _batch_size(states)
    tokens = tf.fill([batch], tf.constant(start_token, tf.int32))
    finished = tf.zeros([batch], tf.bool)
    scores = tf.zeros([batch], tf.float32)
    lengths = tf.zeros([batch], tf.int32)
    output = tf.zeros([batch, 0], tf.int32)

    def condition(t, tokens, states, finished, scores, lengths, output):
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(t, tokens, states, finished, scores, lengths, output):
        log_probs, states = step(tokens, states, context)
        log_probs = tf.cast(log_probs, tf.float32)
        chosen = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        gained = tf.gather(log_probs, chosen, batch_dims=1)
        chosen = tf.where(finished, tf.constant(pad_token, tf.int32), chosen)
        scores += tf.where(finished, 0.0, gained)
        lengths += tf.cast(tf.logical_not(finished), tf.int32)
        finished = tf.logical_or(finished, tf.equal(chosen, end_token))
        output = tf.concat([output, chosen[:, None]], axis=1)
        return t + 1, chosen, states, finished, scores, lengths, output

    loop = (tf.constant(0), tokens, states, finished, scores, lengths, output)
    invariants = tf.nest.map_structure(_shape_invariant, loop[1:])
    _, _, _, _, scores, lengths, output = tf.while_loop(
        condition, body, loop,
        shape_invariants=(tf.TensorShape([]), *invariants[:-1], tf.TensorShape([None, None])))
    return SearchResult(output, scores, lengths, output[:, None, :], scores[:, None],
                        scores[:, None])


def beam_search(
    step: StepFunction,
    states: Any,
    context: Any = None,
    *,
    start_token: int,
    end_token: int,
    max_length: int | tf.Tensor,
    beam_width: int | tf.Tensor,
    length_penalty: float | tf.Tensor = 0.0,
    pad_token: int = 0,
    stop_early: bool = True,
) -> SearchResult:
    """Keep the ``beam_width`` best prefixes of every input, one decoder step at a time.

    All ``batch * beam_width`` prefixes advance together: each step scores
    every continuation of every live prefix, keeps the best ``beam_width``
    per input and reorders the decoder states to follow their parents. A
    finished prefix stays in the beam with its score unchanged (it only
    "emits" padding), so it competes with the live ones until the end. Beams
    are ranked by summed log-probability divided by
    :func:`length_penalty_factor`; width 1 is exactly :func:`greedy_search`.

    Args:
        step: The step function (see the module docstring).
        states: Initial decoder states, a nest of ``(batch, ...)`` tensors.
        context: Fixed tensors every step reads, a nest of ``(batch, ...)``.
        start_token: The token fed at the first step.
        end_token: The token that ends a sequence.
        max_length: The most tokens to emit per sequence (at least 1).
        beam_width: Prefixes kept per input (at most the vocabulary size).
        length_penalty: GNMT's alpha; 0 ranks by summed log-probability.
        pad_token: What follows the end token.
        stop_early: Stop as soon as, for every input, no live prefix can still
            outrank the best finished one. A live prefix's summed
            log-probability only falls as it grows, and its length penalty
            factor can grow at most to that of ``max_length``, so its ranking
            score can at best reach its summed log-probability divided by that
            factor: once the best finished beam scores at least that, it is
            final. The best beam is then exactly what the full search returns;
            the other beams may be cut short. ``False`` runs until every beam
            has ended (or ``max_length``).

    Returns:
        A :class:`SearchResult`; ``tokens`` is the best beam.
    """
    if isinstance(beam_width, int) and beam_width < 1:
        raise ValueError(f"`beam_width` must be >= 1; received {beam_width}")
    if isinstance(max_length, int) and max_length < 1:
        raise ValueError(f"`max_length` must be >= 1; received {max_length}")
    batch = _batch_size(states)
    width = tf.cast(beam_width, tf.int32)
    tf.debugging.assert_positive(width, message="`beam_width` must be >= 1")

    def tile(tensor):
        return tf.repeat(tensor, width, axis=0)  # row i becomes rows i*width..(i+1)*width-1

    # All beams of an input start from the same prefix, so the first step runs once per
    # input, and its best `width` continuations become the beams.
    log_probs, states = step(tf.fill([batch], tf.constant(start_token, tf.int32)), states,
                             context)
    log_probs = tf.cast(log_probs, tf.float32)
    first = tf.minimum(width, tf.shape(log_probs)[-1])
    scores, chosen = top_k(log_probs, first)
    # A beam wider than the vocabulary is filled with prefixes that can never win.
    missing = width - first
    scores = tf.pad(scores, [[0, 0], [0, missing]], constant_values=_IMPOSSIBLE)
    chosen = tf.pad(chosen, [[0, 0], [0, missing]], constant_values=pad_token)
    finished = tf.equal(chosen, end_token)
    lengths = tf.ones([batch, width], tf.int32)
    sequences = chosen[:, :, None]
    tokens = tf.reshape(chosen, [-1])
    states = tf.nest.map_structure(tile, states)
    if context is not None:
        context = tf.nest.map_structure(tile, context)
    offsets = tf.range(batch)[:, None] * width

    ceiling = length_penalty_factor(max_length, length_penalty)

    def condition(t, tokens, states, finished, scores, lengths, sequences):
        settled = tf.reduce_all(finished, axis=1)
        if stop_early:
            ranked = scores / length_penalty_factor(lengths, length_penalty)
            best_finished = tf.reduce_max(tf.where(finished, ranked, -float("inf")), axis=1)
            best_live = tf.reduce_max(tf.where(finished, -float("inf"), scores / ceiling), axis=1)
            settled = tf.logical_or(settled, best_finished >= best_live)
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(settled)))

    def body(t, tokens, states, finished, scores, lengths, sequences):
        log_probs, states = step(tokens, states, context)
        log_probs = tf.cast(log_probs, tf.float32)
        vocab = log_probs.shape[-1] or tf.shape(log_probs)[-1]
        # The continuations of one beam share its score and length, so they rank as their
        # log-probabilities do: each beam's best `width` hold the best `width` overall,
        # and only those few candidates are scored.
        per_beam = tf.minimum(width, vocab)
        top_log_probs, top_tokens = top_k(tf.reshape(log_probs, [batch, width, vocab]),
                                          per_beam)
        # A finished beam continues only with padding, at no cost.
        padding_only = tf.where(tf.range(per_beam) == 0, 0.0, _IMPOSSIBLE)
        top_log_probs = tf.where(finished[:, :, None], padding_only[None, None, :],
                                 top_log_probs)
        top_tokens = tf.where(finished[:, :, None], pad_token, top_tokens)
        totals = scores[:, :, None] + top_log_probs
        grown = lengths + tf.cast(tf.logical_not(finished), tf.int32)
        ranking = totals / length_penalty_factor(grown, length_penalty)[:, :, None]
        _, best = tf.math.top_k(tf.reshape(ranking, [batch, width * per_beam]), k=width)
        parents = best // per_beam
        chosen = tf.gather(tf.reshape(top_tokens, [batch, width * per_beam]), best,
                           batch_dims=1)
        scores = tf.gather(tf.reshape(totals, [batch, width * per_beam]), best, batch_dims=1)
        finished = tf.logical_or(tf.gather(finished, parents, batch_dims=1),
                                 tf.equal(chosen, end_token))
        lengths = tf.gather(grown, parents, batch_dims=1)
        sequences = tf.concat(
            [tf.gather(sequences, parents, batch_dims=1), chosen[:, :, None]], axis=2)
        rows = tf.reshape(offsets + parents, [-1])
        states = tf.nest.map_structure(lambda s: tf.gather(s, rows), states)
        return t + 1, tf.reshape(chosen, [-1]), states, finished, scores, lengths, sequences

    loop = (tf.constant(1), tokens, states, finished, scores, lengths, sequences)
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.nest.map_structure(_shape_invariant, states),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None, None]),
    )
    _, _, _, _, scores, lengths, sequences = tf.while_loop(
        condition, body, loop, shape_invariants=invariants)
    normalized = scores / length_penalty_factor(lengths, length_penalty)
    # top_k ranked the beams at the last step; rank again in case the loop ended early.
    _, order = tf.math.top_k(normalized, k=width)
    sequences = tf.gather(sequences, order, batch_dims=1)
    scores = tf.gather(scores, order, batch_dims=1)
    lengths = tf.gather(lengths, order, batch_dims=1)
    normalized = tf.gather(normalized, order, batch_dims=1)
    return SearchResult(sequences[:, 0], scores[:, 0], lengths[:, 0], sequences, scores,
                        normalized)


def keras_step(decoder_step: Any, num_states: int) -> StepFunction:
    """A step function over a one-step Keras decoder.

    Args:
        decoder_step: The model from
            :func:`~rnn_templates.topologies.seq2seq_inference_models`:
            ``[token (n, 1), *context, *states] -> [scores (n, 1, vocab),
            *new_states, ...]``. Its ``output_head`` may end in a softmax
            (``build_seq2seq``'s default: the scores are probabilities) or be
            linear (``output_activation=None``: logits, which keep the
            log-probabilities of unlikely tokens more precise).
        num_states: How many state tensors it carries.

    Returns:
        ``step(tokens, states, context)`` with ``context`` the list of fixed
        inputs (the encoder outputs and the source mask), giving
        log-probabilities.
    """
    head = next((layer for layer in decoder_step.layers if layer.name == "output_head"), None)
    probabilities = getattr(head, "activation", None) is keras.activations.softmax
    tiny = float(np.finfo(np.float32).tiny)

    def step(tokens, states, context):
        outputs = decoder_step([tokens[:, None], *context, *states], training=False)
        scores = tf.cast(outputs[0][:, 0, :], tf.float32)
        if probabilities:
            scores = tf.math.log(tf.maximum(scores, tiny))
        return tf.nn.log_softmax(scores, axis=-1), list(outputs[1 : 1 + num_states])

    return step


def ensemble_step(steps: list[StepFunction]) -> StepFunction:
    """One step function over several decoders: the log of their mean probabilities.

    Each member keeps its own states and context: the ensemble's ``states``
    and ``context`` are lists with one entry (a nest) per member, in the
    order of ``steps``. Every member reads the token the search chose, so
    greedy and beam search decode with the members' averaged next-token
    distribution (an ensemble as neural translation toolkits decode one).
    The members must share one output vocabulary.

    Example:
        >>> import tensorflow as tf
        >>> def fixed(p):
        ...     return lambda tokens, states, context: (tf.math.log(tf.constant([p])), states)
        >>> step = ensemble_step([fixed([0.2, 0.8]), fixed([0.6, 0.4])])
        >>> log_probs, _ = step(tf.constant([0]), [[], []], [None, None])
        >>> [round(float(p), 3) for p in tf.exp(log_probs)[0]]
        [0.4, 0.6]
    """
    if not steps:
        raise ValueError("`steps` must hold at least one step function")
    count = float(len(steps))

    def step(tokens, states, context):
        outputs = [member(tokens, member_states, member_context) for member, member_states,
                   member_context in zip(steps, states, context, strict=True)]
        stacked = tf.stack([log_probs for log_probs, _ in outputs])
        return (tf.reduce_logsumexp(stacked, axis=0) - tf.math.log(count),
                [new_states for _, new_states in outputs])

    return step


def decode_in_batches(decode: Callable[[list[Any]], list[Any]], items: list[Any], *,
                      rows: int, rows_per_item: int = 1,
                      length: Callable[[Any], int] = len) -> list[Any]:
    """``decode`` over ``items`` in batches of similar length, results in the order of ``items``.

    Items are sorted by ``length``, so a batch pads its inputs little and its
    search stops as soon as its own sequences have ended. Each call decodes
    ``rows`` decoder rows: ``rows // rows_per_item`` items (a beam search
    carries ``beam_width`` rows per item), so a wider beam takes no more memory.

    Example:
        >>> decode_in_batches(lambda batch: [x.upper() for x in batch], ["bb", "a", "ccc"],
        ...                   rows=2)
        ['BB', 'A', 'CCC']
    """
    per_call = max(1, rows // rows_per_item)
    order = sorted(range(len(items)), key=lambda i: length(items[i]))
    results: list[Any] = [None] * len(items)
    for start in range(0, len(order), per_call):
        chunk = order[start:start + per_call]
        for i, result in zip(chunk, decode([items[i] for i in chunk]), strict=True):
            results[i] = result
    return results


def attention_trace(encoder: Any, decoder_step: Any, ids: tf.Tensor, *, start_token: int,
                    end_token: int, max_length: int) -> tuple[list[int], list[list[float]]]:
    """Greedy decoding of one sequence with the attention weights of every output token.

    Args:
        encoder, decoder_step: The models of
            :func:`~rnn_templates.topologies.seq2seq_inference_models` built with
            ``return_attention=True``.
        ids: int ``(1, source_length)`` source token ids.

    Returns:
        The emitted ids (the end token included) and one row of weights over
        the source positions per emitted id.
    """
    memory, mask, *states = encoder(ids, training=False)
    memory = tf.identity(memory)  # drops the Keras mask: the step reads `mask` itself
    token, emitted, rows = start_token, [], []
    for _ in range(max_length):
        logits, *rest = decoder_step([tf.constant([[token]]), memory, mask, *states],
                                     training=False)
        states, weights = rest[:-1], rest[-1]
        token = int(tf.argmax(logits[0, 0]))
        emitted.append(token)
        rows.append([round(float(w), 3) for w in np.asarray(weights)[0, 0]])
        if token == end_token:
            break
    return emitted, rows


def strip_after_end(tokens: Any, end_token: int) -> list[list[int]]:
    """Python lists of ids up to (not including) the first ``end_token`` per row.

    Example:
        >>> strip_after_end([[5, 6, 3, 0], [7, 3, 0, 0]], end_token=3)
        [[5, 6], [7]]
    """
    rows = []
    for row in (tokens.numpy() if hasattr(tokens, "numpy") else tokens):
        ids = [int(t) for t in row]
        rows.append(ids[: ids.index(end_token)] if end_token in ids else ids)
    return rows
