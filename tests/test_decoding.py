"""Sampling (greedy, temperature, top-k, top-p) and stateful generation."""

import keras
import numpy as np
import pytest

from rnn_templates.decoding import generate, reset_states, sample_from_probabilities
from rnn_templates.topologies import build_many_to_many

PROBABILITIES = np.array([[0.05, 0.5, 0.3, 0.1, 0.05]])


def _draws(probabilities, count=4000, seed=0, **kwargs):
    rows = np.repeat(np.asarray(probabilities, dtype=np.float64), count, axis=0)
    return sample_from_probabilities(rows, rng=np.random.default_rng(seed), **kwargs)


def _frequencies(draws, size):
    return np.bincount(draws, minlength=size) / len(draws)


def test_greedy_and_top_k_1_are_argmax():
    rows = np.random.default_rng(3).dirichlet(np.ones(7), size=50)
    expected = rows.argmax(axis=-1)
    greedy = sample_from_probabilities(rows, temperature=0)
    np.testing.assert_array_equal(greedy, expected)
    assert greedy.shape == (50,)
    top1 = sample_from_probabilities(rows, top_k=1, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(top1, expected)
    # Greedy ignores the filters and needs no generator.
    np.testing.assert_array_equal(sample_from_probabilities(rows, temperature=0, top_k=3), expected)
    assert sample_from_probabilities(np.array([[0.1, 0.7, 0.2]]), temperature=0).tolist() == [1]


def test_plain_sampling_follows_the_probabilities():
    draws = _draws(PROBABILITIES, count=20000)
    assert np.issubdtype(draws.dtype, np.integer)
    np.testing.assert_allclose(_frequencies(draws, 5), PROBABILITIES[0], atol=0.015)


def test_same_seed_same_draws():
    rows = np.random.default_rng(1).dirichlet(np.ones(5), size=30)
    first = sample_from_probabilities(rows, rng=np.random.default_rng(7))
    again = sample_from_probabilities(rows, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    other = sample_from_probabilities(rows, rng=np.random.default_rng(8))
    assert not np.array_equal(first, other)


def test_top_k_keeps_only_the_k_most_likely():
    draws = _draws(PROBABILITIES, top_k=2)
    assert set(np.unique(draws)) == {1, 2}
    np.testing.assert_allclose(_frequencies(draws, 5)[[1, 2]], [0.5 / 0.8, 0.3 / 0.8], atol=0.03)
    # k at or above the vocabulary size changes nothing.
    assert set(np.unique(_draws(PROBABILITIES, top_k=5))) == {0, 1, 2, 3, 4}


def test_top_p_keeps_only_the_nucleus():
    # Sorted: 0.5, 0.3, 0.1, 0.05, 0.05. The smallest set reaching 0.75 is {1, 2}.
    draws = _draws(PROBABILITIES, top_p=0.75)
    assert set(np.unique(draws)) == {1, 2}
    np.testing.assert_allclose(_frequencies(draws, 5)[[1, 2]], [0.625, 0.375], atol=0.03)
    # Reaching 0.85 needs the third most likely too.
    assert set(np.unique(_draws(PROBABILITIES, top_p=0.85))) == {1, 2, 3}
    # The most likely entry always stays, however small p is.
    assert set(np.unique(_draws(PROBABILITIES, top_p=0.01))) == {1}
    assert set(np.unique(_draws(PROBABILITIES, top_p=1.0))) == {0, 1, 2, 3, 4}


def test_top_p_works_row_by_row():
    rows = np.array([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.34, 0.33, 0.33]])
    draws = sample_from_probabilities(
        np.repeat(rows, 2000, axis=0), top_p=0.5, rng=np.random.default_rng(0)
    ).reshape(3, 2000)
    assert set(np.unique(draws[0])) == {0}
    assert set(np.unique(draws[1])) == {2}
    assert set(np.unique(draws[2])) == {0, 1}


def test_an_impossible_token_stays_impossible_at_any_temperature():
    probabilities = np.array([[0.0, 0.5, 0.5, 0.0]])
    for temperature, top_k in ((10.0, None), (100.0, 3)):
        draws = _draws(probabilities, count=5000, temperature=temperature, top_k=top_k)
        assert set(np.unique(draws)) <= {1, 2}


def test_temperature_sharpens_and_flattens():
    cold = _frequencies(_draws(PROBABILITIES, temperature=0.1), 5)
    assert cold[1] > 0.99
    warm = _frequencies(_draws(PROBABILITIES, temperature=1.0), 5)
    hot = _frequencies(_draws(PROBABILITIES, temperature=20.0), 5)
    assert cold[1] > warm[1] > hot[1]
    np.testing.assert_allclose(hot, 0.2, atol=0.04)  # nearly uniform
    # Each temperature draws from exactly p ** (1 / T), normalised.
    for temperature in (0.5, 3.0, 20.0):
        expected = PROBABILITIES[0] ** (1 / temperature)
        np.testing.assert_allclose(
            _frequencies(_draws(PROBABILITIES, count=20000, temperature=temperature), 5),
            expected / expected.sum(), atol=0.012)
    # Temperature applies before top-p: sharpened, 0.5 alone reaches p=0.6.
    assert set(np.unique(_draws(PROBABILITIES, temperature=0.5, top_p=0.6))) == {1}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -0.5}, "`temperature` must be >= 0 and finite; received -0.5"),
        ({"top_k": -1}, "`top_k` must be an integer >= 1 (or 0/None: all); received -1"),
        ({"top_k": 2.5}, "`top_k` must be an integer >= 1 (or 0/None: all); received 2.5"),
        ({"top_p": 0.0}, "`top_p` must be in (0, 1]; received 0.0"),
        ({"top_p": 1.5}, "`top_p` must be in (0, 1]; received 1.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as caught:
        sample_from_probabilities(PROBABILITIES, **kwargs)
    assert str(caught.value) == message


def test_one_distribution_gives_one_index_and_logits_are_refused():
    row = PROBABILITIES[0]
    assert sample_from_probabilities(row, temperature=0) == 1
    drawn = sample_from_probabilities(row, rng=np.random.default_rng(0))
    assert np.ndim(drawn) == 0 and 0 <= drawn < 5
    assert drawn == sample_from_probabilities(PROBABILITIES, rng=np.random.default_rng(0))[0]
    # top_k=0 keeps every entry, as in generate.
    assert set(np.unique(_draws(PROBABILITIES, top_k=0))) == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match=r"logits\? apply keras.ops.softmax first"):
        sample_from_probabilities(np.array([[2.0, -1.0, 0.5]]))
    with pytest.raises(ValueError, match=r"must be \(batch, vocab\) or \(vocab,\)"):
        sample_from_probabilities(np.ones((2, 2, 2)) / 2)


# --- generate -----------------------------------------------------------------

VOCAB = 12


KERNEL_SCALE = {"lstm": 2.0, "gru": 1.0}  # chosen so greedy continuations vary


def _language_models(cell):
    """A non-stateful model and its stateful twin with the same weights."""
    rnn = {"cell": cell, "units": 8, "num_layers": 2}
    plain = build_many_to_many(
        VOCAB, vocab_size=VOCAB, embedding_dim=6, output_activation="softmax", rnn=rnn
    )
    # Larger kernels than the initialiser's give varied, prompt-dependent predictions;
    # a very negative output bias for id 0 keeps the padding id out of the continuations.
    rng = np.random.default_rng(0)
    plain.set_weights(
        [
            rng.normal(scale=KERNEL_SCALE[cell], size=w.shape) if w.ndim > 1 else w
            for w in plain.get_weights()
        ]
    )
    head = plain.get_layer("output_head")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, np.where(np.arange(VOCAB) == 0, -50.0, bias)])
    stateful = build_many_to_many(
        VOCAB, vocab_size=VOCAB, embedding_dim=6, output_activation="softmax", rnn=rnn,
        stateful=True, batch_size=3,
    )
    stateful.set_weights(plain.get_weights())
    return plain, stateful


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_greedy_generation_equals_an_argmax_loop_over_the_growing_sequence(cell):
    plain, stateful = _language_models(cell)
    prompts = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype="int32")
    generated = generate(stateful, prompts, 8, temperature=0)
    assert generated.shape == (3, 8)
    sequence = prompts.copy()
    for _ in range(8):
        probabilities = keras.ops.convert_to_numpy(plain(sequence, training=False))[:, -1]
        sequence = np.concatenate([sequence, probabilities.argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(generated, sequence[:, 3:])
    # The comparison means something: the continuations vary and depend on the prompt.
    assert len(np.unique(generated)) > 3
    assert not np.array_equal(generated[0], generated[1])
    assert generated.min() > 0
    # A second call starts afresh (states are reset), so it repeats itself.
    np.testing.assert_array_equal(generate(stateful, prompts, 8, temperature=0), generated)


def test_left_padded_prompts_continue_as_if_each_were_alone():
    _, stateful = _language_models("gru")
    padded = np.array([[0, 0, 5], [1, 2, 3], [0, 7, 8]], dtype="int32")
    together = generate(stateful, padded, 6, temperature=0)
    for row, prompt in enumerate(([5], [1, 2, 3], [7, 8])):
        alone = generate(stateful, np.array([prompt] * 3, dtype="int32"), 6, temperature=0)
        np.testing.assert_array_equal(together[row], alone[0])
    for bad in ([[1, 0, 3], [1, 2, 3], [4, 5, 6]], [[0, 0, 0], [1, 2, 3], [4, 5, 6]]):
        with pytest.raises(ValueError, match="row 0 holds the padding id 0 after its first "
                           "token \\(or only padding\\)"):
            generate(stateful, np.array(bad, dtype="int32"), 2)


def test_sampled_generation_is_reproducible_with_a_seed():
    _, stateful = _language_models("gru")
    prompts = np.array([[1], [2], [3]], dtype="int32")
    first = generate(stateful, prompts, 10, temperature=1.5, top_k=6, seed=11)
    again = generate(stateful, prompts, 10, temperature=1.5, top_k=6, seed=11)
    np.testing.assert_array_equal(first, again)
    assert first.min() >= 0 and first.max() < VOCAB
    other = generate(stateful, prompts, 10, temperature=1.5, top_k=6, seed=12)
    assert not np.array_equal(first, other)


def test_the_padding_id_of_a_masked_model_is_never_sampled():
    def favouring_zero(mask_zero):
        model = build_many_to_many(VOCAB, vocab_size=VOCAB, rnn={"units": 4},
                                   output_activation="softmax", mask_zero=mask_zero)
        head = model.get_layer("output_head")
        head.bias.assign(np.eye(VOCAB, dtype="float32")[0] * 20.0)
        return model

    prompts = np.array([[1, 2], [3, 4]], dtype="int32")
    masked = generate(favouring_zero(True), prompts, 6, temperature=0)
    assert masked.min() >= 1
    # Sampled too, at a high temperature and with a draw of exactly 0.
    from rnn_templates.sampling import RecurrentSampler

    sampler = RecurrentSampler.from_model(favouring_zero(True))
    assert sampler.sample(prompts, 6, temperature=100.0, seed=0).min() >= 1
    ops = keras.ops
    tokens = sampler.compiled(sampler.loop)(
        ops.convert_to_tensor(prompts), ops.zeros((6, 2)), ops.convert_to_tensor(100.0),
        ops.convert_to_tensor(0), ops.convert_to_tensor(1.0),
        ops.convert_to_tensor(np.zeros(2, "int32")))
    assert ops.convert_to_numpy(tokens).min() >= 1
    assert (generate(favouring_zero(False), prompts, 6, temperature=0) == 0).all()


def test_generate_edge_cases_and_reset_states():
    _, stateful = _language_models("lstm")
    prompts = np.array([[1, 2], [3, 4], [5, 6]], dtype="int32")
    empty = generate(stateful, prompts, 0)
    assert empty.shape == (3, 0)
    for bad in (np.array([1, 2, 3]), np.zeros((3, 0), dtype="int32")):
        with pytest.raises(ValueError) as caught:
            generate(stateful, bad, 2)
        assert str(caught.value) == (
            f"`prompts` must be (batch, length >= 1) ids; received shape {bad.shape}"
        )
    with pytest.raises(ValueError, match=r"token ids in \[0, 12\) \(the model's vocabulary\); "
                       "received ids from -1 to 12"):
        generate(stateful, np.array([[1, 12], [-1, 2], [3, 4]]), 2)
    with pytest.raises(ValueError, match="must be integer token ids"):
        generate(stateful, prompts.astype("float32"), 2)
    from rnn_templates.sampling import RecurrentSampler

    sampler = RecurrentSampler.from_model(stateful)
    for starts in ([0, 2, 0], [0, 0], [0, 1, 0, 1]):
        with pytest.raises(ValueError, match=r"`starts` must be one integer per prompt \(3\), "
                           r"each in \[0, 2\)"):
            sampler.sample(prompts, 2, starts=starts)
    # reset_states zeroes every stateful layer's carried state.
    stateful(prompts, training=False)
    layer = stateful.get_layer("rnn_1")
    assert np.abs(keras.ops.convert_to_numpy(layer.states[0])).max() > 0
    reset_states(stateful)
    for name in ("rnn_1", "rnn_2"):
        for state in stateful.get_layer(name).states:
            assert np.abs(keras.ops.convert_to_numpy(state)).max() == 0


def test_only_a_token_language_model_can_be_sampled():
    from rnn_templates.topologies import build_many_to_one

    prompts = np.array([[1, 2]])
    classifier = build_many_to_one(VOCAB, vocab_size=VOCAB, rnn={"units": 4})
    with pytest.raises(ValueError, match="answers once per sequence"):
        generate(classifier, prompts, 2)
    real = build_many_to_many(VOCAB, input_dim=3, rnn={"units": 4})
    with pytest.raises(ValueError, match="sampling needs a token language model"):
        generate(real, prompts, 2)
    tagger = build_many_to_many(5, vocab_size=VOCAB, rnn={"units": 4})
    with pytest.raises(ValueError, match="predicts 5 classes from 12 token ids"):
        generate(tagger, prompts, 2)
