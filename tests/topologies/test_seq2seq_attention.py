"""Luong and Bahdanau attention in build_seq2seq: shapes, masks, step decoding, a learnt task."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.search import beam_search, greedy_search, keras_step
from rnn_templates.topologies import build_seq2seq, seq2seq_inference_models

SOURCE = np.array([[3, 4, 5, 2, 0, 0], [1, 2, 3, 4, 5, 6]], dtype="int32")
TARGET_IN = np.array([[1, 3, 4, 2, 5], [1, 6, 2, 3, 4]], dtype="int32")


def _model(attention, **rnn):
    return build_seq2seq(7, source_vocab_size=9, target_vocab_size=7, embedding_dim=4,
                         rnn={"cell": "gru", "units": 4, **rnn}, attention=attention,
                         output_activation=None)


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_attention_weights_have_one_row_per_step_and_skip_padding(attention):
    model = _model(attention, bidirectional=True)
    assert model.get_layer("attention_query") is not None
    encoder, step = seq2seq_inference_models(model, return_attention=True)
    memory, mask, *states = encoder(SOURCE)
    forced = to_numpy(model([SOURCE, TARGET_IN], training=False))
    outputs = []
    for t in range(TARGET_IN.shape[1]):
        token = keras.ops.convert_to_tensor(TARGET_IN[:, t : t + 1])
        logits, *rest = step([token, memory, mask, *states])
        states, weights = rest[:-1], to_numpy(rest[-1])
        assert weights.shape == (2, 1, 6)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(weights[0, 0, 4:], 0.0, atol=1e-6)  # padded source steps
        outputs.append(to_numpy(logits))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), forced, atol=1e-5)


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_padding_does_not_change_the_translation_model(attention):
    model = _model(attention)
    short = model([SOURCE[:1, :4], TARGET_IN[:1]], training=False)
    padded = model([SOURCE[:1], TARGET_IN[:1]], training=False)
    np.testing.assert_allclose(to_numpy(padded), to_numpy(short), atol=1e-5)


def test_attention_kind_and_dropout_are_checked():
    with pytest.raises(ValueError, match="`attention` must be False, True or one of 'dot', "
                       "'luong', 'bahdanau'; received 'general'"):
        _model("general")
    with pytest.raises(ValueError, match=r"`dropout` must be a number in \[0, 1\); received 1.5"):
        build_seq2seq(5, source_vocab_size=5, target_vocab_size=5, dropout=1.5)
    with pytest.raises(ValueError, match="has no attention layer"):
        seq2seq_inference_models(_model(None), return_attention=True)


def test_attention_models_save_and_reload(tmp_path):
    model = _model("bahdanau", num_layers=2)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(to_numpy(reloaded([SOURCE, TARGET_IN])),
                               to_numpy(model([SOURCE, TARGET_IN])), atol=1e-6)
    seq2seq_inference_models(reloaded, return_attention=True)


@pytest.mark.slow
def test_a_reversal_task_is_learnt_and_decoded_nearly_perfectly():
    # Reverse 2-5 symbols; ids 0 pad, 1 start, 2 end, 3.. symbols.
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    symbols, count, longest = 8, 3000, 5

    def batch(n):
        lengths = rng.integers(2, longest + 1, size=n)
        source = np.zeros((n, longest), "int32")
        decoder_in = np.zeros((n, longest + 1), "int32")
        decoder_out = np.zeros((n, longest + 1), "int32")
        for row, length in enumerate(lengths):
            sequence = rng.integers(3, 3 + symbols, size=length)
            source[row, :length] = sequence
            decoder_in[row, : length + 1] = [1, *sequence[::-1]]
            decoder_out[row, : length + 1] = [*sequence[::-1], 2]
        return source, decoder_in, decoder_out

    source, decoder_in, decoder_out = batch(count)
    model = build_seq2seq(3 + symbols, source_vocab_size=3 + symbols,
                          target_vocab_size=3 + symbols, embedding_dim=16,
                          rnn={"cell": "gru", "units": 48}, attention="luong",
                          output_activation=None)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit([source, decoder_in], decoder_out, sample_weight=(decoder_out > 0) | (
        decoder_out == 2), batch_size=64, epochs=6, verbose=0)
    test_source, _, test_out = batch(300)
    encoder, step = seq2seq_inference_models(model)
    memory, mask, *states = encoder(test_source)
    result = greedy_search(keras_step(step, len(states)), states, [memory, mask], start_token=1,
                           end_token=2, max_length=longest + 2)
    tokens = result.tokens.numpy()
    expected = np.zeros_like(tokens)
    expected[:, : test_out.shape[1]] = test_out[:, : tokens.shape[1]]
    exact = np.mean([np.array_equal(t, e) for t, e in zip(tokens, expected, strict=True)])
    assert exact > 0.9
    beam = beam_search(keras_step(step, len(states)), states, [memory, mask], start_token=1,
                       end_token=2, max_length=longest + 2, beam_width=1)
    np.testing.assert_array_equal(beam.tokens.numpy(), tokens)
    assert tf.reduce_all(result.lengths > 1)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the search runs in TensorFlow ops, for the SavedModel")
@pytest.mark.filterwarnings("error::UserWarning")  # no 'destroys the mask' warning
def test_keras_step_reads_a_softmax_head_as_probabilities():
    # build_seq2seq's default head ends in a softmax: the step must give the same
    # log-probabilities (and so the same beams and scores) as over a linear head.
    kwargs = {"source_vocab_size": 12, "target_vocab_size": 10, "embedding_dim": 8,
              "rnn": {"cell": "gru", "units": 16}, "attention": True}
    softmax = build_seq2seq(10, **kwargs)
    linear = build_seq2seq(10, output_activation=None, **kwargs)
    linear.set_weights(softmax.get_weights())
    source = np.random.default_rng(0).integers(3, 12, size=(8, 5))
    results = []
    for model in (softmax, linear):
        encoder, step = seq2seq_inference_models(model)
        memory, mask, *states = encoder(source)
        results.append(beam_search(keras_step(step, len(states)), states, [memory, mask],
                                   start_token=1, end_token=2, max_length=6, beam_width=4))
    np.testing.assert_array_equal(results[0].tokens.numpy(), results[1].tokens.numpy())
    np.testing.assert_allclose(results[0].scores.numpy(), results[1].scores.numpy(), atol=1e-4)
