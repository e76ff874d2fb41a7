"""Translation data: pair files, malformed lines, caps, CSV/JSONL columns, the Anki download."""

import functools
import http.server
import json
import threading
import zipfile

import pytest

from apps.translation.config import TranslationConfig
from rnn_templates.data import pairs as data
from rnn_templates.errors import UserInputError


def _write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_reads_anki_lines_and_ignores_the_attribution(tmp_path):
    path = _write(tmp_path / "pairs.txt", "Go.\tVa !\tCC-BY 2.0 (France) Attribution: x\n"
                  "\n"
                  "Hi.\tSalut !\n")
    pairs = data.read_pair_lines(path)
    assert list(pairs.sources) == ["Go.", "Hi."]
    assert list(pairs.targets) == ["Va !", "Salut !"]
    assert list(pairs.lines) == [1, 3]


def test_malformed_lines_are_skipped_and_reported_with_their_numbers(tmp_path):
    path = _write(tmp_path / "pairs.tsv", b"Go.\tVa !\nno tab here\nHi.\t \n\x01\x7f\tSalut\n"
                  b"Caf\xe9.\tCaf\xc3\xa9.\nRun!\tCours !\n")
    pairs = data.read_pair_lines(path, malformed="skip")
    assert list(pairs.sources) == ["Go.", "Run!"]
    assert pairs.dropped["malformed"] == [
        (2, "no tab between source and target"), (3, "empty target sentence"),
        (4, "empty source sentence"), (5, "byte 0xe9 is not utf-8 (column 4)")]
    assert data.describe_dropped(pairs) == (
        f"{path}: skipped 4 malformed line(s): 2 (no tab between source and target), "
        "3 (empty target sentence), 4 (empty source sentence), "
        "5 (byte 0xe9 is not utf-8 (column 4)); 1 of them not utf-8: if the file is in "
        "another encoding, give it with --set encoding=<name> (latin-1, cp1252...) to read "
        "every line")


def test_malformed_lines_are_refused_by_the_refuse_policy(tmp_path):
    path = _write(tmp_path / "pairs.tsv", "Go.\tVa !\nno tab here\n")
    with pytest.raises(UserInputError) as error:
        data.read_pair_lines(path, malformed="refuse")
    assert str(error.value) == (
        f"{path}:2: malformed line: no tab between source and target; separate the two "
        "sentences with one tab, or --set malformed=skip to leave such lines out")


def test_a_file_without_any_pair_is_refused(tmp_path):
    path = _write(tmp_path / "pairs.tsv", "just text\nmore text\n")
    with pytest.raises(UserInputError) as error:
        data.read_pair_lines(path)
    assert str(error.value) == (
        f"{path}: no sentence pairs found; expected lines of source<TAB>target; received 2 "
        "malformed line(s), the first line 1 (no tab between source and target); check the "
        "file and its format (--set format=...)")


def test_a_tab_inside_a_sentence_is_malformed_not_an_attribution(tmp_path):
    two = _write(tmp_path / "two.tsv", b"Go.\tVa !\nHi.\tSalut !\nSplit\tsen\ttence here\n"
                 b"Hello\t\tBonjour\nRun!\tCours !\n")
    pairs = data.read_pair_lines(two)
    assert list(pairs.sources) == ["Go.", "Hi.", "Run!"]
    assert pairs.dropped["malformed"] == [(3, "2 tabs where the file's lines have 1"),
                                          (4, "2 tabs where the file's lines have 1")]
    # Tatoeba/Anki lines carry an attribution: a third field is expected, a fourth is not.
    anki = _write(tmp_path / "anki.tsv", b"Go.\tVa !\tCC-BY #1\nHi.\tSalut !\tCC-BY #2\n"
                  b"Split\tsen\ttence\tCC-BY #3\nRun!\tCours !\tCC-BY #4\n")
    pairs = data.read_pair_lines(anki)
    assert list(pairs.targets) == ["Va !", "Salut !", "Cours !"]
    assert pairs.dropped["malformed"] == [(3, "3 tabs where the file's lines have 2")]


def test_caps_and_duplicates_are_counted_not_silent(tmp_path, capsys):
    lines = ["A b.\tUn b.", "A b.\tUn b.", "One two three four five.\tUn deux trois quatre cinq.",
             "C.\tC.", "D.\tD."]
    path = _write(tmp_path / "pairs.tsv", "\n".join(lines) + "\n")
    config = TranslationConfig(data=str(path), max_pairs=4, max_words=3)
    pairs = data.load(config)
    assert list(pairs.sources) == ["A b.", "C."]
    assert pairs.dropped["beyond_max_pairs"] == 1
    assert pairs.dropped["too_long"] == [3]
    assert pairs.dropped["duplicates"] == [2]
    assert capsys.readouterr().err.strip() == (
        f"{path}: left out 1 pair(s) longer than max_words (line 3); left out 1 repeated "
        "pair(s) (line 2); left out 1 pair(s) after max_pairs")


def test_csv_and_jsonl_with_named_columns(tmp_path):
    csv_path = _write(tmp_path / "pairs.csv", 'en,fr\n"Hello, Tom.",Bonjour Tom.\nBye.,\n')
    pairs = data.read_pair_table(csv_path, "csv", "en", "fr")
    assert list(pairs.sources) == ["Hello, Tom."]
    assert pairs.dropped["malformed"] == [(3, "empty target sentence")]
    jsonl = _write(tmp_path / "pairs.jsonl", json.dumps({"en": "Hi.", "fr": "Salut."}) + "\n"
                   + json.dumps({"en": "Go.", "fr": 3}) + "\n")
    with pytest.raises(UserInputError) as error:
        data.read_pair_table(jsonl, "jsonl", "en", "fr", malformed="refuse")
    assert str(error.value) == (
        f"{jsonl}:2: malformed line: a sentence that is not text; write both sentences as "
        "strings, or --set malformed=skip to leave such lines out")
    with pytest.raises(UserInputError, match="column 'source' not found"):
        data.load(TranslationConfig(data=str(csv_path)))


def test_broken_csv_rows_and_jsonl_lines_are_malformed_lines_too(tmp_path):
    csv_path = _write(tmp_path / "pairs.csv", "en,fr\nHi.,Salut.\nalone\n,\nGo.,Va.\n")
    pairs = data.read_pair_table(csv_path, "csv", "en", "fr")
    assert list(pairs.sources) == ["Hi.", "Go."]
    assert pairs.dropped["malformed"] == [(3, "1 field(s), 2 expected"),
                                          (4, "empty source and target sentences")]
    with pytest.raises(UserInputError, match=f"{csv_path}:3: row has too few fields"):
        data.read_pair_table(csv_path, "csv", "en", "fr", malformed="refuse")
    lines = [json.dumps({"en": "Hi.", "fr": "Salut."}), "{not json", json.dumps(["Go.", "Va."]),
             json.dumps({"en": "Run."}), json.dumps({"en": "Go.", "fr": "Va."})]
    jsonl = _write(tmp_path / "pairs.jsonl", "\n".join(lines) + "\n")
    pairs = data.read_pair_table(jsonl, "jsonl", "en", "fr")
    assert list(pairs.targets) == ["Salut.", "Va."] and list(pairs.lines) == [1, 5]
    assert pairs.dropped["malformed"] == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (3, "a JSON list, not an object"), (4, "no key 'fr'")]
    with pytest.raises(UserInputError) as error:
        data.read_pair_table(jsonl, "jsonl", "en", "fr", malformed="refuse")
    assert str(error.value).startswith(f"{jsonl}:2:2: line is not valid JSON")
    only_list = _write(tmp_path / "list.jsonl", json.dumps(["Go.", "Va."]) + "\n")
    with pytest.raises(UserInputError) as error:
        data.read_pair_table(only_list, "jsonl", "en", "fr", malformed="refuse")
    assert 'expected an object with the keys "en" and "fr"' in str(error.value)
    # A key no line has is a misnamed option, refused whatever the policy.
    with pytest.raises(UserInputError) as error:
        data.read_pair_table(jsonl, "jsonl", "english", "fr")
    assert str(error.value) == (f"{jsonl}:1: key 'english' not found; received keys ['en', "
                                "'fr']; pick one with --set source_column=<key>")


def test_csv_sentences_with_line_breaks_need_multiline(tmp_path, capsys):
    path = _write(tmp_path / "pairs.csv", 'source,target\n"Hi,\nTom.",Salut Tom.\nGo.,Va.\n')
    with pytest.raises(UserInputError, match="--set multiline=true if the texts"):
        data.load(TranslationConfig(data=str(path)))
    pairs = data.load(TranslationConfig(data=str(path), multiline=True))
    assert list(pairs.sources) == ["Hi,\nTom.", "Go."] and list(pairs.lines) == [2, 4]



def test_a_utf8_byte_order_mark_is_dropped_and_the_encoding_rules_kept(tmp_path):
    body = "Café.\tCafé !\nHi.\tSalut !\n".encode()
    path = _write(tmp_path / "bom.tsv", b"\xef\xbb\xbf" + body)
    for pairs in (data.load(TranslationConfig(data=str(path))),
                  data.read_pair_lines(path, encoding="utf-8-sig")):
        assert list(pairs.sources) == ["Café.", "Hi."]
        assert list(pairs.targets) == ["Café !", "Salut !"]
        assert pairs.dropped["malformed"] == []
    # A single-byte encoding set over a UTF-8 file is still refused, naming the one set.
    with pytest.raises(UserInputError) as error:
        data.read_pair_lines(path, encoding="cp1252")
    assert str(error.value) == (
        f"{path}: file is UTF-8 (it starts with a byte-order mark), not cp1252; read it with "
        "--set encoding=utf-8")
    cp1252 = _write(tmp_path / "cp1252.tsv", b"\xef\xbb\xbf" + "Café.\t\u201cCafé\u201d\n"
                    .encode("cp1252"))
    assert list(data.read_pair_lines(cp1252, encoding="cp1252").targets) == ["\u201cCafé\u201d"]
    empty = _write(tmp_path / "empty.tsv", b"\xef\xbb\xbf \n")
    with pytest.raises(UserInputError, match="data file is empty"):
        data.read_pair_lines(empty)


def test_a_line_of_only_spaces_and_tabs_is_a_malformed_line_not_a_silent_gap(tmp_path):
    lines = [f"Pair {i}.\tPaire {i}." for i in range(10)]
    lines[3] = "   \t   "
    path = _write(tmp_path / "pairs.tsv", "\n".join(lines) + "\n\n   \n")
    pairs = data.load(TranslationConfig(data=str(path), max_pairs=6))
    assert pairs.dropped["malformed"] == [(4, "empty source and target sentences")]
    # Every line with a tab is accounted for: used, malformed or after max_pairs.
    assert len(pairs) + len(pairs.dropped["malformed"]) + pairs.dropped["beyond_max_pairs"] == 10
    with pytest.raises(UserInputError) as error:
        data.read_pair_lines(path, malformed="refuse")
    assert str(error.value) == (
        f"{path}:4: malformed line: empty source and target sentences; write both sentences, "
        "or delete the line, or --set malformed=skip to leave such lines out")


def test_a_csv_without_the_named_columns_points_at_this_apps_options(tmp_path):
    path = _write(tmp_path / "pairs.csv", "en,fr\nHi.,Salut.\n")
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path), source_column="en"))
    assert str(error.value) == (
        f"{path}:1: column 'target' not found; expected a header naming the target column; "
        "received columns ['en', 'fr']; name the columns with --set source_column=<name> "
        "--set target_column=<name>, or add a header row naming them")
    assert "header" not in TranslationConfig.__dataclass_fields__


_FRENCH = "Tom était allongé sur le canapé.\tTom lay on the sofa.\r\nGo.\tVa !\r\n"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_pairs_file_is_read_with_its_encoding_or_refused(tmp_path, codec):
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    path = _write(tmp_path / "wide.txt", bom + ("Hi.\tSalut !\r\n\n" + _FRENCH).encode(codec))
    pairs = data.read_pair_lines(path, encoding=codec)
    assert list(pairs.sources) == ["Hi.", "Tom était allongé sur le canapé.", "Go."]
    assert list(pairs.targets) == ["Salut !", "Tom lay on the sofa.", "Va !"]
    assert list(pairs.lines) == [1, 3, 4] and pairs.dropped["malformed"] == []
    name = codec[:6].upper()
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path)))
    assert str(error.value) == (
        f"{path}: file is {name} (it starts with a {name} byte-order mark), not utf-8; read "
        f"it with --set encoding={codec[:6]}, or re-save it as UTF-8 (e.g. iconv -f "
        f"{codec[:6]} -t utf-8)")


def test_a_test_pair_that_is_a_training_pair_is_found_whatever_the_formats(tmp_path, capsys):
    from apps.translation.app import TranslationApp

    nbsp = ["Quoi\u202f?\tWhat?", "Tu\u00a0viens\u202f!\tYou come!", "Va.\tGo."]
    train = _write(tmp_path / "train.tsv", "\n".join(nbsp + [f"S{i}.\tT{i}." for i in range(9)]))
    test = _write(tmp_path / "test.jsonl", "".join(
        json.dumps({"source": s, "target": t}) + "\n"
        for s, t in (line.split("\t") for line in nbsp[:2] + ["Neu.\tNew."])))
    pairs = TranslationApp().load_data(TranslationConfig(data=str(train), test_data=str(test)))
    assert list(pairs.test.sources) == ["Neu."]
    assert f"{test}: left out 2 test pair(s) that are also training pairs (first at line 1)" \
        in capsys.readouterr().err
    # CSV and JSONL keep the sentences' spaces as TSV does: only the ends are stripped.
    table = data.read_pair_table(test, "jsonl", "source", "target")
    assert list(table.sources) == ["Quoi\u202f?", "Tu\u00a0viens\u202f!", "Neu."]
    only_known = _write(tmp_path / "known.csv", 'source,target\n" Quoi\u202f? ",What?\n')
    with pytest.raises(UserInputError, match="every test pair is also a training pair"):
        TranslationApp().load_data(TranslationConfig(data=str(train),
                                                     test_data=str(only_known)))


def test_a_single_byte_encoding_over_a_utf8_file_is_refused(tmp_path):
    path = _write(tmp_path / "pairs.tsv", "Hi.\tSalut !\n" + _FRENCH)
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path), encoding="latin-1"))
    assert str(error.value) == (
        f"{path}: file is valid UTF-8, not latin-1: read as latin-1, every accented letter "
        "would be garbled; received UTF-8 text such as 'Tom était allongé sur le canapé.\\tTom "
        "lay on the sofa.' (line 2); read it with --set encoding=utf-8")
    # Mostly UTF-8, with one Latin-1 line: refused too, for CSV as for TSV.
    body = "source,target\n" + "".join(f"Café {i}.,Café {i} !\n" for i in range(3))
    mixed = _write(tmp_path / "mixed.csv", body.encode() + "Thé.,Thé !\n".encode("latin-1"))
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(mixed), encoding="cp1252"))
    assert str(error.value).startswith(
        f"{mixed}: file is UTF-8 but for 1 line(s) (the first line 5), not cp1252: ")
    assert str(error.value).endswith("read it with --set encoding=utf-8 and write "
                                     "those lines in UTF-8")
    # A real Latin-1 file is read as such.
    latin = _write(tmp_path / "latin.tsv", "Thé.\tThé !\nCafé.\tCafé !\n".encode("latin-1"))
    assert list(data.read_pair_lines(latin, encoding="latin-1").sources) == ["Thé.", "Café."]


@pytest.mark.parametrize("name, body", [
    ("pairs.tsv", "Café.\tCafé !\n{bad}\tThé !\nGo.\tVa !\n"),
    ("pairs.csv", "source,target\nCafé.,Café !\n{bad},Thé !\nGo.,Va !\n"),
    ("pairs.jsonl", '{{"source": "Café.", "target": "Café !"}}\n'
                    '{{"source": "{bad}", "target": "Thé !"}}\n'
                    '{{"source": "Go.", "target": "Va !"}}\n')], ids=["tsv", "csv", "jsonl"])
def test_a_stray_byte_in_a_utf8_file_costs_its_line_with_advice_for_that_line(tmp_path, name,
                                                                                body):
    first, rest = body.split("{bad}")
    raw = first.format().encode() + "Thé.".encode("latin-1") + rest.format().encode()
    path = _write(tmp_path / name, raw)
    line = 3 if name.endswith(".csv") else 2
    column = len(first.format().splitlines()[-1]) + 3 if first.format()[-1:] != "\n" else 3
    pairs = data.load(TranslationConfig(data=str(path)))
    assert list(pairs.targets) == ["Café !", "Va !"]
    assert pairs.dropped["malformed"] == [(line, f"byte 0xe9 is not utf-8 (column {column})")]
    assert data.describe_dropped(pairs).endswith(
        "1 of them not utf-8 in a file otherwise UTF-8: write those lines in UTF-8 (another "
        "--set encoding, or re-encoding the whole file, would garble its other lines)")
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path), malformed="refuse"))
    assert str(error.value) == (
        f"{path}:{line}: malformed line: byte 0xe9 is not utf-8 (column {column}); the rest of "
        "the file is UTF-8: write this line in UTF-8 (re-encoding the whole file would garble "
        "its other lines), or --set malformed=skip to leave such lines out")


def test_a_csv_sentence_over_lines_with_a_stray_byte_is_skipped_whole(tmp_path):
    path = _write(tmp_path / "pairs.csv", b'source,target\n"Caf\xc3\xa9\nau lait.",Coffee.\n'
                  b'"Th\xe9\nnoir.",Tea.\nGo.,Va.\n')
    pairs = data.read_pair_table(path, "csv", "source", "target", multiline=True)
    assert list(pairs.sources) == ["Café\nau lait.", "Go."] and list(pairs.lines) == [2, 6]
    assert pairs.dropped["malformed"] == [(4, "byte 0xe9 is not utf-8 (column 4)")]


def test_a_json_array_is_named_and_no_pairs_is_worded_per_format(tmp_path):
    records = [{"en": "Hi.", "fr": "Salut."}, {"en": "Go.", "fr": "Va."}]
    for text in (json.dumps(records, indent=1), json.dumps(records)):
        path = _write(tmp_path / "pairs.json", text + "\n")
        with pytest.raises(UserInputError) as error:
            data.load(TranslationConfig(data=str(path), source_column="en", target_column="fr"))
        assert str(error.value) == (
            f"{path}: file is a JSON array, not JSON Lines (one object per line); expected one "
            f"JSON object per line; convert it, e.g. jq -c '.[]' {path} > "
            f"{tmp_path / 'pairs.jsonl'}")
    jsonl = _write(tmp_path / "lists.jsonl", '["Hi.", "Salut."]\n')
    with pytest.raises(UserInputError) as error:
        data.read_pair_table(jsonl, "jsonl", "en", "fr")
    assert str(error.value) == (
        f'{jsonl}: no sentence pairs found; expected one JSON object per line with the keys "en" '
        'and "fr"; received 1 malformed line(s), the first line 1 (a JSON list, not an object); '
        "check the file and its format (--set format=...)")
    csv_path = _write(tmp_path / "pairs.csv", "en,fr\nHi.,\n")
    with pytest.raises(UserInputError, match="expected a header naming the columns 'en' and "
                       "'fr', then one row per pair; received 1 malformed line"):
        data.read_pair_table(csv_path, "csv", "en", "fr")


def test_a_header_line_in_a_pairs_file_is_noted_and_an_index_column_refused(tmp_path, capsys):
    for header in ("en\tfr", "source\ttarget", "english\tfrench\tattribution", "src_text\tfr-CA"):
        path = _write(tmp_path / "pairs.tsv", f"{header}\nHi.\tSalut.\tx\nGo.\tVa.\tx\n")
        pairs = data.load(TranslationConfig(data=str(path)))
        assert len(pairs) == 3  # read as a pair, never dropped unseen
        first = header.split("\t")
        assert capsys.readouterr().err == (
            f"{path}:1: note: line 1 looks like a header ({first[0]!r} / {first[1]!r}); it is "
            "read as a pair: delete it if it is a header (a pairs file has none)\n")
    path = _write(tmp_path / "named.tsv", "english\tfrançais\nHi.\tSalut.\n")
    data.load(TranslationConfig(data=str(path), source_column="english",
                                target_column="français"))
    assert "looks like a header" in capsys.readouterr().err
    for ordinary in ("Go.\tVa !", "Hi\tSalut", "Tom\tTom", "go\tva", "no\tnon", "yes\toui"):
        path = _write(tmp_path / "pairs.tsv", f"{ordinary}\nRun!\tCours !\n")
        data.load(TranslationConfig(data=str(path)))
        assert capsys.readouterr().err == ""
    # pandas to_csv(sep="\t") with its index: the index is no source sentence.
    path = _write(tmp_path / "index.tsv",
                  "\ten\tfr\n0\tHi.\tSalut.\n1\tGo.\tVa.\n7\tRun!\tCours !\n")
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path)))
    assert str(error.value) == (
        f"{path}:2: the lines start with a number, an index column (pandas to_csv writes "
        "one), not a source sentence; expected source<TAB>target[<TAB>attribution] lines; "
        "received 3 of 4 lines starting with a number, the first '0'; save the file without "
        'the index (pandas: df.to_csv(path, sep="\\t", index=False, header=False))')
    numbers = _write(tmp_path / "numbers.tsv", "1\tun\n2\tdeux\n")  # two fields: sentences
    assert list(data.read_pair_lines(numbers).targets) == ["un", "deux"]


def test_a_semicolon_csv_names_the_translation_columns(tmp_path):
    path = _write(tmp_path / "pairs.csv", "en;fr\nHi.;Salut.\n")
    with pytest.raises(UserInputError) as error:
        data.load(TranslationConfig(data=str(path), source_column="en", target_column="fr"))
    assert str(error.value) == (
        f"{path}:1: the columns are separated by semicolons, not commas; expected a CSV header "
        "such as en,fr; received one column 'en;fr'; save it with comma separators, or as "
        "tab-separated text (.tsv)")


def test_the_column_of_a_bad_byte_counts_characters(tmp_path):
    path = _write(tmp_path / "pairs.tsv", "Café café.\tCafé caf".encode() + b"\xe9.\nGo.\tVa.\n")
    pairs = data.read_pair_lines(path)
    assert pairs.dropped["malformed"] == [(1, "byte 0xe9 is not utf-8 (column 20)")]

@pytest.fixture()
def server(tmp_path):
    """A local HTTP server over ``tmp_path/www``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_anki_archive_is_downloaded_once_and_read(server, tmp_path, capsys):
    root, url = server
    with zipfile.ZipFile(root / "fra-eng.zip", "w") as archive:
        archive.writestr("_about.txt", "about the file")
        archive.writestr("fra.txt", "Go.\tVa !\tattribution\nHi.\tSalut !\tattribution\n")
    config = TranslationConfig(format="anki", data=str(tmp_path / "cache"),
                               anki_url=f"{url}/fra-eng.zip")
    pairs = data.load(config)
    assert list(pairs.targets) == ["Va !", "Salut !"]
    (root / "fra-eng.zip").unlink()  # the cached copy is used from now on
    assert list(data.load(config).sources) == ["Go.", "Hi."]


def test_a_failed_download_is_one_clear_line(server, tmp_path):
    _, url = server
    config = TranslationConfig(format="anki", data=str(tmp_path / "cache"),
                               anki_url=f"{url}/missing-eng.zip")
    with pytest.raises(UserInputError) as error:
        data.load(config)
    message = str(error.value)
    assert message.startswith(f"{url}/missing-eng.zip: could not download the Anki archive; "
                              "received ")
    assert message.endswith("check the network, or download it yourself and pass the .txt "
                            "with --data")
    assert not (tmp_path / "cache").exists()  # nothing left behind by the failed attempt


def test_random_split_is_fixed_by_the_seed_and_refuses_too_few_pairs():
    from rnn_templates.data.splits import random_split

    parts = random_split(20, {"test": 0.25, "validation": 0.1}, seed=3, source="p.tsv")
    again = random_split(20, {"test": 0.25, "validation": 0.1}, seed=3, source="p.tsv")
    assert [len(parts[name]) for name in ("test", "validation", "train")] == [5, 2, 13]
    assert all((parts[name] == again[name]).all() for name in parts)
    assert sorted(sum((part.tolist() for part in parts.values()), [])) == list(range(20))
    # A tiny validation share still gets one pair.
    assert len(random_split(4, {"validation": 0.01}, seed=0, source="p.tsv")["validation"]) == 1
    with pytest.raises(UserInputError) as error:
        random_split(2, {"test": 0.5, "validation": 0.5}, seed=0, source="p.tsv", unit="pairs")
    message = str(error.value)
    assert "too few pairs" in message and "p.tsv" in message and "2 pairs" in message


def test_a_test_file_is_read_whole_without_the_training_pairs(tmp_path, capsys):
    from apps.translation.app import TranslationApp

    train = _write(tmp_path / "train.tsv", "".join(f"S{i}.\tT{i}.\n" for i in range(20)))
    test = _write(tmp_path / "test.tsv", "S1.\tT1.\nNew.\tNeu.\nS2.\tAutre.\nS3.\tT3.\n")
    config = TranslationConfig(data=str(train), test_data=str(test), max_pairs=10)
    pairs = TranslationApp().load_data(config)
    assert len(pairs) == 10
    assert list(pairs.test.sources) == ["New.", "S2."]  # the same source, another target
    assert f"{test}: left out 2 test pair(s) that are also training pairs (first at line 1)" \
        in capsys.readouterr().err
    only_known = _write(tmp_path / "known.tsv", "S1.\tT1.\n")
    with pytest.raises(UserInputError, match="every test pair is also a training pair"):
        TranslationApp().load_data(TranslationConfig(data=str(train),
                                                     test_data=str(only_known)))


def test_no_pairs_left_after_the_caps_advises_what_the_command_can_change(tmp_path):
    from apps.translation.app import TranslationApp

    path = _write(tmp_path / "long.tsv", "One two three four.\tUn deux trois quatre.\n"
                  "Five six seven eight.\tCinq six sept huit.\n")
    config = TranslationConfig(data=str(path), max_words=3)
    with pytest.raises(UserInputError) as caught:
        TranslationApp().load_data(config)
    assert str(caught.value) == (
        f"{path}: no pairs left after the caps; received left out 2 pair(s) longer than "
        "max_words (lines 1, 2); raise --set max_words or check the file")
    # evaluate --data reads with the run's max_words, which it takes no --set for.
    with pytest.raises(UserInputError) as caught:
        TranslationApp().load_evaluation_data(config)
    assert str(caught.value) == (
        f"{path}: no pairs left after the caps; received left out 2 pair(s) longer than "
        "max_words (lines 1, 2); evaluate on shorter pairs, or train a run with a larger --set "
        "max_words (this run's is 3)")
    assert "max_words" not in TranslationConfig.DATA_KEYS


def test_a_test_file_of_one_training_pair_says_one_pair(tmp_path):
    from apps.translation.app import TranslationApp

    train = _write(tmp_path / "train.tsv", "".join(f"S{i}.\tT{i}.\n" for i in range(20)))
    only_known = _write(tmp_path / "known.tsv", "S1.\tT1.\n")
    with pytest.raises(UserInputError) as caught:
        TranslationApp().load_data(TranslationConfig(data=str(train), test_data=str(only_known)))
    assert str(caught.value) == (f"{only_known}: every test pair is also a training pair; "
                                 "received 1 pair; test on pairs the training file does not hold")
