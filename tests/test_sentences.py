"""Sentence tokenization: normalization, round trips, reserved ids, teacher-forcing batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_templates.sentences import (
    END_ID,
    PAD_ID,
    START_ID,
    detokenize,
    pair_dataset,
    sentence_ids,
    sentence_vectorizer,
    standardize,
)

FRENCH = [
    "J'ai vu l'homme aujourd'hui.",
    "Est-ce que tu viens ce soir ?",
    "Il a dit : non !",
    "Où est la clé de l'école ?",
    "Ma sœur a dix-neuf ans.",
    "Peux-tu m'aider, s'il te plaît ?",
    "Ça coûte 12 euros (environ).",
]


def _strings(tensor):
    return [t.decode("utf-8") for t in tensor.numpy()]


def _round_trip(texts, level="word", lowercase=False):
    vectorizer = sentence_vectorizer(texts, level=level, lowercase=lowercase, max_tokens=500)
    ids = sentence_ids(vectorizer, texts)
    ended = np.concatenate([ids, np.full((len(texts), 1), END_ID), ids], axis=1)  # junk after END
    return _strings(detokenize(tf.constant(ended), vectorizer.get_vocabulary(), level=level))


@pytest.mark.parametrize("level", ["word", "char"])
def test_french_sentences_survive_tokenization_and_back(level):
    assert _round_trip(FRENCH, level=level) == FRENCH


def test_english_punctuation_attaches_when_no_mark_is_spaced():
    texts = ["Don't go, Tom!", "Is it 5 o'clock?", "We're late: hurry."]
    vectorizer = sentence_vectorizer(texts, max_tokens=100)
    back = detokenize(tf.constant(sentence_ids(vectorizer, texts)), vectorizer.get_vocabulary(),
                      spaced_punctuation="")
    assert _strings(back) == texts


def test_numbers_initials_possessives_and_quotes_come_back_as_written():
    # Each was changed on the way back: "11: 30", "$ 5", "U. S.", "doctors'advice".
    texts = ["Meet me at 11:30.", "It costs $5.", "It's 3.5 km.", "1,000,000 people came.",
             "The U.S. is big.", "We open at 9 a.m.", "Take the doctors' advice.",
             "Is it 'yes' or 'no'?", "James' car can't stay.", "and/or", "In 2010, 500 came."]
    vectorizer = sentence_vectorizer(texts, max_tokens=200)
    back = detokenize(tf.constant(sentence_ids(vectorizer, texts)), vectorizer.get_vocabulary(),
                      spaced_punctuation="")
    assert _strings(back) == texts
    french = ["Quelqu'un est venu aujourd'hui, jusqu'à midi.", "Il est 11:30 ; c'est l'heure.",
              "Le journal d'aujourd'hui, entr'ouvert.", "Le score est de 3 : 2.",
              "Il a dit 'non' et 'oui'."]
    assert _round_trip(french) == french


def test_straight_quotes_attach_to_the_words_they_enclose():
    texts = ['He said "yes".', 'Il a dit "oui" et "non".', 'One " stray quote.']
    assert _round_trip(texts) == texts


def test_accents_apostrophes_and_spaces_are_normalized():
    decomposed = "L\u2019e\u0301te\u0301\u00a0\u00abchaud\u00bb\u202f!"  # é as e + U+0301
    out = _strings(standardize(tf.constant([decomposed, "C'est \u00c9T\u00c9 !"]),
                               level="word", lowercase=True))
    assert out == ["l' été \" chaud \" !", "c' est été !"]
    assert _strings(standardize(tf.constant(["Il  pleut."]), level="char")) == ["Il\u2581pleut."]


def test_elision_and_hyphens_give_reusable_tokens():
    tokens = _strings(standardize(tf.constant(["J'aime l'école, peut-être."]), level="word"))
    assert tokens[0].split() == ["J'", "aime", "l'", "école", ",", "peut-être", "."]


def test_vocabulary_reserves_start_and_end_and_never_emits_them_from_text():
    vectorizer = sentence_vectorizer(["[start] a b", "[end] b c"], max_tokens=20)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:4] == ["", "[UNK]", "[start]", "[end]"]
    ids = sentence_ids(vectorizer, ["[start] b", "zzz"])
    assert START_ID not in ids and END_ID not in ids
    assert ids[1, 0] == 1  # unknown word


def test_vectorizer_survives_a_keras_save_and_reload(tmp_path):
    vectorizer = sentence_vectorizer(FRENCH, lowercase=True, max_tokens=200, max_length=12,
                                     name="source_vectorizer")
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, vectorizer(text))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    batch = tf.constant(["Où est la CLÉ ?", "J\u2019ai vu"])
    np.testing.assert_array_equal(np.asarray(reloaded(batch)), np.asarray(model(batch)))


def test_pair_dataset_shifts_targets_and_weights_padding():
    sources = [np.array([5, 6, 7]), np.array([8])]
    targets = [np.array([9, 10]), np.array([11, 12, 13])]
    ((source, decoder_in), decoder_out, weights), = list(pair_dataset(sources, targets, 2))
    np.testing.assert_array_equal(source, [[5, 6, 7], [8, PAD_ID, PAD_ID]])
    np.testing.assert_array_equal(decoder_in, [[START_ID, 9, 10, 0], [START_ID, 11, 12, 13]])
    np.testing.assert_array_equal(decoder_out, [[9, 10, END_ID, 0], [11, 12, 13, END_ID]])
    np.testing.assert_array_equal(weights, [[1, 1, 1, 0], [1, 1, 1, 1]])


def test_pair_dataset_buckets_by_source_length():
    rng = np.random.default_rng(0)
    sources = [np.arange(4, 4 + n) for n in rng.integers(1, 30, size=200)]
    targets = [np.array([4, 5])] * 200
    widths = [int(batch[0][0].shape[1]) for batch in pair_dataset(sources, targets, 16,
                                                                    num_buckets=4)]
    plain = [int(batch[0][0].shape[1]) for batch in pair_dataset(sources, targets, 16)]
    assert sum(widths) < 0.8 * sum(plain)
