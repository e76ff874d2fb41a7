"""The vanishing-gradient story as a learning test: the adding problem over 60 steps.

Task (Hochreiter & Schmidhuber, 1997): each sequence has ``T = 60`` steps of two
features, a value drawn uniformly from [0, 1) and a marker that is 1 at exactly
two steps: one among the first 10 steps, one in the second half. The target is
the sum of the two marked values. The first marked value must be carried for
at least 50 steps, through up to 59 steps of distracting values; predicting the
mean gives an MSE of 1/6 (about 0.167), and a model that only remembers the
recent second value still scores 1/12 (about 0.083).

Why SimpleRNN fails. Its state is ``h_t = tanh(W h_{t-1} + U x_t + b)``, so the
gradient of the answer with respect to the input at step t is a product of
T - t Jacobians ``diag(1 - h_s**2) W``: one tanh derivative (at most 1, below
1 as soon as a unit leaves the linear region) and the recurrent matrix per
step. Every value, marked or not, is written into the state through the same
weights, so there is no step at which the network can decide to keep or to
ignore; the product shrinks geometrically with the lag, and after 50 steps no
useful gradient reaches the first marked value. Training cannot fix this: it
drives the units further into saturation: the measured gradient of the
trained model's answer with respect to the first 10 inputs is about 1e-9 of
that for the last 10 or less (exactly 0 in float32 for the default seed). The
model stays at the predict-the-mean baseline.

Why LSTM and GRU succeed. At initialisation they pass even less gradient back
50 steps (the forget gate starts near sigmoid(1) = 0.73, GRU's update gate near
0.5, and 0.73**50 is 1e-7). But their state is updated additively,
``c_t = f_t * c_{t-1} + i_t * g_t`` (GRU: ``h_t = z_t * h_{t-1} + (1 - z_t) *
h~_t``), so along the cell state the gradient is a product of gate values, not
of tanh derivatives and ``W``. The closer second value (lag 0 to 29) gives a
usable gradient that teaches the gates to open on the marker and to hold
(forget gate near 1) otherwise; once they hold, the same path carries the
gradient to the first value. After training, the first 10 inputs matter more
than the last 10 (a gradient ratio above 1), as they should: they hold a
marked value more often.

All three cells get the same budget: ``build_many_to_one`` with 16 units, the
library's ``compile_model`` (Adam, gradient clipping on), 6 epochs of 128
batches of 32. LSTM typically breaks through in its 4th epoch (the plateau
first, then a sudden drop), GRU in its 1st or 2nd. ``RNNT_LONG_LAG_SEED``
picks another seed for the data and weights (default 1234).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_templates.topologies import build_many_to_one
from rnn_templates.training import compile_model

SEED = int(os.environ.get("RNNT_LONG_LAG_SEED", "1234"))
STEPS = 60
FIRST_MARK_WITHIN = 10  # so the first marked value waits at least 50 steps
TRAIN_SIZE = 4096
TEST_SIZE = 1024
EPOCHS = 6
BATCH_SIZE = 32
LEARNING_RATE = 0.03
UNITS = 16


def adding_problem(size, rng):
    """``(x (size, STEPS, 2), y (size,))``: values and markers, and the marked sum."""
    x = np.zeros((size, STEPS, 2), dtype="float32")
    x[:, :, 0] = rng.uniform(0.0, 1.0, size=(size, STEPS))
    rows = np.arange(size)
    first = rng.integers(0, FIRST_MARK_WITHIN, size=size)
    second = rng.integers(STEPS // 2, STEPS, size=size)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y.astype("float32")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(SEED)
    train = adding_problem(TRAIN_SIZE, rng)
    test = adding_problem(TEST_SIZE, rng)
    # The trivial baseline: always predict the training mean.
    baseline = float(np.mean((test[1] - train[1].mean()) ** 2))
    return train, test, baseline


def test_the_task_has_the_advertised_lag_and_baseline(data):
    (x, y), _, baseline = data
    marks = [np.flatnonzero(row) for row in x[:, :, 1]]
    assert all(len(m) == 2 and m[0] < FIRST_MARK_WITHIN and m[1] >= STEPS // 2 for m in marks)
    assert min(STEPS - 1 - m[0] for m in marks) >= 50
    np.testing.assert_allclose(y, [x[i, m, 0].sum() for i, m in enumerate(marks)], rtol=1e-6)
    assert baseline == pytest.approx(1 / 6, abs=0.02)


def _train(cell, data):
    """Fit one cell with the shared budget; return the model and its test MSE."""
    (x, y), (x_test, y_test), _ = data
    keras.utils.set_random_seed(SEED)
    model = build_many_to_one(1, input_dim=2, timesteps=STEPS, rnn={"cell": cell, "units": UNITS})
    compile_model(model, loss="mse", learning_rate=LEARNING_RATE)
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    predictions = model.predict(x_test, batch_size=256, verbose=0)[:, 0]
    return model, float(np.mean((predictions - y_test) ** 2))


def early_to_late_gradient(model, x):
    """Mean |d answer / d value| over the first 10 steps, divided by that over the last 10."""
    inputs = tf.constant(x[:256])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        answers = model(inputs, training=False)
    per_step = np.abs(tape.gradient(answers, inputs).numpy()[:, :, 0]).mean(axis=0)
    return float(per_step[:FIRST_MARK_WITHIN].mean() / per_step[-10:].mean())


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_bridge_a_50_step_lag(cell, data):
    model, mse = _train(cell, data)
    baseline = data[2]
    # Well below the baseline (0.167) and below what remembering only the
    # second value could reach (0.083): the first value was carried 50+ steps.
    assert mse < 0.05, f"{cell}: test MSE {mse:.4f} (baseline {baseline:.4f})"
    assert early_to_late_gradient(model, data[1][0]) > 0.5


@pytest.mark.slow
def test_simple_rnn_stays_at_the_baseline(data):
    model, mse = _train("simple", data)
    baseline = data[2]
    assert mse > 0.75 * baseline, f"simple: test MSE {mse:.4f} (baseline {baseline:.4f})"
    # The gradient from the answer back to the first steps has vanished.
    assert early_to_late_gradient(model, data[1][0]) < 1e-3
