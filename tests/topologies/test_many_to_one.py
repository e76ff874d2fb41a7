"""build_many_to_one: shapes per cell and variant, masking, layer names, save/reload.

Each test builds several tiny models in a loop rather than being parametrized
over every variant: the per-test teardown (``keras.backend.clear_session``)
costs more than building a model.
"""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies import build_many_to_one
from tests.topologies.variants import CELLS, UNITS
from tests.topologies.variants import VARIANTS as SHARED_VARIANTS

VARIANTS = {**SHARED_VARIANTS, "bidi_stacked": {"bidirectional": True, "num_layers": 2}}


def _width(variant):
    concat = VARIANTS[variant].get("bidirectional") and VARIANTS[variant].get(
        "merge_mode", "concat") == "concat"
    return 2 * UNITS if concat else UNITS


@pytest.mark.parametrize("cell", CELLS)
def test_token_input_shapes_per_variant(cell):
    tokens = np.array([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 0, 0]], dtype="int32")
    for variant, options in VARIANTS.items():
        if variant == "bidi_stacked":
            continue  # built in the padding test
        model = build_many_to_one(
            3, vocab_size=11, embedding_dim=5, output_activation="softmax",
            rnn={"cell": cell, "units": UNITS, **options},
        )
        assert model.output_shape == (None, 3), variant
        assert model.get_layer("embedding").output.shape == (None, None, 5)
        layers = options.get("num_layers", 1)
        assert model.get_layer(f"rnn_{layers}").output.shape == (None, _width(variant)), variant
        if layers == 2:
            # Every layer but the last returns the whole sequence.
            assert model.get_layer("rnn_1").output.shape == (None, None, _width(variant))
        out = to_numpy(model(tokens, training=False))
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_real_valued_input_shapes(cell):
    model = build_many_to_one(2, input_dim=3, timesteps=7, rnn={"cell": cell, "units": UNITS})
    assert model.input_shape == (None, 7, 3)
    assert model.output_shape == (None, 2)
    assert isinstance(model.get_layer("rnn_1"), keras.layers.RNN)
    out = to_numpy(model(np.ones((4, 7, 3), "float32"), training=False))
    assert out.shape == (4, 2)
    # No masking layer unless mask_value is given.
    with pytest.raises(ValueError):
        model.get_layer("masking")


@pytest.mark.parametrize("cell", CELLS)
def test_right_padding_does_not_change_the_answer(cell):
    sequences = [[3, 1, 4, 1, 5], [5, 3, 5, 8, 9, 7, 9]]
    padded = np.zeros((len(sequences), 10), dtype="int32")
    for row, sequence in enumerate(sequences):
        padded[row, : len(sequence)] = sequence
    for variant in ("plain", "bidi_stacked"):
        options = VARIANTS[variant]
        model = build_many_to_one(
            2, vocab_size=20, embedding_dim=6, rnn={"cell": cell, "units": 6, **options}
        )
        batched = to_numpy(model(padded, training=False))
        for row, sequence in enumerate(sequences):
            alone = to_numpy(model(np.array([sequence], dtype="int32"), training=False))
            np.testing.assert_allclose(batched[row], alone[0], atol=1e-5, err_msg=variant)
        # The check can fail: without the mask, padding would change the answer.
        # (A NumPy array carries no Keras mask.)
        hidden = to_numpy(model.get_layer("embedding")(padded[:1]))
        for index in range(1, options.get("num_layers", 1) + 1):
            hidden = to_numpy(model.get_layer(f"rnn_{index}")(hidden))
        unmasked = to_numpy(model.get_layer("output_head")(hidden))
        assert np.abs(unmasked[0] - batched[0]).max() > 1e-5, variant


def test_without_mask_zero_id_0_is_read_like_any_token():
    padded = np.array([[3, 1, 4, 0, 0]], dtype="int32")
    masked = build_many_to_one(2, vocab_size=20, embedding_dim=6, rnn={"units": 6})
    plain = build_many_to_one(2, vocab_size=20, embedding_dim=6, rnn={"units": 6},
                              mask_zero=False)
    plain.set_weights(masked.get_weights())
    assert not plain.get_layer("embedding").mask_zero
    # The masked model answers from the last real token, the plain one reads the zeros.
    np.testing.assert_allclose(to_numpy(masked(padded[:, :3])), to_numpy(masked(padded)),
                               atol=1e-5)
    assert np.abs(to_numpy(plain(padded)) - to_numpy(masked(padded))).max() > 1e-4


def test_real_valued_mask_value_ignores_padded_steps():
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(1, 4, 2)).astype("float32")
    padded = np.concatenate([steps, np.full((1, 3, 2), -1.0, "float32")], axis=1)
    for cell in CELLS:
        model = build_many_to_one(
            1, input_dim=2, mask_value=-1.0, rnn={"cell": cell, "units": 5, "bidirectional": True}
        )
        assert model.get_layer("masking").mask_value == -1.0
        np.testing.assert_allclose(
            to_numpy(model(padded, training=False)),
            to_numpy(model(steps, training=False)),
            atol=1e-5,
            err_msg=cell,
        )


def test_layer_names_are_reachable():
    model = build_many_to_one(2, vocab_size=10, embedding_dim=4, rnn={"units": 4, "num_layers": 2})
    assert [layer.name for layer in model.layers] == [
        "inputs", "embedding", "rnn_1", "rnn_2", "output_head"
    ]
    assert model.name == "many_to_one"
    assert isinstance(model.get_layer("embedding"), keras.layers.Embedding)
    assert model.get_layer("embedding").mask_zero is True
    assert isinstance(model.get_layer("rnn_1"), keras.layers.LSTM)
    assert isinstance(model.get_layer("output_head"), keras.layers.Dense)
    bidi = build_many_to_one(2, input_dim=3, rnn={"cell": "gru", "units": 4, "bidirectional": True})
    wrapper = bidi.get_layer("rnn_1")
    assert isinstance(wrapper, keras.layers.Bidirectional)
    assert isinstance(wrapper.forward_layer, keras.layers.GRU)
    dropout = build_many_to_one(2, input_dim=3, head_dropout=0.5, rnn={"units": 4})
    assert dropout.get_layer("output_head_dropout").rate == 0.5
    x = np.ones((2, 4, 3), "float32")
    np.testing.assert_array_equal(to_numpy(dropout(x)), to_numpy(dropout(x)))


BAD_ARGUMENTS = [
    ({}, "give exactly one of `vocab_size` (token ids in) or `input_dim` (real-valued "
         "features in); received vocab_size=None, input_dim=None"),
    ({"vocab_size": 5, "input_dim": 3},
     "give exactly one of `vocab_size` (token ids in) or `input_dim` (real-valued "
     "features in); received vocab_size=5, input_dim=3"),
    ({"vocab_size": 1}, "`vocab_size` must be an integer >= 2; received 1"),
    ({"input_dim": 0}, "`input_dim` must be a positive integer; received 0"),
    ({"input_dim": 3, "rnn": {"celll": "gru"}},
     "unknown recurrent option(s) celll; valid options: activation, bidirectional, cell, "
     "dropout, merge_mode, num_layers, recurrent_dropout, units, unroll"),
    ({"input_dim": 3, "rnn": 5}, "`rnn` must be a RecurrentConfig or dict; received int"),
    ({"input_dim": 3, "rnn": {"cell": "rnn"}},
     "`cell` must be one of 'simple', 'lstm', 'gru'; received 'rnn'"),
]


def test_bad_arguments_name_the_option():
    for kwargs, message in BAD_ARGUMENTS:
        with pytest.raises(ValueError) as caught:
            build_many_to_one(2, **kwargs)
        assert str(caught.value) == message
    with pytest.raises(ValueError) as caught:
        build_many_to_one(0, input_dim=3)
    assert str(caught.value) == "`output_dim` must be a positive integer; received 0"


@pytest.mark.parametrize("kwargs, message", [
    ({"vocab_size": 10, "embedding_dim": 0}, "`embedding_dim` must be a positive integer; "
     "received 0"),
    ({"vocab_size": 10, "timesteps": 0}, "`timesteps` must be a positive integer or None; "
     "received 0"),
    ({"vocab_size": 10, "head_dropout": 2.0}, "`head_dropout` must be a number in [0, 1); "
     "received 2.0"),
    ({"vocab_size": 10, "embedding_dropout": -1.0}, "`embedding_dropout` must be a number in "
     "[0, 1); received -1.0"),
    ({"vocab_size": 10, "members": 2.5}, "`members` must be a positive integer; received 2.5"),
    ({"vocab_size": 10, "mask_value": 0.0}, "`mask_value` masks real-valued steps "
     "(`input_dim`); token ids are masked by `mask_zero` (id 0 is padding)"),
    ({"vocab_size": 10, "freeze": "always"}, "`freeze='always'` needs `pretrained` vectors "
     "(a random embedding that is frozen never learns)"),
    ({"input_dim": 3.0}, "`input_dim` must be a positive integer; received 3.0"),
])
def test_every_size_and_rate_is_checked_by_its_own_name(kwargs, message):
    with pytest.raises(ValueError) as caught:
        build_many_to_one(2, **kwargs)
    assert str(caught.value) == message


def test_numpy_integers_and_a_list_of_vectors_are_accepted():
    vectors = [[0.0, 0.0], [1.0, 1.0], [0.5, -0.5]]
    model = build_many_to_one(np.int64(2), vocab_size=np.int64(3), embedding_dim=2,
                              pretrained=vectors, rnn={"units": np.int32(4)},
                              members=np.int64(2))
    assert tuple(model.output_shape) == (None, 2)
    np.testing.assert_allclose(to_numpy(model.get_layer("member_1").get_layer(
        "embedding").embeddings), vectors)


@pytest.mark.parametrize("cell", CELLS)
def test_keras_save_and_reload_gives_identical_predictions(cell, tmp_path):
    model = build_many_to_one(
        3, vocab_size=12, embedding_dim=4, output_activation="softmax",
        rnn={"cell": cell, "units": 4, "bidirectional": True, "num_layers": 2},
    )
    tokens = np.array([[1, 2, 3, 4, 0, 0], [5, 6, 7, 8, 9, 10]], dtype="int32")
    before = to_numpy(model(tokens, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.name == "many_to_one"
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(to_numpy(reloaded(tokens, training=False)), before, atol=1e-6)
