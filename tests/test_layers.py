"""TrimPadding: cut right padding to the longest real sequence, and survive save/reload."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.layers import TrimPadding
from rnn_templates.topologies import build_many_to_one


def test_cuts_to_the_longest_real_length():
    ids = np.array([[1, 2, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]], dtype="int32")
    trimmed = to_numpy(TrimPadding()(ids))
    np.testing.assert_array_equal(trimmed, ids[:, :3])
    full = np.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
    np.testing.assert_array_equal(to_numpy(TrimPadding()(full)), full)


def test_keeps_at_least_one_column():
    trimmed = to_numpy(TrimPadding()(np.zeros((2, 5), dtype="int32")))
    np.testing.assert_array_equal(trimmed, np.zeros((2, 1), dtype="int32"))


def test_output_shape_and_config():
    layer = TrimPadding(name="trim")
    assert layer.compute_output_shape((None, 400)) == (None, None)
    assert tuple(layer(keras.Input((400,), dtype="int32")).shape) == (None, None)
    clone = TrimPadding.from_config(layer.get_config())
    assert clone.name == "trim"
    registered = keras.saving.get_registered_object("rnn_templates>TrimPadding")
    assert registered is TrimPadding


def _trimmed_model():
    inputs = keras.Input((12,), dtype="int32", name="ids")
    trimmed = TrimPadding(name="trim")(inputs)
    classifier = build_many_to_one(
        2, vocab_size=20, embedding_dim=4, output_activation="softmax",
        rnn={"cell": "gru", "units": 4, "bidirectional": True},
    )
    return keras.Model(inputs, classifier(trimmed), name="trimmed"), classifier


def test_trimming_does_not_change_a_masked_model_answer():
    model, classifier = _trimmed_model()
    ids = np.zeros((3, 12), dtype="int32")
    ids[0, :3] = [4, 5, 6]
    ids[1, :5] = [7, 8, 9, 10, 11]
    ids[2, :1] = [12]
    np.testing.assert_allclose(
        to_numpy(model(ids, training=False)),
        to_numpy(classifier(ids, training=False)),
        atol=1e-6,
    )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="a batch-dependent length needs TensorFlow's dynamic shapes; JAX "
                    "compiles fixed shapes (TrimPadding serves the TensorFlow string models)")
def test_a_model_with_trim_padding_survives_keras_save_and_reload(tmp_path):
    model, _ = _trimmed_model()
    ids = np.zeros((2, 12), dtype="int32")
    ids[0, :4] = [1, 2, 3, 4]
    ids[1, :2] = [5, 6]
    before = to_numpy(model(ids, training=False))
    model.save(tmp_path / "trimmed.keras")
    reloaded = keras.models.load_model(tmp_path / "trimmed.keras")
    assert isinstance(reloaded.get_layer("trim"), TrimPadding)
    np.testing.assert_allclose(to_numpy(reloaded(ids, training=False)), before, atol=1e-6)
    # Compiled prediction (graph mode, batches of different lengths) agrees too.
    np.testing.assert_allclose(reloaded.predict(ids, verbose=0, batch_size=1), before, atol=1e-6)

