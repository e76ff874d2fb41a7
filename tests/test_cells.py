"""The cell factory: option checks, cuDNN blockers and their warning, recurrent_stack."""

import logging

import keras
import pytest

from rnn_templates.cells import (
    CELL_TYPES,
    RecurrentConfig,
    cudnn_blockers,
    make_recurrent_layer,
    recurrent_stack,
    warn_if_slow,
)
from rnn_templates.topologies import build_many_to_one, build_seq2seq


def _ours(caplog):
    """Records from this library only (TensorFlow may log on its own)."""
    return [record for record in caplog.records if record.name.startswith("rnn_templates")]


BAD_OPTIONS = [
    ({"cell": "rnn"}, "`cell` must be one of 'simple', 'lstm', 'gru'; received 'rnn'"),
    ({"cell": None}, "`cell` must be one of 'simple', 'lstm', 'gru'; received None"),
    ({"activation": "elu"},
     "`activation` must be one of 'tanh', 'relu', 'sigmoid'; received 'elu'"),
    ({"merge_mode": "max"},
     "`merge_mode` must be one of 'concat', 'sum', 'mul', 'ave'; received 'max'"),
    ({"units": 0}, "`units` must be a positive integer; received 0"),
    ({"units": 2.5}, "`units` must be a positive integer; received 2.5"),
    ({"units": True}, "`units` must be a positive integer; received True"),
    ({"num_layers": -1}, "`num_layers` must be a positive integer; received -1"),
    ({"dropout": 1.0}, "`dropout` must be a number in [0, 1); received 1.0"),
    ({"dropout": "0.1"}, "`dropout` must be a number in [0, 1); received '0.1'"),
    ({"recurrent_dropout": -0.1},
     "`recurrent_dropout` must be a number in [0, 1); received -0.1"),
]


def test_bad_options_name_the_option_the_value_and_the_valid_values():
    for options, message in BAD_OPTIONS:
        with pytest.raises(ValueError) as caught:
            RecurrentConfig(**options)
        assert str(caught.value) == message, options


def test_valid_options_and_derived_properties():
    assert list(CELL_TYPES) == ["simple", "lstm", "gru"]
    assert RecurrentConfig(cell="GRU").cell == "gru"  # case-insensitive, normalised
    config = RecurrentConfig(units=8, bidirectional=True)
    assert config.output_width == 16
    assert RecurrentConfig(units=8, bidirectional=True, merge_mode="sum").output_width == 8
    assert RecurrentConfig(units=8).output_width == 8
    assert RecurrentConfig(cell="lstm").state_names == ("h", "c")
    assert RecurrentConfig(cell="gru").state_names == ("h",)
    assert RecurrentConfig(cell="simple").state_names == ("h",)
    assert RecurrentConfig(dropout=0, recurrent_dropout=0.99).dropout == 0


def test_cudnn_blockers_name_each_option_that_leaves_the_fast_path():
    assert cudnn_blockers(RecurrentConfig()) == []
    assert cudnn_blockers(RecurrentConfig(cell="gru", dropout=0.5, bidirectional=True)) == []
    assert cudnn_blockers(RecurrentConfig(activation="relu")) == ["activation='relu'"]
    assert cudnn_blockers(RecurrentConfig(cell="gru", recurrent_dropout=0.2)) == [
        "recurrent_dropout=0.2"
    ]
    assert cudnn_blockers(RecurrentConfig(unroll=True)) == ["unroll=True"]
    assert cudnn_blockers(
        RecurrentConfig(activation="sigmoid", recurrent_dropout=0.1, unroll=True)
    ) == ["activation='sigmoid'", "recurrent_dropout=0.1", "unroll=True"]
    # SimpleRNN has no cuDNN kernel, so nothing can leave it.
    assert cudnn_blockers(RecurrentConfig(cell="simple", activation="relu", unroll=True)) == []


def test_one_warning_names_the_option(caplog):
    inputs = keras.Input((None, 3))
    config = RecurrentConfig(cell="gru", units=4, num_layers=3, recurrent_dropout=0.25)
    with caplog.at_level(logging.WARNING, logger="rnn_templates"):
        recurrent_stack(inputs, config, name="enc")
    records = _ours(caplog)
    assert len(records) == 1  # one per stack, not one per layer
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.name == "rnn_templates"
    assert record.getMessage().startswith(
        "enc: GRU recurrent_dropout=0.25 leaves the cuDNN fast path"
    )
    assert "keep activation='tanh', recurrent_dropout=0, unroll=False" in record.getMessage()


def test_warning_lists_every_blocker_once(caplog):
    with caplog.at_level(logging.WARNING, logger="rnn_templates"):
        warn_if_slow(RecurrentConfig(activation="relu", unroll=True), "rnn")
    assert [r.getMessage().split(" leaves")[0] for r in _ours(caplog)] == [
        "rnn: LSTM activation='relu', unroll=True"
    ]


def test_defaults_and_simple_cells_log_nothing(caplog):
    with caplog.at_level(logging.DEBUG, logger="rnn_templates"):
        build_many_to_one(2, input_dim=3, rnn={"units": 4})
        build_many_to_one(2, input_dim=3, rnn={"cell": "gru", "units": 4, "dropout": 0.3})
        build_many_to_one(2, input_dim=3, rnn={"cell": "simple", "units": 4, "activation": "relu"})
        build_seq2seq(3, source_vocab_size=5, target_vocab_size=3, rnn={"units": 4})
    assert _ours(caplog) == []


def test_builders_warn_once_each(caplog):
    with caplog.at_level(logging.WARNING, logger="rnn_templates"):
        build_many_to_one(2, input_dim=3, rnn={"units": 4, "num_layers": 2, "activation": "relu"})
        build_seq2seq(
            3, source_vocab_size=5, target_vocab_size=3,
            rnn={"units": 4, "num_layers": 2, "activation": "relu"},
        )
    messages = [record.getMessage() for record in _ours(caplog)]
    assert len(messages) == 2
    assert messages[0].startswith("rnn: LSTM activation='relu' leaves")
    assert messages[1].startswith("encoder: LSTM activation='relu' leaves")


def test_layers_receive_the_options():
    config = RecurrentConfig(
        cell="gru", units=5, dropout=0.1, recurrent_dropout=0.2, activation="relu", unroll=True
    )
    layer = make_recurrent_layer(config, return_sequences=True, name="x_1")
    assert isinstance(layer, keras.layers.GRU)
    assert layer.name == "x_1"
    assert (layer.units, layer.return_sequences, layer.unroll) == (5, True, True)
    assert layer.cell.dropout == pytest.approx(0.1)
    assert layer.cell.recurrent_dropout == pytest.approx(0.2)
    assert layer.cell.activation is keras.activations.relu
    wrapped = make_recurrent_layer(
        RecurrentConfig(cell="simple", units=3, bidirectional=True, merge_mode="ave"),
        return_sequences=False,
        name="y_1",
    )
    assert isinstance(wrapped, keras.layers.Bidirectional)
    assert wrapped.name == "y_1" and wrapped.merge_mode == "ave"
    assert isinstance(wrapped.forward_layer, keras.layers.SimpleRNN)


def test_recurrent_stack_names_shapes_and_states():
    inputs = keras.Input((None, 3))
    y = recurrent_stack(inputs, RecurrentConfig(cell="gru", units=8, num_layers=2), name="enc")
    model = keras.Model(inputs, y)
    assert tuple(y.shape) == (None, 8)
    assert model.get_layer("enc_1").return_sequences
    assert not model.get_layer("enc_2").return_sequences
    sequence = recurrent_stack(inputs, RecurrentConfig(units=4), return_sequences=True, name="s")
    assert tuple(sequence.shape) == (None, None, 4)
    out, states = recurrent_stack(
        inputs, RecurrentConfig(units=4, bidirectional=True), return_state=True, name="b"
    )
    assert tuple(out.shape) == (None, 8)
    # Forward (h, c) then backward (h, c).
    assert [tuple(s.shape) for s in states] == [(None, 4)] * 4
    h0 = keras.Input((6,))
    out, states = recurrent_stack(
        inputs, RecurrentConfig(cell="gru", units=6), return_state=True, initial_state=[h0]
    )
    assert len(states) == 1 and tuple(states[0].shape) == (None, 6)


def test_recurrent_stack_checks_what_the_builders_check():
    assert tuple(recurrent_stack(keras.Input((None, 3)), {"units": 4}).shape) == (None, 4)
    with pytest.raises(ValueError, match="cannot be combined with `bidirectional=True`"):
        recurrent_stack(keras.Input((None, 3), batch_size=2),
                        RecurrentConfig(bidirectional=True), stateful=True)
    edited = RecurrentConfig()
    edited.units = -3
    with pytest.raises(ValueError, match="`units` must be a positive integer; received -3"):
        recurrent_stack(keras.Input((None, 3)), edited)
