"""build_seq2seq and seq2seq_inference_models: shapes, names, step decoding, save/reload."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies import build_seq2seq, seq2seq_inference_models

UNITS = 4
# Row 0 is right-padded: the source mask must keep attention and states off the padding.
SOURCE = np.array([[3, 4, 5, 2, 0, 0], [1, 2, 3, 4, 5, 6]], dtype="int32")
TARGET_IN = np.array([[1, 3, 4, 2, 5], [1, 6, 2, 3, 4]], dtype="int32")
STRUCTURES = {
    "plain": {},
    "bidirectional": {"bidirectional": True},
    "stacked": {"num_layers": 2},
    "bidirectional_stacked": {"bidirectional": True, "num_layers": 2},
}


def _token_model(cell, structure, attention, **kwargs):
    return build_seq2seq(
        7,
        source_vocab_size=9,
        target_vocab_size=7,
        embedding_dim=4,
        rnn={"cell": cell, "units": UNITS, **STRUCTURES[structure]},
        attention=attention,
        **kwargs,
    )


def _decode_step_by_step(model, source, decoder_inputs, mask=None):
    """Teacher-forced decoding one step at a time through the inference models."""
    encoder, decoder_step = seq2seq_inference_models(model)
    memory, source_mask, *states = [to_numpy(t) for t in encoder(source)]
    if mask is not None:
        source_mask = mask
    steps = []
    for t in range(decoder_inputs.shape[1]):
        output, *states = decoder_step([decoder_inputs[:, t : t + 1], memory, source_mask, *states])
        steps.append(to_numpy(output))
        states = [to_numpy(s) for s in states]
    return np.concatenate(steps, axis=1), to_numpy(source_mask)


@pytest.mark.parametrize("attention", [False, True], ids=["no_attention", "attention"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_step_by_step_decoding_reproduces_teacher_forcing(cell, attention):
    # bidirectional_stacked covers both the concatenated states and one bridge per layer.
    for structure in ("plain", "bidirectional_stacked"):
        # Logits (no softmax) keep differences visible.
        model = _token_model(cell, structure, attention, output_activation=None)
        forced = to_numpy(model([SOURCE, TARGET_IN], training=False))
        stepped, source_mask = _decode_step_by_step(model, SOURCE, TARGET_IN)
        np.testing.assert_array_equal(source_mask, SOURCE != 0)
        np.testing.assert_allclose(stepped, forced, atol=1e-5, err_msg=structure)
        if attention and structure == "plain":
            # The comparison is sharp enough to notice attention reading the padding.
            unmasked, _ = _decode_step_by_step(
                model, SOURCE, TARGET_IN, mask=np.ones_like(SOURCE, dtype=bool)
            )
            assert np.abs(unmasked[0] - forced[0]).max() > 1e-5, structure
            np.testing.assert_allclose(unmasked[1], forced[1], atol=1e-5)


def test_padded_source_gives_the_same_translation_as_unpadded():
    for attention in (False, True):
        model = _token_model("gru", "bidirectional_stacked", attention, output_activation=None)
        padded = to_numpy(model([SOURCE[:1], TARGET_IN[:1]], training=False))
        trimmed = to_numpy(model([SOURCE[:1, :4], TARGET_IN[:1]], training=False))
        np.testing.assert_allclose(padded, trimmed, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_real_valued_sequences_step_decoding(cell):
    rng = np.random.default_rng(0)
    source = rng.normal(size=(2, 5, 2)).astype("float32")
    source[0, 3:] = 0.0  # all-zero steps, as zero padding would produce
    decoder_inputs = rng.normal(size=(2, 4, 3)).astype("float32")
    for attention in (False, True):
        model = build_seq2seq(
            3, source_dim=2, target_input_dim=3, output_activation=None, attention=attention,
            rnn={"cell": cell, "units": UNITS, "bidirectional": True},
        )
        assert model.output_shape == (None, None, 3)
        forced = to_numpy(model([source, decoder_inputs], training=False))
        stepped, source_mask = _decode_step_by_step(model, source, decoder_inputs)
        # The trained model does not mask real-valued sources, so neither may decoding.
        assert source_mask.all()
        np.testing.assert_allclose(stepped, forced, atol=1e-5)
        # With source_mask_value, the padded steps are masked: padding changes nothing,
        # and step decoding masks the same steps.
        masked = build_seq2seq(
            3, source_dim=2, source_mask_value=0.0, target_input_dim=3,
            output_activation=None, attention=attention,
            rnn={"cell": cell, "units": UNITS, "bidirectional": True})
        forced = to_numpy(masked([source, decoder_inputs], training=False))
        alone = to_numpy(masked([source[:1, :3], decoder_inputs[:1]], training=False))
        np.testing.assert_allclose(forced[:1], alone, atol=1e-5)
        stepped, source_mask = _decode_step_by_step(masked, source, decoder_inputs)
        np.testing.assert_array_equal(source_mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        np.testing.assert_allclose(stepped, forced, atol=1e-5)


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru"])
def test_shapes_names_and_bridge_widths(cell):
    for structure, options in STRUCTURES.items():
        model = _token_model(cell, structure, attention=True)
        assert model.output_shape == (None, None, 7)
        layers = options.get("num_layers", 1)
        bidirectional = options.get("bidirectional", False)
        for name in ["encoder_embedding", "decoder_embedding", "attention", "output_head"]:
            model.get_layer(name)
        for index in range(1, layers + 1):
            encoder = model.get_layer(f"encoder_{index}")
            decoder = model.get_layer(f"decoder_{index}")
            assert isinstance(encoder, keras.layers.Bidirectional) == bidirectional
            # A bidirectional encoder's two directions are concatenated for the decoder.
            assert decoder.units == (2 * UNITS if bidirectional else UNITS), structure
        with pytest.raises(ValueError):
            model.get_layer(f"decoder_{layers + 1}")
        out = to_numpy(model([SOURCE, TARGET_IN], training=False))
        assert out.shape == (2, 5, 7)
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)
        encoder, decoder_step = seq2seq_inference_models(model)
        state_count = layers * (2 if cell == "lstm" else 1)
        encoded = encoder(SOURCE)
        assert len(encoded) == 2 + state_count
        assert tuple(encoded[0].shape) == (2, 6, 2 * UNITS if bidirectional else UNITS)
        assert len(decoder_step.outputs) == 1 + state_count


def test_without_attention_there_is_no_attention_layer():
    model = _token_model("lstm", "plain", attention=False)
    with pytest.raises(ValueError):
        model.get_layer("attention")
    assert [layer.name for layer in model.layers if layer.name.startswith(("enc", "dec"))] == [
        "encoder_inputs", "decoder_inputs", "encoder_embedding", "decoder_embedding",
        "encoder_1", "decoder_1",
    ]


def test_bidirectional_encoder_needs_concat():
    with pytest.raises(ValueError) as caught:
        build_seq2seq(
            5, source_vocab_size=5, target_vocab_size=5,
            rnn={"bidirectional": True, "merge_mode": "sum"},
        )
    assert str(caught.value) == (
        "a bidirectional seq2seq encoder needs merge_mode='concat' (its states are "
        "concatenated for the decoder); received merge_mode='sum'"
    )


def test_inference_models_refuse_other_models():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="plain_dense")
    with pytest.raises(ValueError) as caught:
        seq2seq_inference_models(model)
    assert str(caught.value) == (
        "model 'plain_dense' has no layers named decoder_1.. (not a seq2seq)"
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_keras_save_and_reload_gives_identical_predictions(cell, tmp_path):
    model = _token_model(cell, "bidirectional_stacked", attention=True)
    before = to_numpy(model([SOURCE, TARGET_IN], training=False))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        to_numpy(reloaded([SOURCE, TARGET_IN], training=False)), before, atol=1e-6
    )
    # The reloaded model still splits into working inference models.
    stepped, _ = _decode_step_by_step(reloaded, SOURCE, TARGET_IN)
    np.testing.assert_allclose(stepped, before, atol=1e-5)


@pytest.mark.parametrize("source", ["tokens", "values with a mask value", "values"])
def test_the_inference_encoder_saves_and_reloads_safely(source, tmp_path):
    # Its source mask is a named layer, not a Lambda: keras.saving.load_model's safe
    # mode reloads it as it does the decoder.
    if source == "tokens":
        model, inputs = _token_model("gru", "plain", "dot"), SOURCE
    else:
        options = {"source_mask_value": 0.0} if "mask" in source else {}
        model = build_seq2seq(3, source_dim=2, target_input_dim=3, output_activation=None,
                              attention="dot", rnn={"units": UNITS}, **options)
        inputs = np.random.default_rng(0).normal(size=(2, 5, 2)).astype("float32")
        inputs[0, 3:] = 0.0
    encoder, _ = seq2seq_inference_models(model)
    encoder.save(tmp_path / "encoder.keras")
    again = keras.saving.load_model(tmp_path / "encoder.keras")
    for a, b in zip(encoder(inputs), again(inputs), strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
