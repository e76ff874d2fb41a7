"""Truncated BPTT: chunks in order, states carried and reset, equal to full BPTT in one chunk."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.tbptt import fit_tbptt, reset_states, stream_chunks


def _model(stateful: bool, streams: int) -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, 1), batch_size=streams if stateful else None)
    hidden = keras.layers.GRU(6, return_sequences=True, stateful=stateful, name="gru")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    return model


def _series(steps: int = 40):
    values = np.sin(np.arange(steps + 1) / 3.0).astype("float32")[:, None]
    return values[:-1], values[1:]  # predict the next value


def test_state_carries_across_chunks_like_one_long_pass():
    x, y = _series()
    stateful, full = _model(True, 2), _model(False, 2)
    full.set_weights(stateful.get_weights())
    chunks, unused = stream_chunks(x, y, streams=2, chunk=7)
    assert unused == 0 and [c[0].shape[1] for c in chunks] == [7, 7, 6]
    pieces = [to_numpy(stateful(c[0])) for c in chunks]
    whole = to_numpy(full(x.reshape(2, 20, 1)))
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)
    reset_states(stateful)
    np.testing.assert_allclose(to_numpy(stateful(chunks[0][0])), whole[:, :7], atol=1e-5)


ON_JAX = pytest.mark.skipif(keras.backend.backend() == "jax",
                            reason="fit_tbptt refuses JAX (test_jax_is_refused_in_one_line)")


def test_jax_is_refused_in_one_line(monkeypatch):
    x, y = _series()
    model = _model(True, 2)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="fit_tbptt needs the TensorFlow backend: on JAX"):
        fit_tbptt(model, [(x, y)], streams=2, chunk=10)


@ON_JAX
def test_tbptt_in_one_chunk_equals_full_bptt():
    x, y = _series()
    stateful, full = _model(True, 2), _model(False, 2)
    full.set_weights(stateful.get_weights())
    fit_tbptt(stateful, [(x, y)], streams=2, chunk=20, epochs=3)
    for _ in range(3):
        full.train_on_batch(x.reshape(2, 20, 1), y.reshape(2, 20, 1))
    for a, b in zip(stateful.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@ON_JAX
def test_shorter_chunks_truncate_the_gradient_and_still_learn():
    x, y = _series(200)
    stateful, full = _model(True, 4), _model(False, 4)
    full.set_weights(stateful.get_weights())
    one_step = fit_tbptt(stateful, [(x, y)], streams=4, chunk=10, epochs=1)
    full.train_on_batch(x.reshape(4, 50, 1), y.reshape(4, 50, 1))
    # Five updates on 10-step chunks are not one update over 50 steps.
    assert not np.allclose(stateful.get_weights()[0], full.get_weights()[0], atol=1e-4)
    losses = fit_tbptt(stateful, [(x, y), (x[::-1].copy(), y[::-1].copy())], streams=4,
                       chunk=10, epochs=15)
    assert losses[-1] < 0.5 * one_step[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="`streams` must be at most the series length"):
        stream_chunks(np.zeros((3, 1)), np.zeros((3, 1)), streams=5, chunk=2)
    for streams, chunk in ((1, 0), (1, 2.5), (True, 2)):
        with pytest.raises(ValueError, match="`streams` and `chunk` must be positive integers"):
            stream_chunks(np.zeros((3, 1)), np.zeros((3, 1)), streams=streams, chunk=chunk)
    with pytest.raises(ValueError, match="same number of steps; received 3 and 2"):
        stream_chunks(np.zeros((3, 1)), np.zeros((2, 1)), streams=1, chunk=2)
    x, y = _series()
    with pytest.raises(ValueError, match="`model` has no stateful recurrent layer"):
        fit_tbptt(_model(False, 2), [(x, y)], streams=2, chunk=10)
    with pytest.raises(ValueError, match=r"`streams` \(3\) must equal the stateful model's "
                       r"batch size \(2\)"):
        fit_tbptt(_model(True, 2), [(x, y)], streams=3, chunk=10)
    with pytest.raises(ValueError, match="received one pair: wrap it in a list"):
        fit_tbptt(_model(True, 2), (x, y), streams=2, chunk=10)
