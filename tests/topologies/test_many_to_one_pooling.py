"""Many-to-one pooling options and the masked max-pooling layer."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates import build_many_to_one
from rnn_templates.layers import MaskedGlobalMaxPooling1D


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean_max"])
def test_pooling_ignores_padding_and_survives_reload(tmp_path, pooling):
    model = build_many_to_one(3, vocab_size=30, embedding_dim=4, pooling=pooling,
                              embedding_dropout=0.3, rnn={"units": 5, "bidirectional": True})
    padded = np.array([[4, 9, 2, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(padded, verbose=0)[:1],
                               model.predict(padded[:1, :3], verbose=0), atol=1e-6)
    if pooling != "last":
        width = model.get_layer("pooling").output.shape[-1]
        assert width == (20 if pooling == "mean_max" else 10)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    # atol 1e-5: GPUs (TF32 matrix products) differ from run to run by a few 1e-6.
    np.testing.assert_allclose(reloaded.predict(padded, verbose=0),
                               model.predict(padded, verbose=0), atol=1e-5)


def test_bad_pooling_lists_the_valid_ones():
    with pytest.raises(ValueError) as caught:
        build_many_to_one(2, vocab_size=10, pooling="attention")
    assert str(caught.value) == (
        "`pooling` must be one of 'last', 'mean', 'max', 'mean_max'; received 'attention'"
    )


def test_masked_max_skips_padded_steps():
    values = np.array([[[-3.0, -1.0], [-2.0, -5.0], [0.0, 0.0]],
                       [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]], dtype="float32")
    mask = np.array([[True, True, False], [False, False, False]])
    pooled = to_numpy(MaskedGlobalMaxPooling1D()(values, mask=mask))
    # Unmasked, the zero padding would win; an all-padding row gives zeros.
    np.testing.assert_allclose(pooled, [[-2.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(to_numpy(MaskedGlobalMaxPooling1D()(values)),
                               [[0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("options", [
    {"pooling": "mean_max"}, {"ngram_buckets": 16},
    *(pytest.param(o, marks=pytest.mark.slow) for o in ({"pooling": "mean"}, {"pooling": "max"}))])
def test_a_text_with_no_tokens_trains_to_a_finite_loss(options):
    # A phrase of punctuation only ("," in SST-2) has no tokens left: all padding.
    model = build_many_to_one(2, vocab_size=30, embedding_dim=4, rnn={"units": 3},
                              output_activation="softmax", **options)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = np.array([[4, 9, 2], [0, 0, 0], [7, 5, 0]], dtype="int32")
    history = model.fit(ids, np.array([1, 0, 1]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(model.predict(ids, verbose=0)).all()
