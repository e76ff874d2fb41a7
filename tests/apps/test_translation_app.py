"""Translation end to end on a slice of the shipped corpus: train, evaluate, export, predict."""

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.translation.app import translate
from rnn_templates.cli import main
from rnn_templates.export import call_in_fresh_process

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=16", "--set", "embedding_dim=16",
        "--set", "source_tokens=400", "--set", "target_tokens=400", "--set", "beam_width=3",
        "--set", "samples=4", "--set", "attention=bahdanau", "--set", "bidirectional=true",
        "--set", "label_smoothing=0.1"]
SENTENCES = ["My sister is tired.", "Where is my phone?", "I don't understand."]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("translation")


@pytest.fixture(scope="module")
def small_pairs(workspace):
    lines = (REPO / "data/translation/en-fr.tsv").read_text(encoding="utf-8").splitlines()
    path = workspace / "pairs.tsv"
    path.write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_run(workspace, small_pairs):
    run_dir = workspace / "run"
    assert main(["translation", "train", "--data", str(small_pairs), "--run-dir", str(run_dir),
                 *TINY]) == 0
    return run_dir


# Colour and animal words translated word by word: a tiny model learns them in a few
# epochs, so its translations differ from input to input and from one search to another.
ENGLISH = "red blue green cat dog sun moon tree house river".split()
FRENCH = "rouge bleu vert chat chien soleil lune arbre maison rivière".split()
WORDS = ["Red cat.", "Moon tree house river.", "Dog sun.", "Green blue dog river cat."]


@pytest.fixture(scope="module")
def learnt_run(workspace):
    """A run that translates (validation BLEU well above 0), early-stopped on val_bleu."""
    rng = np.random.default_rng(0)
    lines = {}
    while len(lines) < 1500:
        words = tuple(rng.integers(0, 10, size=rng.integers(2, 6)))
        lines[words] = (" ".join(ENGLISH[w] for w in words).capitalize() + ".\t"
                        + " ".join(FRENCH[w] for w in words).capitalize() + ".")
    data = workspace / "words.tsv"
    data.write_text("\n".join(lines.values()) + "\n", encoding="utf-8")
    run_dir = workspace / "learnt-run"
    assert main(["translation", "train", "--data", str(data), "--run-dir", str(run_dir),
                 "--set", "epochs=4", "--set", "units=32", "--set", "embedding_dim=32",
                 "--set", "batch_size=32", "--set", "learning_rate=0.01",
                 "--set", "beam_width=3", "--set", "samples=2",
                 "--set", "monitor=val_bleu"]) == 0
    return run_dir


def _reload(run_dir):
    model = keras.saving.load_model(run_dir / "model.keras")
    return model, json.loads((run_dir / "artifacts.json").read_text())


def test_early_stopping_on_validation_bleu_keeps_the_epoch_of_the_best_bleu(learnt_run):
    history = np.genfromtxt(learnt_run / "history.csv", delimiter=",", names=True)
    assert history["val_bleu"].max() > 20  # learning shows in it
    metrics = json.loads((learnt_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["kept_epoch"] == int(history["val_bleu"].argmax()) + 1
    # The logged value is the kept model's greedy BLEU of the validation pairs, as the
    # run's evaluation (a separate decoding of the saved model) scores them.
    assert metrics["validation"]["greedy_bleu"] == pytest.approx(history["val_bleu"].max(),
                                                                 abs=0.006)


def test_train_writes_a_complete_run_directory(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.json", "history.csv", "learning_curves.png", "model.keras",
            "saved_model", "test.tsv", "attention-test.png", "translations-test.md",
            "artifacts.json"} <= names
    metrics = json.loads((trained_run / "metrics.json").read_text())
    test = metrics["test"]
    assert test["examples"] == 40  # 10% of 400 pairs
    for key in ("bleu", "chrf", "greedy_bleu", "greedy_chrf"):
        assert 0.0 <= test[key] <= 100.0
    assert test["decoding"] == "beam width 3, length penalty 0.6"
    assert len(test["samples"]) == 4
    attention = test["attention"][0]
    assert len(attention["weights"]) == len(attention["target_tokens"])
    assert all(len(row) == len(attention["source_tokens"]) for row in attention["weights"])
    assert metrics["export"] == {"translation": 0.0, "score": pytest.approx(0.0, abs=1e-4),
                                 "length": 0.0, "ended": 0.0}
    assert (trained_run / "attention-test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    artifacts = json.loads((trained_run / "artifacts.json").read_text())
    assert artifacts["target_vocabulary"][:4] == ["", "[UNK]", "[start]", "[end]"]
    assert artifacts["pairs"] == {"train": 320, "validation": 40, "test": 40}
    # Trained with the smoothed loss, which the saved model names and reloads with.
    assert "SmoothedSparseCrossentropy" in zipfile.ZipFile(
        trained_run / "model.keras").read("config.json").decode()


@pytest.mark.slow
def test_saved_model_signatures_match_the_in_memory_model_in_a_fresh_process(learnt_run):
    # `serve` (the run's beam width) is compared by the export check itself (metrics["export"]).
    model, artifacts = _reload(learnt_run)
    texts = np.array(WORDS)
    saved = learnt_run / "saved_model"
    greedy = translate(model, artifacts, WORDS)
    beam = translate(model, artifacts, WORDS, beam_width=2)
    assert all(greedy) and len(set(greedy)) == len(WORDS)
    fresh_greedy = call_in_fresh_process(saved, texts, endpoint="greedy")
    assert list(fresh_greedy["translation"]) == greedy
    fresh_beam = call_in_fresh_process(saved, [texts, np.array(2, dtype="int32")],
                                       endpoint="beam")
    assert list(fresh_beam["translation"]) == beam
    # A serving client's beam is held to the target vocabulary, as predict's is.
    widest = len(artifacts["target_vocabulary"])
    signature = tf.saved_model.load(str(saved)).signatures["beam"]
    assert signature(text=tf.constant(WORDS[:1]), beam_width=tf.constant(widest))[
        "translation"].shape == (1,)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"expected a beam_width from 1 to {widest}"):
        signature(text=tf.constant(WORDS[:1]), beam_width=tf.constant(widest + 1))


def test_an_ensemble_decodes_with_the_mean_of_its_members(learnt_run):
    model, artifacts = _reload(learnt_run)
    alone = translate(model, artifacts, WORDS, beam_width=2)
    # Two copies of one model: the mean is the model itself.
    assert translate([model, model], [artifacts, artifacts], WORDS, beam_width=2) == alone
    assert translate([model, model], [artifacts, artifacts], WORDS) == translate(
        model, artifacts, WORDS)
    # Another member (the same model with its output layer disturbed) changes the answer,
    # whatever the members' order: each reads its own states and context.
    other, other_artifacts = _reload(learnt_run)
    head = other.get_layer("translation_core").get_layer("output_head")
    kernel, *rest = head.get_weights()
    noise = np.random.default_rng(0).normal(0, 3 * kernel.std(), kernel.shape)
    head.set_weights([kernel + noise.astype(kernel.dtype), *rest])
    disturbed = translate(other, other_artifacts, WORDS)
    assert disturbed != translate(model, artifacts, WORDS)
    pair = translate([model, other], [artifacts, other_artifacts], WORDS, beam_width=2)
    assert pair == translate([other, model], [other_artifacts, artifacts], WORDS, beam_width=2)
    assert all(pair)
    # Members must write the same tokens.
    shorter = dict(artifacts, target_vocabulary=artifacts["target_vocabulary"][:-1])
    with pytest.raises(ValueError, match="model 2 of the ensemble has another "
                                         "target_vocabulary than model 1"):
        translate([model, other], [artifacts, shorter], WORDS)
    with pytest.raises(ValueError, match="2 models but 1 artifacts"):
        translate([model, other], [artifacts], WORDS)


def test_translate_compiles_each_search_once_per_model_and_artifacts(learnt_run):
    from apps.translation.app import _COMPILED

    model, artifacts = _reload(learnt_run)
    first = translate(model, artifacts, WORDS[:2])
    assert all(first) and first[0] != first[1]
    search = _COMPILED[model][None, True][1]
    assert translate(model, artifacts, WORDS)[:2] == first
    assert _COMPILED[model][None, True][1] is search
    assert search.experimental_get_tracing_count() == 1
    beam = translate(model, artifacts, WORDS, beam_width=2)
    assert translate(model, artifacts, WORDS, beam_width=2, stop_early=False) == beam
    assert set(_COMPILED[model]) == {(None, True), (2, True), (2, False)}
    assert translate(model, dict(artifacts), WORDS[:2]) == first  # others: compiled anew
    assert _COMPILED[model][None, True][1] is not search


def test_translate_batches_by_length_and_keeps_the_input_order(learnt_run):
    model, artifacts = _reload(learnt_run)
    texts = sorted(WORDS, key=len, reverse=True) + WORDS[:1]
    one_by_one = [translate(model, artifacts, [text])[0] for text in texts]
    assert all(one_by_one) and len(set(one_by_one)) == len(WORDS)  # tells the order apart
    assert translate(model, artifacts, texts, batch_size=2) == one_by_one
    beam_one_by_one = [translate(model, artifacts, [text], beam_width=2)[0] for text in texts]
    assert len(set(beam_one_by_one)) == len(WORDS)
    # batch_size counts decoder rows: 2 sentences of 2 beams per call.
    assert translate(model, artifacts, texts, beam_width=2, batch_size=4) == beam_one_by_one


def test_evaluate_reproduces_the_test_metrics(trained_run, capsys):
    assert main(["translation", "evaluate", "--run-dir", str(trained_run)]) == 0
    evaluation = json.loads((trained_run / "evaluation-test.json").read_text())
    recorded = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert evaluation["bleu"] == pytest.approx(recorded["bleu"])
    assert evaluation["chrf"] == pytest.approx(recorded["chrf"])
    out = capsys.readouterr().out
    assert "| reference | translation |" in out
    assert "BLEU" in out and "chrF" in out


def test_predict_prints_one_translation_per_input(trained_run, workspace, capsys):
    inputs = workspace / "inputs.txt"
    inputs.write_text("Tom is happy.\n\nWe are late.\n", encoding="utf-8")
    assert main(["translation", "predict", "--model", str(trained_run / "saved_model"),
                 "--json", SENTENCES[0], "--input", str(inputs)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["source"] for row in rows] == [SENTENCES[0], "Tom is happy.", "",
                                              "We are late."]
    assert all(isinstance(row["translation"], str) and row["score"] <= 0 for row in rows)


def test_predict_beam_width_picks_the_exported_signature(learnt_run, capsys):
    from apps.translation.app import TranslationApp

    model = str(learnt_run / "saved_model")

    def translations(*options):
        assert main(["translation", "predict", "--model", model, "--json", *options,
                     *WORDS]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    def in_memory(beam_width):  # translations and scores of the saved run, decoded here
        keras_model, artifacts = _reload(learnt_run)
        result = TranslationApp()._decoder(keras_model, artifacts)(
            tf.constant(WORDS), beam_width)
        return ([t.decode() for t in result["translation"].numpy()],
                result["score"].numpy().tolist())

    served = translations()  # exported with beam_width=3
    assert translations("--beam-width", "3") == served
    for width, rows in ((None, translations("--beam-width", "1")), (3, served),
                        (5, translations("--beam-width", "5"))):
        assert [row["source"] for row in rows] == WORDS
        expected, scores = in_memory(width)
        assert [row["translation"] for row in rows] == expected and all(expected)
        np.testing.assert_allclose([row["score"] for row in rows], scores, atol=1e-4)
    # This model's beams agree with its greedy choices, so which signature ran shows in
    # the choice itself: the beam width reaches the `beam` signature, 1 means `greedy`.
    app = TranslationApp()
    for options, endpoint in (({"beam_width": 1}, "greedy"), ({"beam_width": 5}, "beam"),
                              ({}, "serve")):
        app.use_options(options)
        assert app.endpoint() == endpoint
    app.use_options({"beam_width": 5})
    assert int(app.to_batch(WORDS)[1]) == 5
    vocabulary = len(json.loads((learnt_run / "artifacts.json").read_text())[
        "target_vocabulary"])
    assert main(["translation", "predict", "--model", model, "--beam-width",
                 str(vocabulary + 1), SENTENCES[0]]) == 2
    err = capsys.readouterr().err
    assert err == (f"rnnt translation: error: --beam-width: the beam is wider than the target "
                   f"vocabulary; expected at most {vocabulary} (the vocabulary's size); "
                   f"received {vocabulary + 1}; use a narrower beam\n")


def test_a_malformed_file_is_refused_with_one_line(workspace, capsys):
    bad = workspace / "bad.tsv"
    bad.write_text("Go.\tVa !\nno tab\n", encoding="utf-8")
    code = main(["translation", "train", "--data", str(bad), "--run-dir",
                 str(workspace / "never"), "--set", "malformed=refuse"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"rnnt translation: error: {bad}:2: malformed line: no tab between "
                       "source and target; separate the two sentences with one tab, or --set "
                       "malformed=skip to leave such lines out")
    assert not (workspace / "never").exists()


def test_evaluate_reads_a_file_that_starts_with_a_byte_order_mark(trained_run, small_pairs,
                                                                   workspace, capsys):
    plain, bom = workspace / "plain.tsv", workspace / "bom.tsv"
    plain.write_bytes(small_pairs.read_bytes())
    bom.write_bytes(b"\xef\xbb\xbf" + small_pairs.read_bytes())
    for path in (plain, bom):
        assert main(["translation", "evaluate", "--run-dir", str(trained_run), "--data",
                     str(path)]) == 0
    captured = capsys.readouterr()
    assert "byte-order mark" not in captured.err
    reports = {json.loads(path.read_text(encoding="utf-8"))["source"]: path
               for path in trained_run.glob("evaluation-*.json")}
    with_mark = json.loads(reports[str(bom)].read_text(encoding="utf-8"))
    without = json.loads(reports[str(plain)].read_text(encoding="utf-8"))
    # The mark is not read as part of the first source sentence: the same pairs, the same scores.
    assert with_mark["bleu"] == pytest.approx(without["bleu"], abs=1e-9)
    assert with_mark["chrf"] == pytest.approx(without["chrf"], abs=1e-9)
    assert with_mark["examples"] == without["examples"] > 0
    assert with_mark["samples"] == without["samples"]
    assert "\ufeff" not in json.dumps(with_mark, ensure_ascii=False)
    # Those are the training pairs: all but the held-out ones were learnt from.
    held_out = len((trained_run / "test.tsv").read_text(encoding="utf-8").splitlines())
    assert with_mark["seen_in_training"] == with_mark["examples"] - held_out
    assert (f"note: {with_mark['examples'] - held_out} of {with_mark['examples']} examples of "
            f"{bom} are also among the examples the model learnt from") in captured.err


def test_a_csv_with_other_column_names_is_refused_with_this_apps_options(workspace, capsys):
    csv = workspace / "pairs.csv"
    csv.write_text("en,fr\nGo.,Va !\n", encoding="utf-8")
    code = main(["translation", "train", "--data", str(csv), "--run-dir",
                 str(workspace / "never-csv")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"rnnt translation: error: {csv}:1: column 'source' not found; expected "
                       "a header naming the source column; received columns ['en', 'fr']; name "
                       "the columns with --set source_column=<name> --set target_column=<name>, "
                       "or add a header row naming them")
    with pytest.raises(SystemExit):  # the hint names only keys this app has
        main(["translation", "train", "--help-config"])
    keys = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {"source_column", "target_column"} <= keys and "header" not in keys
    assert not (workspace / "never-csv").exists()



def test_metrics_honour_lowercase_in_both_scores_and_samples_show_their_sources():
    from apps.translation.app import TranslationApp, sample_table

    artifacts = {"lowercase_target": True, "beam_width": 1, "length_penalty": 0.6,
                 "samples": 10}
    outputs = {"greedy": ["le chat dort ici."], "beam": ["le chat dort ici."],
               "sources": ["The cat sleeps here."]}
    metrics = TranslationApp().metrics(["Le chat dort ici."], outputs, artifacts)
    assert metrics["bleu"] == pytest.approx(100) and metrics["chrf"] == pytest.approx(100)
    cased = TranslationApp().metrics(["Le chat dort ici."], outputs,
                                     dict(artifacts, lowercase_target=False))
    assert cased["chrf"] < 99
    assert metrics["samples"] == [{"source": "The cat sleeps here.",
                                   "reference": "Le chat dort ici.",
                                   "translation": "le chat dort ici."}]
    assert sample_table(metrics).splitlines()[0] == "| source | reference | translation |"


def test_sources_longer_than_the_model_reads_are_reported(trained_run, workspace, capsys):
    artifacts = json.loads((trained_run / "artifacts.json").read_text(encoding="utf-8"))
    limit = artifacts["source_length"]
    long = " ".join(["the"] * limit) + " cat is here."
    inputs = workspace / "long.txt"
    inputs.write_text(f"The cat.\n{long}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["translation", "predict", "--model", str(trained_run / "model.keras"),
                 "--input", str(inputs), "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert len(rows) == 2 and "source_cut_at" not in rows[0]
    assert rows[1]["source_cut_at"] == limit
    assert (f"note: a source longer than the {limit} tokens the model reads was translated "
            f"from its first {limit}: 'the the") in captured.err
    pairs = workspace / "long.tsv"
    pairs.write_text(f"The cat.\tLe chat.\n{long}\tLe chat est ici.\n", encoding="utf-8")
    assert main(["translation", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(pairs)]) == 0
    assert (f"note: 1 of 2 sources are longer than the {limit} tokens the model reads"
            in capsys.readouterr().err)
    report = json.loads((trained_run / "evaluation-long.json").read_text(encoding="utf-8"))
    assert report["sources_cut"] == 1


def test_translations_stopped_at_the_longest_output_are_reported(capsys):
    from apps.translation.app import TranslationApp
    from rnn_templates.sentence_decoding import _search
    from rnn_templates.sentences import END_ID

    # Row 0 emits the end token at once; row 1 never does and runs into max_output_length.
    def step(tokens, states, context):
        ends = tf.one_hot(tf.fill(tf.shape(tokens), END_ID), 6) * 5.0
        words = tf.one_hot(tf.fill(tf.shape(tokens), 4), 6) * 5.0
        return tf.nn.log_softmax(tf.where(states[0] > 0, ends, words)), states

    artifacts = {"max_output_length": 3, "length_penalty": 0.6, "level": "word",
                 "spaced_punctuation": "", "target_vocabulary": ["", "[UNK]", "[start]",
                                                                 "[end]", "chat", "le"]}
    for width in (None, 2):
        result = _search([step], [[tf.constant([[1.0], [-1.0]])]], [[]], artifacts, width, True)
        assert result["ended"].numpy().tolist() == [True, False]
        assert [t.decode() for t in result["translation"].numpy()] == ["", "chat chat chat"]
    app = TranslationApp()
    app.use_artifacts(artifacts)
    outputs = {"translation": ["", "chat chat chat"], "score": [-0.1, -0.2],
               "ended": [True, False]}
    rows = app.prediction_rows(outputs, ["Hi.", "The cat."], [None, None])
    assert "output_cut_at" not in rows[0] and rows[1]["output_cut_at"] == 3
    assert capsys.readouterr().err == ("note: the translation stopped at the 3 tokens the model "
                                       "writes at most, before its end: 'The cat.'\n")


def test_evaluate_counts_the_translations_stopped_at_the_longest_output(learnt_run, capsys):
    from apps.translation.app import TranslationApp
    from rnn_templates.sentence_decoding import translate

    model, artifacts = _reload(learnt_run)
    texts = WORDS[:2]
    whole, ended = translate(model, artifacts, texts, beam_width=2, return_ended=True)
    assert whole == translate(model, artifacts, texts, beam_width=2)
    short = dict(artifacts, max_output_length=1, beam_width=2)
    cut, cut_ended = translate(model, short, texts, return_ended=True)
    # One token at most: a translation ends only where that token is the end itself.
    assert cut_ended == [text == "" for text in cut] and len(cut_ended) == 2
    capsys.readouterr()
    outputs = TranslationApp().scored_outputs(model, texts, short)
    assert outputs["greedy_outputs_cut"] == cut_ended.count(False)
    metrics = TranslationApp().metrics(["Chat rouge.", "Lune arbre maison rivière."], outputs,
                                       short)
    assert outputs["greedy_outputs_cut"] >= 1  # the trained model writes a word first
    assert metrics.get("outputs_cut", 0) == outputs["outputs_cut"]
    assert metrics["greedy_outputs_cut"] == outputs["greedy_outputs_cut"]
    assert (f"note: {outputs['outputs_cut']} of 2 beam-search translations and "
            f"{outputs['greedy_outputs_cut']} of 2 greedy ones stopped at the 1 tokens the model "
            "writes at most" in capsys.readouterr().err)
