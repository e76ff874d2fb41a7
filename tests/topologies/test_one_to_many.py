"""build_one_to_many: a vector conditions a fixed-length output sequence."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies import build_one_to_many
from tests.topologies.variants import CELLS, UNITS, VARIANTS


@pytest.mark.parametrize("cell", CELLS)
def test_shapes_per_variant(cell):
    for variant, options in VARIANTS.items():
        model = build_one_to_many(
            3, output_steps=6, output_dim=5, output_activation="softmax",
            rnn={"cell": cell, "units": UNITS, **options},
        )
        assert model.input_shape == (None, 3)
        assert model.output_shape == (None, 6, 5)
        assert model.get_layer("condition").output.shape == (None, UNITS)
        assert model.get_layer("repeat").output.shape == (None, 6, UNITS)
        width = 2 * UNITS if options.get("merge_mode") == "concat" else UNITS
        last = f"rnn_{options.get('num_layers', 1)}"
        assert model.get_layer(last).output.shape == (None, 6, width), variant
        out = to_numpy(model(np.ones((2, 3), "float32"), training=False))
        assert out.shape == (2, 6, 5)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_names_and_evolving_steps():
    model = build_one_to_many(3, output_steps=4, output_dim=2, rnn={"cell": "gru", "units": 4})
    assert [layer.name for layer in model.layers] == [
        "inputs", "condition", "repeat", "rnn_1", "output_head"
    ]
    assert model.name == "one_to_many"
    out = to_numpy(model(np.ones((1, 3), "float32"), training=False))[0]
    # The same input at every step still gives different outputs: the state evolves.
    assert np.abs(out[0] - out[-1]).max() > 1e-6


def test_bad_output_steps():
    for steps in (0, -1, 2.0, None):
        with pytest.raises(ValueError) as caught:
            build_one_to_many(3, output_steps=steps, output_dim=2)
        assert str(caught.value) == (
            f"`output_steps` must be a positive integer; received {steps!r}"
        )


def test_keras_save_and_reload_gives_identical_predictions(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    for cell in CELLS:
        model = build_one_to_many(
            3, output_steps=5, output_dim=4, rnn={"cell": cell, "units": 4, "num_layers": 2}
        )
        before = to_numpy(model(x, training=False))
        model.save(tmp_path / f"{cell}.keras")
        reloaded = keras.models.load_model(tmp_path / f"{cell}.keras")
        np.testing.assert_allclose(to_numpy(reloaded(x, training=False)), before, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_conditioned_generator_samples_what_the_full_model_predicts(cell, tmp_path):
    from rnn_templates.decoding import generate
    from rnn_templates.sampling import RecurrentSampler
    from rnn_templates.topologies import build_conditioned_generator

    keras.utils.set_random_seed(0)
    model = build_conditioned_generator(3, 12, embedding_dim=8,
                                        rnn={"cell": cell, "units": 8, "num_layers": 2})
    names = {layer.name for layer in model.layers}
    assert {"condition_1_h", "condition_2_h", "rnn_1", "rnn_2", "output_head"} <= names
    assert ("condition_1_c" in names) == (cell == "lstm")
    conditions = np.random.default_rng(1).normal(size=(4, 3)).astype("float32") * 3
    prompts = np.full((4, 1), 1)
    greedy = generate(model, prompts, 6, temperature=0, conditions=conditions)
    # Greedy sampling carries the state the condition started: each token is the full
    # model's argmax over the sequence so far (among real tokens: id 0 is padding).
    fed = np.concatenate([prompts, greedy[:, :-1]], axis=1)
    np.testing.assert_array_equal(
        to_numpy(model([conditions, fed]))[..., 1:].argmax(-1) + 1, greedy)
    other = generate(model, prompts, 6, temperature=0, conditions=conditions[::-1].copy())
    assert not np.array_equal(other, greedy)
    # A left-padded prompt starts from the condition's state at its first real token.
    sampler = RecurrentSampler.from_model(model)
    padded = sampler.sample(np.array([[5, 1]] * 4), 6, temperature=0, starts=np.ones(4, int),
                            conditions=conditions)
    np.testing.assert_array_equal(padded, greedy)
    # Saved and reloaded, it generates the same.
    model.save(tmp_path / "g.keras")
    reloaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(
        generate(reloaded, prompts, 6, temperature=0, conditions=conditions), greedy)
    with pytest.raises(ValueError, match="pass `conditions`"):
        generate(model, prompts, 3)
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        generate(model, prompts, 3, conditions=conditions[:, :2])
    with pytest.raises(ValueError, match="has no condition_<i>_h layers"):
        generate(build_many_to_many_lm(), prompts, 3, conditions=conditions)
    with pytest.raises(ValueError, match="cannot be bidirectional"):
        build_conditioned_generator(3, 12, rnn={"bidirectional": True})


def build_many_to_many_lm():
    from rnn_templates.topologies import build_many_to_many

    return build_many_to_many(12, vocab_size=12, rnn={"units": 4})
