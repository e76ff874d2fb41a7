"""Sentiment loaders: every format, every refusal, and the IMDB download path."""

import functools
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from apps.sentiment import data as data_io
from apps.sentiment.config import SentimentConfig
from rnn_templates.data.labels import stratified_split
from rnn_templates.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load(path: Path, **overrides):
    return data_io.load(SentimentConfig(data=str(path), **overrides))


# --- formats ----------------------------------------------------------------------


def test_csv_with_string_labels(tmp_path):
    path = write(tmp_path / "r.csv", 'text,label\n"Good, really",pos\nAwful,neg\nFine,pos\n')
    data = load(path)
    assert data.texts.tolist() == ["Good, really", "Awful", "Fine"]
    assert data.labels.tolist() == ["pos", "neg", "pos"]
    assert data.classes == ["neg", "pos"]


def test_tsv_with_integer_labels_and_custom_columns(tmp_path):
    path = write(tmp_path / "r.tsv", "id\treview\tstars\n1\tgreat\t1\n2\tbad\t0\n3\tmeh\t2.0\n")
    data = load(path, text_column="review", label_column="stars")
    assert data.texts.tolist() == ["great", "bad", "meh"]
    assert data.labels.tolist() == ["1", "0", "2"]  # 2.0 is the integer class 2


def test_jsonl_multiclass(tmp_path):
    lines = [{"body": "a", "y": 0}, {"body": "b", "y": 1}, {"body": "c", "y": 2}]
    path = write(tmp_path / "r.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    data = load(path, text_column="body", label_column="y")
    assert data.labels.tolist() == ["0", "1", "2"]


def test_folder_per_class_and_acl_imdb_layout(tmp_path):
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = tmp_path / "acl" / split / label
            folder.mkdir(parents=True)
            for k in range(3):
                write(folder / f"{k}_1.txt", f"{split} {label} {k}<br />end")
    (tmp_path / "acl" / "train" / "unsup").mkdir()
    write(tmp_path / "acl" / "train" / "unsup" / "0_0.txt", "unlabelled")
    data = load(tmp_path / "acl")
    assert len(data) == 6 and data.test is not None and len(data.test) == 6
    assert "unlabelled" not in data.texts.tolist()
    assert all("<br />" not in text for text in data.texts)
    plain = data_io.read_folder(tmp_path / "acl" / "train")
    assert plain.test is None and sorted(set(plain.labels)) == ["neg", "pos"]


def test_class_folders_leave_out_hidden_entries_and_name_what_they_do_not_read(tmp_path,
                                                                               capsys):
    root = tmp_path / "reviews"
    for label in ("neg", "pos"):
        (root / label).mkdir(parents=True)
        for k in range(3):
            write(root / label / f"{k}.txt", f"a {label} text number {k}")
        # macOS metadata beside each text: not UTF-8, and no review
        write(root / label / f"._{label}.txt", b"\x00\x05\x16\x07\x00\x02Mac OS X \xb0")
        write(root / label / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    (root / ".ipynb_checkpoints").mkdir()
    write(root / ".ipynb_checkpoints" / "notes-checkpoint.txt", "a notebook")
    (root / "__MACOSX" / "pos").mkdir(parents=True)
    write(root / "__MACOSX" / "pos" / "._0.txt", b"\xb0")
    (root / "neutral").mkdir()  # an empty class folder
    (root / "pos" / "more").mkdir()  # a nested folder
    write(root / "pos" / "more" / "x.txt", "nested text")
    write(root / "pos" / "3.txt", "a neg text number 0 ")  # a repeat, in another file
    data = load(root)
    assert data.classes == ["neg", "pos"] and len(data) == 6
    assert sorted(data.where.tolist()) == sorted(
        str(root / label / f"{k}.txt") for label in ("neg", "pos") for k in range(3))
    err = capsys.readouterr().err
    assert (f"{root}: note: 4 hidden file(s) or folder(s) left out (names starting with '.', "
            "__MACOSX): .ipynb_checkpoints/, __MACOSX/, neg/._neg.txt and 1 more\n") in err
    assert f"{root}: note: 1 class folder(s) with no .txt file, so no class: neutral/\n" in err
    assert f"{root}: note: 1 folder(s) inside class folders not read (move" in err
    assert "pos/more/" in err and ".DS_Store" not in err
    # Repeats are reported by file, the only place a folder's example can be found.
    assert f"first at {root / 'pos' / '3.txt'})" in err


def test_labels_one_case_apart_a_number_as_text_and_an_empty_text_file_are_refused(tmp_path):
    path = write(tmp_path / "r.csv", "text,label\ngreat,positive\nbad,negative\n"
                 "fine,Positive\nawful,negative\n")
    with pytest.raises(UserInputError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{path}: labels that differ only in case: 'Positive' and 'positive'; expected each "
        "class written one way; received 1 rows 'Positive', 1 rows 'positive'; write each "
        "class the same way in the file (all lower case, say)")
    numbered = write(tmp_path / "n.jsonl", '{"text": 123, "label": "pos"}\n'
                     '{"text": "ok", "label": "neg"}\n')
    with pytest.raises(UserInputError, match=r"n.jsonl:1 key 'text': text is not a string; "
                       r"expected a string; received int 123"):
        load(numbered)
    for label in ("neg", "pos"):
        (tmp_path / "f" / label).mkdir(parents=True)
        write(tmp_path / "f" / label / "a.txt", f"a {label} text")
    write(tmp_path / "f" / "pos" / "b.txt", "  \n")
    with pytest.raises(UserInputError, match=r"f/pos/b.txt: empty text file"):
        load(tmp_path / "f")


def test_shipped_corpus_loads_with_defaults():
    data = data_io.load(SentimentConfig(data=str(REPO / "data/sentiment/reviews.tsv")))
    assert len(data) >= 2000
    assert data.classes == ["negative", "positive"]


def test_stratified_split_keeps_class_balance_and_is_deterministic():
    labels = np.array(["a"] * 80 + ["b"] * 20)
    train, val, test = stratified_split(labels, (0.1, 0.2), seed=3)
    assert len(train) + len(val) + len(test) == 100
    assert len(set(train) | set(val) | set(test)) == 100
    assert (labels[test] == "b").sum() == 4 and (labels[val] == "b").sum() == 2
    again = stratified_split(labels, (0.1, 0.2), seed=3)
    assert all((x == y).all() for x, y in zip((train, val, test), again, strict=True))


# --- refusals: one line naming the file, what, expected, received, fix --------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "missing.csv: data file not found; check the path given to --data"),
        ("empty.csv", "", "empty.csv: data file is empty; point --data at a file with examples"),
        ("blank.csv", "\n  \n", "blank.csv: data file is empty"),
        (
            "cols.csv",
            "review,stars\nok,1\n",
            "cols.csv:1: column 'text' not found; expected a header naming the text column; "
            "received columns ['review', 'stars']; pick one with --set text_column=<name>",
        ),
        (
            "score.csv",
            "text,label\ngood,1\nmeh,3.5\n",
            "score.csv:3 column 'label': label is not a class; expected a class name or an "
            "integer; received '3.5'",
        ),
        (
            "nolabel.csv",
            "text,label\ngood,1\nmeh,\n",
            "nolabel.csv:3 column 'label': empty label; expected a class name or an integer",
        ),
        ("short.csv", "text,label\ngood\n", "short.csv:2: row has too few fields; expected 2"),
        (
            "one.csv",
            "text,label\ngood,pos\nfine,pos\n",
            "one.csv: only one class in the labels; expected at least two classes; received "
            "2 rows all labelled 'pos'",
        ),
        (
            "latin1.csv",
            "text,label\ngood,pos\ncaf\xe9,neg\n".encode("latin-1"),
            "latin1.csv:3:4: file is not valid UTF-8; received byte 0xe9; re-save the file",
        ),
        (
            "bad.jsonl",
            '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n',
            "bad.jsonl:2:15: line is not valid JSON",
        ),
        (
            "keys.jsonl",
            '{"body": "a", "label": 1}\n',
            "keys.jsonl:1: key 'text' not found; received keys ['body', 'label']",
        ),
        (
            "list.jsonl",
            '{"text": "a", "label": [1, 2]}\n',
            "list.jsonl:1 key 'label': label is not a class",
        ),
        ("array.jsonl", '[{"text": "a", "label": "pos"},\n {"text": "b", "label": "neg"}]\n',
         "array.jsonl: file is a JSON array, not JSON Lines (one object per line); expected "
         "one JSON object per line; convert it, e.g. jq -c '.[]' {dir}/array.jsonl > "
         "{dir}/array-lines.jsonl"),
        ("array.json", '[{"text": "a", "label": "pos"}]',
         "array.json: file is a JSON array, not JSON Lines (one object per line); expected "
         "one JSON object per line; convert it, e.g. jq -c '.[]' {dir}/array.json > "
         "{dir}/array.jsonl"),
        ("notes.txt", "hello\n", "notes.txt: cannot tell the file format from its extension; "
         "expected one of .csv, .json, .jsonl, .tab, .tsv or a folder; received '.txt'; rename "
         "the file or choose with --set format=csv|tsv|jsonl|folder"),
        ("uci.txt", "Wow... Loved this place.\t1\n", "uci.txt: cannot tell the file format "
         "from its extension; expected one of .csv, .json, .jsonl, .tab, .tsv or a folder; "
         "received '.txt'; its first line holds a tab: read it with --set format=tsv, plus "
         "--set header=false if that line is already data (sentence<TAB>label)"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(UserInputError) as caught:
        load(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(str(tmp_path / name)) or text.startswith(str(path))
    assert message.format(dir=tmp_path) in text


def test_free_text_label_column_is_refused(tmp_path):
    rows = "".join(f"text {i},label {i}\n" for i in range(60))
    path = write(tmp_path / "wrong.csv", "text,label\n" + rows)
    with pytest.raises(UserInputError, match="too many distinct labels .* received 60 distinct"):
        load(path)


# --- IMDB: the real download code against a local HTTP server -------------------------


def _imdb_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for split in ("train", "test"):
            for label, word in (("pos", "wonderful"), ("neg", "dreadful")):
                for k in range(4):
                    body = f"A {word} film, number {k}.<br />Seen in {split}.".encode()
                    stars = 7 if label == "pos" else 2
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{k}_{stars}.txt")
                    info.size = len(body)
                    archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def imdb_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    write(root / "aclImdb_v1.tar.gz", _imdb_archive())
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_imdb_downloads_extracts_and_keeps_its_split(tmp_path, imdb_server):
    cache = tmp_path / "cache"
    config = SentimentConfig(data=str(cache), format="imdb",
                             imdb_url=f"{imdb_server}/aclImdb_v1.tar.gz")
    data = data_io.load(config)
    assert len(data) == 8 and len(data.test) == 8
    assert data.classes == ["neg", "pos"]
    assert any("wonderful" in t for t in data.texts[data.labels == "pos"])
    assert (cache / "datasets" / "aclImdb_v1.tar.gz").is_file()  # cached for next time
    again = data_io.load(config)  # from the cache, no second download needed
    assert len(again) == 8


def test_imdb_download_failure_is_one_clear_line(tmp_path, imdb_server):
    config = SentimentConfig(data=str(tmp_path / "cache"), format="imdb",
                             imdb_url=f"{imdb_server}/missing.tar.gz")
    with pytest.raises(UserInputError, match="could not download IMDB; received .*404"):
        data_io.load(config)
    assert not (tmp_path / "cache").exists()  # nothing half-made is left behind
    mine = tmp_path / "mine"  # in a folder of the user's, only what was there stays
    (mine / "pos").mkdir(parents=True)
    with pytest.raises(UserInputError, match="could not download IMDB"):
        data_io.load(SentimentConfig(data=str(mine), format="imdb",
                                     imdb_url=f"{imdb_server}/missing.tar.gz"))
    assert [p.name for p in mine.iterdir()] == ["pos"]
