"""Greedy and beam search over a step function: exactness, scores, stopping, compiling."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from rnn_templates.search import (
    beam_search,
    greedy_search,
    length_penalty_factor,
    strip_after_end,
    top_k,
)

PAD, END, START = 0, 1, 2
VOCAB, WIDTH = 6, 5


def _random_decoder(seed=0, vocab=VOCAB, width=WIDTH):
    """A small recurrent step function with random weights, and a call counter."""
    rng = np.random.default_rng(seed)
    embed = tf.constant(rng.normal(size=(vocab, width)), tf.float32)
    recur = tf.constant(rng.normal(size=(width, width)), tf.float32)
    read = tf.constant(rng.normal(size=(width, vocab)) * 2.0, tf.float32)
    context_weight = tf.constant(rng.normal(size=(width,)), tf.float32)
    calls = []

    def step(tokens, states, context):
        calls.append(int(tf.shape(tokens)[0]))
        (hidden,) = states
        hidden = tf.tanh(hidden @ recur + tf.gather(embed, tokens) + context * context_weight)
        return tf.nn.log_softmax(hidden @ read), [hidden]

    return step, calls


def _initial(batch, seed=1):
    rng = np.random.default_rng(seed)
    states = [tf.constant(rng.normal(size=(batch, WIDTH)), tf.float32)]
    context = tf.constant(rng.normal(size=(batch, 1)), tf.float32)
    return states, context


def _sequence_log_prob(step, states, context, tokens):
    """Teacher-forced summed log-probability of ``tokens`` (up to the end token)."""
    total, previous = 0.0, START
    for token in tokens:
        log_probs, states = step(tf.constant([previous]), states, context)
        total += float(log_probs[0, token])
        if token == END:
            break
        previous = token
    return total


def test_beam_width_one_is_greedy():
    step, _ = _random_decoder()
    states, context = _initial(8)
    greedy = greedy_search(step, states, context, start_token=START, end_token=END, max_length=7)
    beam = beam_search(step, states, context, start_token=START, end_token=END, max_length=7,
                       beam_width=1)
    np.testing.assert_array_equal(beam.tokens.numpy(), greedy.tokens.numpy())
    np.testing.assert_allclose(beam.scores.numpy(), greedy.scores.numpy(), atol=1e-5)
    np.testing.assert_array_equal(beam.lengths.numpy(), greedy.lengths.numpy())


@pytest.mark.parametrize("length_penalty", [0.0, 0.8])
def test_beam_scores_are_the_summed_log_probabilities_of_the_beams(length_penalty):
    step, _ = _random_decoder(seed=3)
    states, context = _initial(4, seed=4)
    result = beam_search(step, states, context, start_token=START, end_token=END, max_length=6,
                         beam_width=3, length_penalty=length_penalty)
    beams, scores = result.beam_tokens.numpy(), result.beam_scores.numpy()
    lengths = []
    for row in range(4):
        row_states, row_context = [states[0][row : row + 1]], context[row : row + 1]
        for k in range(3):
            ids = [int(t) for t in beams[row, k]]
            ended = ids[: ids.index(END) + 1] if END in ids else ids
            lengths.append(len(ended))
            expected = _sequence_log_prob(step, row_states, row_context, ended)
            assert scores[row, k] == pytest.approx(expected, abs=1e-4)
        # Best first by the ranking score.
        ranking = result.normalized_scores.numpy()[row]
        assert np.all(np.diff(ranking) <= 1e-6)
    expected_normalized = scores.ravel() / length_penalty_factor(
        np.array(lengths), length_penalty).numpy()
    np.testing.assert_allclose(result.normalized_scores.numpy().ravel(), expected_normalized,
                               rtol=1e-5)


def test_a_wide_beam_finds_the_exact_best_sequence():
    step, _ = _random_decoder(seed=5, vocab=4)
    states, context = _initial(3, seed=6)
    max_length = 3
    result = beam_search(step, states, context, start_token=START, end_token=END,
                         max_length=max_length, beam_width=64)
    for row in range(3):
        row_states, row_context = [states[0][row : row + 1]], context[row : row + 1]
        best = -np.inf
        for length in range(1, max_length + 1):
            for ids in itertools.product(range(4), repeat=length):
                if END in ids[:-1] or (length < max_length and ids[-1] != END):
                    continue
                best = max(best, _sequence_log_prob(step, row_states, row_context, list(ids)))
        assert result.scores.numpy()[row] == pytest.approx(best, abs=1e-4)


def test_search_stops_when_every_sequence_has_ended():
    # Token 3 always leads to the end token; the end token is likely only then.
    table = np.full((5, 5), -5.0, dtype="float32")
    table[:, 3] = -0.1
    table[3, :] = -5.0
    table[3, END] = -0.01
    log_table = tf.nn.log_softmax(tf.constant(table))
    calls = []

    def step(tokens, states, context):
        calls.append(1)
        return tf.gather(log_table, tokens), states

    states = [tf.zeros([4, 1])]
    result = greedy_search(step, states, start_token=START, end_token=END, max_length=50)
    assert len(calls) == 2  # "3", then the end token: not 50 steps
    assert strip_after_end(result.tokens, END) == [[3]] * 4
    calls.clear()
    beam = beam_search(step, states, start_token=START, end_token=END, max_length=50,
                       beam_width=2)
    assert len(calls) < 50
    assert strip_after_end(beam.tokens, END) == [[3]] * 4
    np.testing.assert_array_equal(beam.lengths.numpy(), [2] * 4)


@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.5])
def test_stopping_early_returns_the_best_beam_of_the_full_search(length_penalty):
    for seed in range(6):
        step, calls = _random_decoder(seed=seed, vocab=8)
        states, context = _initial(16, seed=seed + 10)
        options = dict(start_token=START, end_token=END, max_length=12, beam_width=4,
                       length_penalty=length_penalty)
        full = beam_search(step, states, context, stop_early=False, **options)
        full_steps = len(calls)
        calls.clear()
        early = beam_search(step, states, context, **options)
        assert len(calls) <= full_steps
        assert strip_after_end(early.tokens, END) == strip_after_end(full.tokens, END)
        np.testing.assert_allclose(early.scores.numpy(), full.scores.numpy(), atol=1e-5)
        np.testing.assert_array_equal(early.lengths.numpy(), full.lengths.numpy())


def test_stopping_early_skips_the_steps_of_beams_that_cannot_win():
    # The likely path ends after one token; the other beam wanders at -5 per token.
    table = np.full((5, 5), -5.0, dtype="float32")
    table[START, 3] = -0.01
    table[3, END] = -0.01
    log_table = tf.constant(table)
    calls = []

    def step(tokens, states, context):
        calls.append(1)
        return tf.gather(log_table, tokens), states

    options = dict(start_token=START, end_token=END, max_length=30, beam_width=2,
                   length_penalty=0.6)
    full = beam_search(step, [tf.zeros([3, 1])], stop_early=False, **options)
    assert len(calls) == 30  # the second beam never ends
    calls.clear()
    early = beam_search(step, [tf.zeros([3, 1])], **options)
    assert len(calls) == 2
    assert strip_after_end(early.tokens, END) == strip_after_end(full.tokens, END) == [[3]] * 3


def test_compiled_search_matches_eager_and_takes_a_beam_width_tensor():
    step, _ = _random_decoder(seed=7)
    states, context = _initial(5, seed=8)

    @tf.function(input_signature=[tf.TensorSpec([None, WIDTH]), tf.TensorSpec([None, 1]),
                                  tf.TensorSpec([], tf.int32)])
    def compiled(hidden, context, width):
        return beam_search(step, [hidden], context, start_token=START, end_token=END,
                           max_length=6, beam_width=width, length_penalty=0.6)

    for width in (1, 3):
        eager = beam_search(step, states, context, start_token=START, end_token=END,
                            max_length=6, beam_width=width, length_penalty=0.6)
        graph = compiled(states[0], context, tf.constant(width))
        np.testing.assert_array_equal(graph.tokens.numpy(), eager.tokens.numpy())
        np.testing.assert_allclose(graph.scores.numpy(), eager.scores.numpy(), atol=1e-5)


def test_beam_width_must_be_positive():
    step, _ = _random_decoder()
    states, context = _initial(2)
    with pytest.raises(ValueError, match="`beam_width` must be >= 1; received 0"):
        beam_search(step, states, context, start_token=START, end_token=END, max_length=3,
                    beam_width=0)


@pytest.mark.parametrize(("shape", "k", "rounding"), [
    ((7, 8000), 4, None),          # the translation vocabulary
    ((7, 8000), 4, 0),             # many ties, inside and across blocks
    ((3, 5, 1001), 9, 1),          # a leading beam axis; not a multiple of the block
    ((4, 300), 40, None),          # k above the number of blocks
    ((2, 100), 3, None),           # small enough for tf.math.top_k itself
])
def test_top_k_equals_tf_top_k_ties_included(shape, k, rounding):
    values = np.random.default_rng(k).normal(size=shape).astype("float32")
    if rounding is not None:
        values = np.round(values, rounding)
    values[..., 17] = -np.inf  # a token masked out
    expected = tf.math.top_k(values, k=k)
    for given_k in (k, tf.constant(k)):
        top, indices = top_k(tf.constant(values), given_k)
        np.testing.assert_array_equal(top.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_top_k_of_unknown_size_inside_a_graph():
    @tf.function(input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([], tf.int32)])
    def compiled(values, k):
        return top_k(values, k)

    values = np.random.default_rng(3).normal(size=(5, 700)).astype("float32")
    top, indices = compiled(tf.constant(values), tf.constant(6))
    expected = tf.math.top_k(values, k=6)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(top.numpy(), expected.values.numpy())


def test_beam_search_runs_its_first_step_once_per_input():
    step, calls = _random_decoder(seed=9)
    states, context = _initial(3, seed=10)
    beam_search(step, states, context, start_token=START, end_token=END, max_length=4,
                beam_width=4, stop_early=False)
    assert calls == [3, 12, 12, 12]  # the start token once per input, then every beam
    with pytest.raises(ValueError, match="`max_length` must be >= 1; received 0"):
        beam_search(step, states, context, start_token=START, end_token=END, max_length=0,
                    beam_width=4)
