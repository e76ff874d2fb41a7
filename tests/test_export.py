"""SavedModel export: atomic writes, and answers checked in a fresh TensorFlow-only process."""

import numpy as np
import pytest
import tensorflow as tf

from rnn_templates import export, io
from rnn_templates.export import check_in_fresh_process, export_saved_model
from rnn_templates.topologies import build_many_to_one

# Non-ASCII class names: labels come from users' data.
CLASS_NAMES = ["négatif", "positif"]


def _model_and_serve_fn():
    model = build_many_to_one(
        2, input_dim=3, output_activation="softmax", rnn={"cell": "gru", "units": 4}
    )
    names = tf.constant(CLASS_NAMES)

    def serve_fn(steps):
        probabilities = model(steps, training=False)
        return {
            "probabilities": probabilities,
            "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
        }

    return model, serve_fn


SIGNATURE = [tf.TensorSpec([None, None, 3], tf.float32)]


def _inputs():
    rng = np.random.default_rng(0)
    return rng.normal(scale=3.0, size=(6, 5, 3)).astype("float32")


def _expected(model, inputs):
    probabilities = np.asarray(model(inputs, training=False))
    return {
        "probabilities": probabilities,
        "label": np.array(CLASS_NAMES)[probabilities.argmax(axis=-1)],
    }


def test_export_and_check_in_a_fresh_process(tmp_path, monkeypatch):
    model, serve_fn = _model_and_serve_fn()
    path = export_saved_model(model, tmp_path / "export" / "saved_model", serve_fn, SIGNATURE)
    assert path == tmp_path / "export" / "saved_model"
    assert (path / "saved_model.pb").is_file()
    # Written atomically: no temporary sibling directory is left behind.
    assert [p.name for p in path.parent.iterdir()] == ["saved_model"]

    inputs = _inputs()
    expected = _expected(model, inputs)
    assert len(set(expected["label"])) == 2  # both names (one non-ASCII) go through
    calls = []
    real_call = export.call_in_fresh_process

    def recording_call(*args, **kwargs):
        calls.append(real_call(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(export, "call_in_fresh_process", recording_call)
    differences = check_in_fresh_process(path, inputs, expected)
    assert set(differences) == {"probabilities", "label"}
    assert differences["probabilities"] < 1e-6
    assert differences["label"] == 0.0
    assert calls[0]["label"].tolist() == expected["label"].tolist()

    # The comparison itself, on the fresh process's recorded answers.
    monkeypatch.setattr(export, "call_in_fresh_process", lambda *args, **kwargs: calls[0])
    wrong = dict(expected, probabilities=expected["probabilities"] + 0.01)
    with pytest.raises(RuntimeError) as caught:
        check_in_fresh_process(path, inputs, wrong)
    # The difference is computed in float32: compare the number, not its text.
    prefix = "exported output 'probabilities' differs from the in-memory model by "
    assert str(caught.value).startswith(prefix)
    assert float(str(caught.value)[len(prefix):]) == pytest.approx(0.01, rel=1e-3)
    assert check_in_fresh_process(path, inputs, wrong, atol=0.02)["probabilities"] == (
        pytest.approx(0.01, abs=1e-6)
    )
    # Large values: one float32 rounding step of 400,000 (0.03) is within rtol, not atol.
    large = {key: value * 4e5 if key == "probabilities" else value
             for key, value in calls[0].items()}
    monkeypatch.setattr(export, "call_in_fresh_process", lambda *args, **kwargs: large)
    near = dict(expected, probabilities=large["probabilities"].astype(np.float64) + 0.03)
    with pytest.raises(RuntimeError, match="'probabilities' differs"):
        check_in_fresh_process(path, inputs, near, atol=1e-4)
    assert check_in_fresh_process(path, inputs, near, atol=1e-4, rtol=1e-5)[
        "probabilities"] == pytest.approx(0.03, rel=1e-3)
    with pytest.raises(RuntimeError, match="'probabilities' differs"):
        far = dict(near, probabilities=near["probabilities"] * 1.001)
        check_in_fresh_process(path, inputs, far, atol=1e-4, rtol=1e-5)
    monkeypatch.setattr(export, "call_in_fresh_process", lambda *args, **kwargs: calls[0])
    labels = expected["label"].copy()
    other = {CLASS_NAMES[0]: CLASS_NAMES[1], CLASS_NAMES[1]: CLASS_NAMES[0]}
    labels[:2] = [other[name] for name in labels[:2]]
    with pytest.raises(RuntimeError) as caught:
        check_in_fresh_process(path, inputs, dict(expected, label=labels))
    assert str(caught.value) == "exported output 'label' differs from the in-memory model by 2"
    with pytest.raises(RuntimeError) as caught:
        check_in_fresh_process(path, inputs, {"scores": expected["probabilities"]})
    assert str(caught.value) == (
        "exported signature has no output 'scores'; it has ['label', 'probabilities']"
    )


def test_re_export_replaces_the_old_one_and_a_failed_export_leaves_it_intact(tmp_path):
    model, serve_fn = _model_and_serve_fn()
    path = tmp_path / "saved_model"
    export_saved_model(model, path, serve_fn, SIGNATURE)
    (path / "stale.txt").write_text("from the first export", encoding="utf-8")
    io.seal(path)  # as if the first export had written it
    export_saved_model(model, path, serve_fn, SIGNATURE)
    assert not (path / "stale.txt").exists()
    assert (path / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]

    def broken_serve_fn(steps):
        raise ValueError("cannot trace")

    (path / "marker.txt").write_text("kept", encoding="utf-8")
    io.seal(path)
    with pytest.raises(ValueError, match="cannot trace"):
        export_saved_model(model, path, broken_serve_fn, SIGNATURE)
    assert (path / "marker.txt").read_text(encoding="utf-8") == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]

    # The check runs on the complete new export before it takes the old one's place:
    # a failed check leaves the old export.
    checked = []

    def failing_check(temporary):
        checked.append((temporary.name, (temporary / "saved_model.pb").is_file()))
        raise RuntimeError("exported output 'label' differs")

    with pytest.raises(RuntimeError, match="differs"):
        export_saved_model(model, path, serve_fn, SIGNATURE, check=failing_check)
    assert checked[0][0].startswith(".saved_model.") and checked[0][1]
    assert (path / "marker.txt").read_text(encoding="utf-8") == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]

    # The exported signature is callable in this process too.
    loaded = tf.saved_model.load(str(path))
    out = loaded.serve(tf.constant(_inputs()))
    np.testing.assert_allclose(
        out["probabilities"].numpy(), _expected(model, _inputs())["probabilities"], atol=1e-6
    )


def test_a_fresh_process_that_does_not_finish_in_time_is_stopped(tmp_path):
    # Importing TensorFlow alone takes longer than this.
    with pytest.raises(RuntimeError, match=r"did not finish within 0\.05 s"):
        export.call_in_fresh_process(tmp_path, np.zeros((1, 2)), timeout=0.05)
