"""build_many_to_many: shapes, mask propagation to the loss, stateful mode, save/reload."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies import build_many_to_many
from tests.topologies.variants import CELLS, UNITS, VARIANTS

TOKENS = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], dtype="int32")


@pytest.mark.parametrize("cell", CELLS)
def test_token_shapes_and_output_mask_per_variant(cell):
    for variant, options in VARIANTS.items():
        model = build_many_to_many(
            6, vocab_size=9, embedding_dim=4, rnn={"cell": cell, "units": UNITS, **options}
        )
        assert model.output_shape == (None, None, 6)
        width = 2 * UNITS if options.get("merge_mode") == "concat" else UNITS
        last = f"rnn_{options.get('num_layers', 1)}"
        assert model.get_layer(last).output.shape == (None, None, width), variant
        out = model(TOKENS, training=False)
        assert tuple(out.shape) == (2, 5, 6)
        # The input mask reaches the model's output, so losses and metrics skip padding.
        np.testing.assert_array_equal(to_numpy(out._keras_mask), TOKENS != 0, err_msg=variant)


def test_real_valued_input_with_mask_value():
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    x[0, 4:] = 0.0
    for cell in CELLS:
        model = build_many_to_many(
            2, input_dim=3, mask_value=0.0, output_activation="sigmoid",
            rnn={"cell": cell, "units": 4},
        )
        assert model.get_layer("masking").mask_value == 0.0
        out = model(x, training=False)
        assert tuple(out.shape) == (2, 6, 2)
        assert np.all((to_numpy(out) > 0) & (to_numpy(out) < 1))
        np.testing.assert_array_equal(
            to_numpy(out._keras_mask), [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
        )
        # Steps before the padding do not depend on it (the stack reads left to right).
        np.testing.assert_allclose(
            to_numpy(model(x[:1, :4], training=False))[0], to_numpy(out)[0, :4], atol=1e-5
        )


def test_loss_ignores_labels_at_padded_steps():
    model = build_many_to_many(
        4, vocab_size=9, embedding_dim=4, output_activation="softmax", rnn={"units": 4}
    )
    model.compile(loss="sparse_categorical_crossentropy")
    labels = np.array([[1, 2, 3, 0, 0], [3, 2, 1, 0, 1]])
    other = labels.copy()
    other[0, 3:] = [3, 2]  # differs only where the input is padding
    loss = model.evaluate(TOKENS, labels, verbose=0, batch_size=2)
    assert model.evaluate(TOKENS, other, verbose=0, batch_size=2) == pytest.approx(loss, abs=1e-6)
    changed = labels.copy()
    changed[1, 4] = 3  # a real step: the loss must move
    assert model.evaluate(TOKENS, changed, verbose=0, batch_size=2) != pytest.approx(loss, abs=1e-6)


def test_stateful_needs_batch_size_and_forbids_bidirectional():
    with pytest.raises(ValueError) as caught:
        build_many_to_many(3, vocab_size=5, stateful=True)
    assert str(caught.value) == (
        "`stateful=True` needs a fixed `batch_size`; received batch_size=None"
    )
    with pytest.raises(ValueError) as caught:
        build_many_to_many(
            3, vocab_size=5, stateful=True, batch_size=2, rnn={"bidirectional": True}
        )
    assert str(caught.value) == (
        "`stateful=True` cannot be combined with `bidirectional=True`: a stateful "
        "model is read left to right across calls"
    )


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_chunks_equal_one_long_call(cell):
    rnn = {"cell": cell, "units": 4, "num_layers": 2}
    plain = build_many_to_many(3, vocab_size=10, embedding_dim=4, rnn=rnn)
    stateful = build_many_to_many(
        3, vocab_size=10, embedding_dim=4, rnn=rnn, stateful=True, batch_size=2
    )
    assert stateful.input_shape == (2, None)
    assert stateful.get_layer("rnn_1").stateful and stateful.get_layer("rnn_2").stateful
    stateful.set_weights(plain.get_weights())
    tokens = TOKENS[:, ::-1] + 1  # no padding
    whole = to_numpy(plain(tokens, training=False))
    chunks = [
        to_numpy(stateful(chunk, training=False)) for chunk in np.split(tokens, [2, 3], axis=1)
    ]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, atol=1e-5)


def test_layer_names_and_save_reload_for_each_cell(tmp_path):
    for cell in CELLS:
        model = build_many_to_many(
            5, vocab_size=9, embedding_dim=4, output_activation="softmax",
            rnn={"cell": cell, "units": 4, "bidirectional": True, "merge_mode": "sum"},
        )
        assert [layer.name for layer in model.layers] == [
            "inputs", "embedding", "rnn_1", "output_head"
        ]
        assert model.name == "many_to_many"
        assert model.get_layer("rnn_1").forward_layer.return_sequences
        before = model(TOKENS, training=False)
        model.save(tmp_path / f"{cell}.keras")
        reloaded = keras.models.load_model(tmp_path / f"{cell}.keras")
        after = reloaded(TOKENS, training=False)
        np.testing.assert_allclose(to_numpy(after), to_numpy(before), atol=1e-6, err_msg=cell)
        np.testing.assert_array_equal(to_numpy(after._keras_mask), TOKENS != 0)
