"""Sentiment on the quirks of real files: Unicode line separators, HTML breaks, quotes,
byte-order marks, header-only files, upper-case extensions, reports that must not collide."""

import csv
import json
import shutil
from pathlib import Path

import keras
import pytest

from apps.sentiment import data as data_io
from apps.sentiment.config import SentimentConfig
from rnn_templates.cli import main
from rnn_templates.errors import UserInputError
from rnn_templates.saving import load_model

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=1", "--set", "units=8", "--set", "embedding_dim=8",
        "--set", "max_tokens=2000"]
ODD = ["\u0085", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c"]


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory):
    """A run trained on texts holding every character that splits lines for Python."""
    workspace = tmp_path_factory.mktemp("odd")
    with open(REPO / "data/sentiment/reviews.tsv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))[:240]
    path = workspace / "odd.jsonl"
    with open(path, "w", encoding="utf-8") as stream:
        for index, row in enumerate(rows):
            text = row["text"].replace(" ", ODD[index % len(ODD)], 1) + "<br />Seen twice."
            stream.write(json.dumps({"text": text, "label": row["label"]},
                                    ensure_ascii=False) + "\n")
    run_dir = workspace / "run"
    assert main(["sentiment", "train", "--data", str(path), "--run-dir", str(run_dir),
                 *TINY]) == 0
    return run_dir


def test_line_separators_in_training_texts_do_not_break_reloading(odd_run, capsys):
    assert main(["sentiment", "evaluate", "--run-dir", str(odd_run)]) == 0
    model = load_model(odd_run / "model.keras")
    vectorizer, = (layer for layer in model.layers
                   if isinstance(layer, keras.layers.TextVectorization))
    vocabulary = vectorizer.get_vocabulary()
    assert len(vocabulary) > 100
    assert not [word for word in vocabulary if any(ch in word for ch in ODD)]
    capsys.readouterr()
    assert main(["sentiment", "predict", "--model", str(odd_run / "model.keras"),
                 "Great<br />value"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_one_input_line_is_one_prediction(odd_run, tmp_path, capsys):
    lines = [f"line {i}{ODD[i % 3]}still line {i}" for i in range(9)]
    source = tmp_path / "inputs.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"), "--json",
                 "--input", str(source)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in rows] == lines
    # The plain output too: every reader's idea of a line break in a text becomes a space.
    with_return = [*lines, "mid\rcarriage"]
    source.write_text("\n".join(with_return) + "\n", encoding="utf-8", newline="")
    output = tmp_path / "predictions.tsv"
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"),
                 "--input", str(source), "--output", str(output)]) == 0
    written = output.read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[2] for line in written] == [
        "".join(" " if ch in ODD or ch == "\r" else ch for ch in text) for text in with_return]
    assert capsys.readouterr().out == f"{len(with_return)} predictions written to {output}\n"

    # blank lines are inputs too (reported), so the outputs still line up
    source.write_text("Great value.\n\n   \nAwful.\n\u200b\n", encoding="utf-8")
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"), "--json",
                 "--input", str(source), "Fine.", " "]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["text"] for line in out.splitlines()] == [
        "Fine.", " ", "Great value.", "", "   ", "Awful.", "\u200b"]
    # a zero-width space is as blank as a space: standardization leaves nothing of it
    assert err == ("note: 4 blank input(s) (empty, or only spaces and invisible characters) "
                   "predicted as empty inputs, one output each (input argument 2, "
                   f"line 2 of {source}, line 3 of {source}, line 5 of {source})\n")


def test_predict_reads_standard_input_as_utf8_and_refuses_other_bytes(odd_run, monkeypatch,
                                                                      capsys):
    import io as stdio

    def stdin(data: bytes):
        monkeypatch.setattr("sys.stdin", stdio.TextIOWrapper(stdio.BytesIO(data)))

    stdin(b"\xef\xbb\xbfGreat value.\r\nAwful.\r\n")
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"), "--json",
                 "--input", "-"]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == [
        "Great value.", "Awful."]
    stdin(b"Good.\nCaf\xe9.\n")
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"),
                 "--input", "-"]) == 2
    assert capsys.readouterr().err == (
        "rnnt sentiment: error: standard input:2:4: standard input is not valid UTF-8; "
        "received byte 0xe9; pipe it through iconv -f latin1 -t utf-8\n")
    undecodable = b"Caf\xe9.".decode("utf-8", "surrogateescape")  # as argv holds it
    assert main(["sentiment", "predict", "--model", str(odd_run / "saved_model"),
                 undecodable]) == 2
    assert capsys.readouterr().err == (
        "rnnt sentiment: error: input argument 1: argument is not valid UTF-8; received byte "
        "0xe9; pass UTF-8 text, or use --input FILE\n")


def test_another_apps_predict_refuses_the_model_by_name(odd_run, capsys):
    for model in (odd_run / "saved_model", odd_run / "model.keras"):
        assert main(["translation", "predict", "--model", str(model), "Hello."]) == 2
        assert capsys.readouterr().err == (
            f"rnnt translation: error: {model}: this model was made by the sentiment app; "
            "expected a translation model; use `rnnt sentiment predict`, or give a "
            "translation model\n")


def test_a_model_without_its_app_file_is_refused_by_another_app_in_one_line(
        odd_run, tmp_path, capsys):
    bare = tmp_path / "bare"  # as exported before models named their app
    shutil.copytree(odd_run / "saved_model", bare)
    (bare / "app.json").unlink()
    expected = {"translation": "KeyError 'translation'", "forecasting": "KeyError 'reader'",
                "music": "TypeError Binding inputs to tf.function failed"}
    source = tmp_path / "series.csv"
    source.write_text("date,load\n2024-01-01,3\n", encoding="utf-8")
    arguments = {"translation": ["Hello."], "forecasting": ["--input", str(source)],
                 "music": ["--steps", "4", "60 62"]}
    for app, received in expected.items():
        assert main([app, "predict", "--model", str(bare), *arguments[app]]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"rnnt {app}: error: {bare}: this model does not take or return what a {app} "
            f"model does; received {received}"), err
        assert err.endswith(f"; give a model made by `rnnt {app} train` or `export` (one "
                            "exported by an earlier version: export its run again)\n")
        assert err.count("\n") == 1
    assert main(["sentiment", "predict", "--model", str(bare), "--json", "Great."]) == 0


def test_evaluating_a_file_named_test_keeps_the_held_out_report(odd_run, tmp_path):
    assert main(["sentiment", "evaluate", "--run-dir", str(odd_run)]) == 0
    held_out = json.loads((odd_run / "evaluation-test.json").read_text(encoding="utf-8"))
    other = tmp_path / "test.jsonl"
    other.write_text('{"text": "Awful.", "label": "negative"}\n'
                     '{"text": "Lovely.", "label": "positive"}\n', encoding="utf-8")
    assert main(["sentiment", "evaluate", "--run-dir", str(odd_run), "--data", str(other)]) == 0
    assert json.loads((odd_run / "evaluation-test.json").read_text()) == held_out
    second = json.loads((odd_run / "evaluation-test-2.json").read_text(encoding="utf-8"))
    assert second["examples"] == 2 and second["source"] == str(other.resolve())
    assert main(["sentiment", "evaluate", "--run-dir", str(odd_run), "--data", str(other)]) == 0
    assert not (odd_run / "evaluation-test-3.json").exists()  # the same file updates its own


def _load(path: Path, **overrides):
    return data_io.load(SentimentConfig(data=str(path), **overrides))


def test_tsv_texts_starting_with_a_quote_are_read_row_for_row(tmp_path):
    rows = ['"Best film ever" said nobody.\tnegative', 'Fine.\tpositive',
            '"Quoted" praise, deserved.\tpositive', 'Dull "plot".\tnegative']
    path = tmp_path / "quotes.tsv"
    path.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = _load(path)
    assert data.texts.tolist() == [row.split("\t")[0] for row in rows]


def test_jsonl_with_a_raw_line_separator_inside_a_string(tmp_path):
    path = tmp_path / "sep.jsonl"
    path.write_text('{"text": "one\u2028two", "label": "a"}\n{"text": "three", "label": "b"}\n',
                    encoding="utf-8")
    assert _load(path).texts.tolist() == ["one\u2028two", "three"]


def test_a_header_only_file_says_it_has_no_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(UserInputError) as caught:
        _load(path)
    assert str(caught.value) == (f"{path}: file has a header but no data rows; received header "
                                 "['text', 'label']; add rows below the header")


def test_a_bad_byte_after_a_byte_order_mark_is_named_where_it_is(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\ncaf\xe9 \x93good\x94,pos\n")
    with pytest.raises(UserInputError) as caught:
        _load(path)
    assert str(caught.value).startswith(
        f"{path}:2:4: file is not valid UTF-8; received byte 0xe9; re-save the file as UTF-8 "
        "(e.g. iconv -f latin1 -t utf-8")
    windows = tmp_path / "cp1252.csv"
    windows.write_bytes(b"text,label\n\x93good\x94,pos\n")
    with pytest.raises(UserInputError, match=r":2:1: .* iconv -f cp1252 -t utf-8"):
        _load(windows)


def test_class_folders_read_upper_case_extensions_and_name_the_folders(tmp_path):
    for label in ("neg", "pos"):
        (tmp_path / "corpus" / label).mkdir(parents=True)
        (tmp_path / "corpus" / label / "A.TXT").write_text(f"{label} text", encoding="utf-8")
    assert sorted(_load(tmp_path / "corpus").labels.tolist()) == ["neg", "pos"]
    (tmp_path / "one" / "pos").mkdir(parents=True)
    (tmp_path / "one" / "pos" / "a.txt").write_text("fine", encoding="utf-8")
    with pytest.raises(UserInputError, match="check the class sub-folders"):
        _load(tmp_path / "one")


def test_uci_style_files_without_a_header(tmp_path):
    path = tmp_path / "yelp_labelled.txt"
    path.write_text("Wow... Loved this place.\t1\nCrust is not good.\t0\n", encoding="utf-8")
    data = _load(path, format="tsv", header=False)
    assert data.texts.tolist() == ["Wow... Loved this place.", "Crust is not good."]
    assert data.labels.tolist() == ["1", "0"]
    with pytest.raises(UserInputError, match="cannot be found in a file without a header; "
                                             "expected a position"):
        _load(path, format="tsv", header=False, text_column="review")


def test_repeated_texts_are_reported_and_dropped(tmp_path, capsys):
    path = tmp_path / "dups.csv"
    path.write_text("text,label\nGood.,pos\nBad.,neg\n good. ,pos\nBad.,pos\nFine.,pos\n",
                    encoding="utf-8")
    data = _load(path)
    assert data.texts.tolist() == ["Good.", "Bad.", " good. ", "Fine."]  # case is not a repeat
    err = capsys.readouterr().err
    assert err == (f"{path}: 1 repeated texts (1 with another label than their first copy; "
                   f"first at {path}:5) dropped; --set duplicates=keep keeps them\n")
    assert len(_load(path, duplicates="keep")) == 5


def test_a_test_split_never_holds_training_texts(tmp_path, capsys):
    for split, texts in (("train", ["good one", "bad one"]), ("test", ["good one", "new"])):
        for label, text in zip(("pos", "neg"), texts, strict=True):
            folder = tmp_path / "acl" / split / label
            folder.mkdir(parents=True)
            (folder / "0.txt").write_text(text, encoding="utf-8")
    data = _load(tmp_path / "acl")
    assert data.test.texts.tolist() == ["new"]
    assert "1 test texts also in the training data dropped from the test split" in \
        capsys.readouterr().err
