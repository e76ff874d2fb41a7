"""build_one_to_one: one recurrent step from a vector, per cell and variant."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies import build_one_to_one
from tests.topologies.variants import CELLS, UNITS, VARIANTS


@pytest.mark.parametrize("cell", CELLS)
def test_shapes_per_variant(cell):
    for variant, options in VARIANTS.items():
        model = build_one_to_one(
            5, 3, output_activation="softmax", rnn={"cell": cell, "units": UNITS, **options}
        )
        assert model.input_shape == (None, 5)
        assert model.output_shape == (None, 3)
        assert model.get_layer("as_one_step").output.shape == (None, 1, 5)
        width = 2 * UNITS if options.get("merge_mode") == "concat" else UNITS
        last = f"rnn_{options.get('num_layers', 1)}"
        assert model.get_layer(last).output.shape == (None, width), variant
        out = to_numpy(model(np.ones((4, 5), "float32"), training=False))
        assert out.shape == (4, 3)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_names_and_default_cell():
    model = build_one_to_one(2, 1)
    assert [layer.name for layer in model.layers] == [
        "inputs", "as_one_step", "rnn_1", "output_head"
    ]
    assert isinstance(model.get_layer("rnn_1"), keras.layers.LSTM)
    assert model.get_layer("rnn_1").units == 64
    assert model.get_layer("output_head").units == 1
    assert model.name == "one_to_one"


def test_keras_save_and_reload_gives_identical_predictions(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 3)).astype("float32")
    for cell in CELLS:
        model = build_one_to_one(
            3, 2, rnn={"cell": cell, "units": 4, "num_layers": 2, "bidirectional": True}
        )
        before = to_numpy(model(x, training=False))
        model.save(tmp_path / f"{cell}.keras")
        reloaded = keras.models.load_model(tmp_path / f"{cell}.keras")
        np.testing.assert_allclose(to_numpy(reloaded(x, training=False)), before, atol=1e-6)
