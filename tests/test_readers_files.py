"""Real files on disk: text encodings other than UTF-8, and CSV rows that run over lines."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.sentiment import data as data_io
from apps.sentiment.config import SentimentConfig
from rnn_templates.config import data_overrides
from rnn_templates.data.readers import iter_lines, read_delimited, read_table, wide_without_bom
from rnn_templates.data.series import read_series
from rnn_templates.errors import UserInputError

COLUMNS = {"text": "text_column", "label": "label_column"}


def load(path: Path, **overrides):
    return data_io.load(SentimentConfig(data=str(path), **overrides))


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(UserInputError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- encodings --------------------------------------------------------------------


CP1252_ROWS = [
    ("\u201cLovely\u201d little caf\u00e9, would return", "pos"),
    ("The waiter\u2019s mood \u2013 awful", "neg"),
    ("Cr\u00e8me br\u00fbl\u00e9e was perfect \u2026", "pos"),
    ("Cold soup, rude staff", "neg"),
]


def write_cp1252(path: Path) -> Path:
    body = "text,label\r\n" + "".join(f'"{text}",{label}\r\n' for text, label in CP1252_ROWS)
    raw = body.encode("cp1252")
    assert b"\x93" in raw and b"\x94" in raw and b"\xe9" in raw  # the bytes this is about
    path.write_bytes(raw)
    return path


def test_a_cp1252_file_is_read_with_the_encoding_option(tmp_path):
    path = write_cp1252(tmp_path / "windows.csv")
    data = load(path, encoding="cp1252")
    assert data.texts.tolist() == [text for text, _ in CP1252_ROWS]
    assert data.labels.tolist() == [label for _, label in CP1252_ROWS]
    assert data.where.tolist() == [f"{path}:{line}" for line in range(2, 6)]
    # The same file read as the default UTF-8 is refused, pointing at the option.
    message = refusal(load, path)
    assert f"{path}:2:2: file is not valid UTF-8" in message
    assert "--set encoding=cp1252" in message


def test_a_single_byte_encoding_over_a_utf8_file_is_refused_not_misread(tmp_path):
    # Read as latin-1, every accent of a UTF-8 file came out garbled ("cafÃ©"), silently.
    table = tmp_path / "reviews.csv"
    table.write_text("text,label\nCaf\u00e9 cr\u00e8me,pos\nNa\u00efve plot,neg\n",
                     encoding="utf-8")
    folder = tmp_path / "corpus"
    (folder / "pos").mkdir(parents=True)
    (folder / "pos" / "a.txt").write_text("D\u00e9j\u00e0 vu, great", encoding="utf-8")
    (folder / "neg").mkdir()
    (folder / "neg" / "b.txt").write_text("plain", encoding="utf-8")
    for path in (table, folder):
        message = refusal(load, path, encoding="latin-1")
        assert "file is valid UTF-8, not latin-1" in message
        assert message.endswith("read it with --set encoding=utf-8")


def test_class_folders_are_read_with_the_encoding_too(tmp_path):
    for label, text in (("pos", "caf\u00e9 \u201cgreat\u201d"), ("neg", "na\u00efve plot")):
        (tmp_path / "corpus" / label).mkdir(parents=True)
        (tmp_path / "corpus" / label / "a.txt").write_bytes(text.encode("cp1252"))
    data = load(tmp_path / "corpus", encoding="cp1252")
    assert sorted(data.texts.tolist()) == ["caf\u00e9 \u201cgreat\u201d", "na\u00efve plot"]
    assert "encoding=latin-1" in refusal(load, tmp_path / "corpus")  # 0xef of "naïve" first


@pytest.mark.parametrize(
    "byte, advised, not_advised",
    [
        (b"\x93", "--set encoding=cp1252", "encoding=latin-1"),
        (b"\x85", "--set encoding=cp1252", "encoding=latin-1"),
        (b"\xe9", "--set encoding=latin-1", "encoding=cp1252"),
        (b"\x81", "--set encoding=latin-1", "encoding=cp1252"),  # unused in Windows-1252
    ],
)
def test_invalid_utf8_names_line_column_and_the_encoding_that_fits(tmp_path, byte, advised,
                                                                   not_advised):
    before = "na\u00efve ca"  # a two-byte character first: columns count characters
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\ngood film,pos\n" + before.encode("utf-8") + byte
                     + b"fe scene,neg\n")
    message = refusal(load, path)
    assert message.startswith(f"{path}:3:{len(before) + 1}: file is not valid UTF-8; "
                              f"received byte 0x{byte[0]:02x}; ")
    assert advised in message and not_advised not in message
    assert "iconv -f" in message


def test_another_encoding_that_cannot_read_a_byte_says_where(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"text,label\ngood,pos\nbad \x81 byte,neg\n")
    message = refusal(load, path, encoding="cp1252")
    assert message.startswith(f"{path}:3:5: file is not valid cp1252; received byte 0x81; ")
    assert "--set encoding=" in message
    assert len(load(path, encoding="latin-1")) == 2  # Latin-1 reads every byte


@pytest.mark.parametrize("name", ["klingon", "base64", ""])
def test_an_unknown_encoding_is_refused_before_reading(tmp_path, name):
    path = write_cp1252(tmp_path / "windows.csv")
    message = refusal(load, path, encoding=name)
    assert message.startswith("--set encoding: unknown text encoding;")
    assert f"received {name!r}" in message and "--set encoding=" in message
    message = refusal(load, tmp_path / "missing", encoding=name)  # before the path is looked at
    assert "unknown text encoding" in message


def test_a_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\ncaf\xc3\xa9 au lait,pos\nflat beer,neg\n")
    data = load(path)
    assert data.texts.tolist() == ["caf\u00e9 au lait", "flat beer"]
    # Read as cp1252, a UTF-8 file would turn into "cafÃ©": refused instead.
    message = refusal(load, path, encoding="cp1252")
    assert message.startswith(f"{path}: file is UTF-8")
    assert message.endswith("read it with --set encoding=utf-8")
    ascii_only = tmp_path / "bom-ascii.csv"
    ascii_only.write_bytes(b"\xef\xbb\xbftext,label\ngood,pos\nbad,neg\n")
    assert load(ascii_only, encoding="cp1252").texts.tolist() == ["good", "bad"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_utf16_with_advice_that_works(tmp_path, codec):
    body = "text\tlabel\ncaf\u00e9 au lait\tpos\nflat beer\tneg\n"
    path = tmp_path / "unicode.tsv"
    path.write_bytes("\ufeff".encode(codec) + body.encode(codec))  # Excel's "Unicode text"
    for encoding in ("utf-8", "latin-1"):  # latin-1 would read every byte, as garbage
        message = refusal(load, path, encoding=encoding)
        assert message.startswith(f"{path}: file is UTF-16 (it starts with a UTF-16 byte-order "
                                  f"mark), not {encoding}; ")
        assert "--set encoding=utf-16" in message and "iconv -f utf-16 -t utf-8" in message
    for encoding in ("utf-16", codec):
        assert load(path, encoding=encoding).texts.tolist() == ["caf\u00e9 au lait",
                                                                 "flat beer"]
    inputs = tmp_path / "inputs.txt"
    inputs.write_bytes("Great movie\nawful\n".encode("utf-16"))
    message = refusal(lambda: list(iter_lines(str(inputs))))
    assert message.startswith(f"{inputs}: file is UTF-16 (it starts with a UTF-16 byte-order "
                              "mark), not UTF-8; ")
    assert "iconv -f utf-16 -t utf-8" in message


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_text_without_a_byte_order_mark_is_named_not_read_as_garbage(tmp_path, codec):
    # Valid UTF-8 (every zero byte is a character), so only its zeros give it away.
    body = "text\tlabel\ncaf\u00e9 au lait\tpos\nflat beer\tneg\n"
    path = tmp_path / "unicode.tsv"
    path.write_bytes(body.encode(codec))
    name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    zeros = "every other byte is 0" if "16" in codec else "three bytes of four are 0"
    assert refusal(load, path) == (
        f"{path}: file looks like {name} without a byte-order mark ({zeros}), not utf-8; "
        f"read it with --set encoding={codec}, or re-save it as UTF-8 (e.g. iconv -f {codec} "
        "-t utf-8)")
    assert load(path, encoding=codec).texts.tolist() == ["caf\u00e9 au lait", "flat beer"]
    inputs = tmp_path / "inputs.txt"
    inputs.write_bytes("Great movie\nawful\n".encode(codec))
    assert refusal(lambda: list(iter_lines(str(inputs)))) == (
        f"{inputs}: file looks like {name} without a byte-order mark ({zeros}), not utf-8; "
        f"re-save it as UTF-8 (e.g. iconv -f {codec} -t utf-8)")
    series = tmp_path / "series.csv"
    series.write_bytes("date,load\n2024-01-01,1.5\n2024-01-02,2.5\n".encode(codec))
    assert refusal(read_series, series).startswith(f"{series}: file looks like {name} without")


def test_text_with_a_few_zero_bytes_is_not_taken_for_utf16(tmp_path):
    path = tmp_path / "nul.tsv"
    path.write_bytes(b"text\tlabel\ngood\x00 film\tpos\nbad film\tneg\n")
    assert wide_without_bom(path.read_bytes()) is None
    assert wide_without_bom("\u4e2d\u6587\u6587\u672c".encode("utf-16-le")) is None  # no zeros


def test_evaluate_may_set_encoding_and_multiline():
    assert data_overrides(SentimentConfig, None, ["encoding=cp1252", "multiline=true"],
                          has_data=True) == {"encoding": "cp1252", "multiline": True}


# --- CSV rows over several lines -----------------------------------------------------


def runaway_quote_file(path: Path) -> tuple[Path, int, int]:
    """Ten rows; the third opens a quote that only a quote in the seventh closes.

    Returns the file and the physical lines the swallowing row starts and ends on.
    """
    rows = [f"review number {k} is fine,{'pos' if k % 2 else 'neg'}" for k in range(10)]
    rows[2] = '"Great film, really,pos'
    rows[6] = 'She said "wow" and left,neg'
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path, 1 + 2 + 1, 1 + 6 + 1  # the header is line 1


def csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """What the csv module makes of the file: each row with the line it starts on."""
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        rows, start = [], 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    return rows


def test_a_runaway_quote_is_refused_with_its_lines(tmp_path):
    path, first, last = runaway_quote_file(tmp_path / "runaway.csv")
    message = refusal(read_table, path, "csv", COLUMNS)
    assert message.startswith(f"{path}:{first}: row runs over lines {first}-{last} ")
    assert "expected one row per line" in message
    assert "received 1 such row in the file" in message
    assert f"check the quoting on line {first}" in message and "--set multiline=true" in message
    assert refusal(load, path) == message


def test_a_runaway_quote_is_kept_as_csv_reads_it_with_multiline(tmp_path):
    path, first, last = runaway_quote_file(tmp_path / "runaway.csv")
    expected = csv_rows(path)[1:]
    assert len(expected) == 10 - (last - first)  # the csv module swallows the lines
    table = read_table(path, "csv", COLUMNS, multiline=True)
    assert len(table) == len(expected)
    assert table.lines.tolist() == [start for start, _ in expected]
    assert first in table.lines.tolist() and last not in table.lines.tolist()
    assert table.columns["text"].tolist() == [row[0] for _, row in expected]


LEGIT = ('text,label\n"First line\nsecond line",pos\nplain text,neg\n'
         '"Windows break\r\nhere, and ""quoted"" words",pos\nanother plain one,neg\n')


def test_line_breaks_inside_quotes_need_multiline(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_bytes(LEGIT.encode("utf-8"))
    message = refusal(load, path)
    assert message.startswith(f"{path}:2: row runs over lines 2-3 ")
    assert "received 2 such rows in the file, this is the first" in message
    data = load(path, multiline=True)
    assert data.texts.tolist() == ["First line\nsecond line", "plain text",
                                   'Windows break\r\nhere, and "quoted" words',
                                   "another plain one"]
    assert data.where.tolist() == [f"{path}:{line}" for line in (2, 4, 5, 7)]


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize(
    "content, line, received",
    [
        ('text,label\ngood,pos\n"open to the end,neg\nmore,pos\nlast,neg\n', 3,
         "a row running from line 3 to the end of the file (line 5)"),
        ('text,label\ngood,pos\nbad,"neg\n', 3, "a quote opened on line 3, the last line"),
        ('text,label\ngood,pos\n"bad,neg', 3, "a quote opened on line 3, the last line"),
    ],
)
def test_a_quote_open_at_the_end_of_the_file_is_refused(tmp_path, content, line, received,
                                                          multiline):
    path = tmp_path / "open.csv"
    path.write_text(content, encoding="utf-8")
    message = refusal(read_delimited, path, "csv", COLUMNS, multiline=multiline)
    assert message.startswith(f"{path}:{line}: quoted text is never closed; expected a "
                              f"closing double quote; received {received}; ")
    assert f"check the quoting on line {line}" in message


def test_an_earlier_runaway_row_is_reported_before_a_quote_open_at_the_end(tmp_path):
    path, first, last = runaway_quote_file(tmp_path / "both.csv")
    with open(path, "a", encoding="utf-8") as stream:
        stream.write('"never closed,pos\n')
    message = refusal(read_table, path, "csv", COLUMNS)
    assert message.startswith(f"{path}:{first}: row runs over lines {first}-{last} ")
    assert "received 2 such rows" in message


def test_tsv_is_still_read_without_quotes(tmp_path):
    path = tmp_path / "quotes.tsv"
    path.write_text('text\tlabel\n"opens\tpos\nplain\tneg\nends"\tpos\n', encoding="utf-8")
    table = read_table(path, "tsv", COLUMNS)
    assert table.columns["text"].tolist() == ['"opens', "plain", 'ends"']
    assert table.lines.tolist() == [2, 3, 4]


def test_the_console_script_refuses_a_runaway_quote_in_one_line(tmp_path):
    path, first, last = runaway_quote_file(tmp_path / "runaway.csv")
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "rnn_templates.cli", "sentiment", "train", "--data", str(path),
         "--run-dir", "run", "--set", "epochs=1"],
        cwd=work, capture_output=True, text=True, env=dict(os.environ, CI="1"), timeout=300)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(f"rnnt sentiment: error: {path}:{first}: row runs over lines "
                               f"{first}-{last} ")
    assert "--set multiline=true" in lines[0]
    assert list(work.iterdir()) == []  # refused before any run directory exists


def test_a_row_with_more_fields_than_the_header_is_refused_not_shifted(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\ngreat film,pos\nokay film, really okay,neu\n")
    with pytest.raises(UserInputError) as caught:
        read_delimited(path, "csv", {"text": "text_column", "label": "label_column"})
    assert str(caught.value) == (
        f"{path}:3: row has too many fields; expected 2 fields like the header; received 3 "
        "field(s); check the commas and quoting: a text holding a comma must be in double "
        "quotes")
    skipped: list = []
    table = read_delimited(path, "csv", {"text": "text_column", "label": "label_column"},
                           skipped=skipped)
    assert table.columns["text"].tolist() == ["great film"]
    assert skipped == [(3, "3 field(s), 2 expected")]
    # Without a header, every row has the first row's fields.
    loose = tmp_path / "uci.tsv"
    loose.write_text("great film\tpos\nawful\tfilm, truly\tneg\n")
    with pytest.raises(UserInputError, match=r"uci.tsv:2: row has too many fields; expected 2 "
                       r"fields like the first row"):
        read_delimited(loose, "tsv", {"0": "text_column", "-1": "label_column"}, header=False)


def test_trailing_separators_and_left_off_empty_cells_are_read(tmp_path):
    columns = {"text": "text_column", "label": "label_column"}
    for name, content in [("trailing_rows.csv", "text,label\ngreat,pos\nbad,neg,\n"),
                          ("trailing_header.csv", "text,label,\ngreat,pos,\nbad,neg,\n"),
                          ("ragged.csv", "text,label,note\ngreat,pos,seen twice\nbad,neg\n")]:
        path = tmp_path / name
        path.write_text(content)
        table = read_delimited(path, "csv", columns)
        assert table.columns["label"].tolist() == ["pos", "neg"], name


# --- files without a header, and separators ---------------------------------------


HEADERLESS = {"0": "text_column", "-1": "label_column"}


def test_a_headerless_row_of_another_width_is_refused_wherever_it_is(tmp_path):
    rows = [f"review number {i} was fine\t{i % 2}" for i in range(8)]
    lost_tab = tmp_path / "lost_tab.tsv"  # a line that lost its tab never gives a label
    lost_tab.write_text("\n".join(rows[:5] + ["The food arrived hot."] + rows[5:]) + "\n")
    assert refusal(read_delimited, lost_tab, "tsv", HEADERLESS, header=False) == (
        f"{lost_tab}:6: row has too few fields; expected 2 fields like most rows (8 of 9); "
        "received 1 field(s); check the tabs: a text may not hold a tab")
    csv_rows = [f"review {i},{i % 2}" for i in range(8)]
    for line in (1, 5):  # an unquoted comma: the first row no more sets the width than another
        path = tmp_path / f"comma_{line}.csv"
        path.write_text("\n".join(csv_rows[:line - 1] + ["I liked it, a lot,1"]
                                  + csv_rows[line - 1:]) + "\n")
        message = refusal(read_delimited, path, "csv", HEADERLESS, header=False)
        assert message.startswith(f"{path}:{line}: row has too many fields; expected 2 fields "
                                  "like most rows (8 of 9); received 3 field(s); ")
    trailing = tmp_path / "trailing.tsv"  # a trailing tab still leaves the label last
    trailing.write_text("great\tpos\nawful\tneg\t\nfine\tpos\n")
    table = read_delimited(trailing, "tsv", HEADERLESS, header=False)
    assert table.columns["-1"].tolist() == ["pos", "neg", "pos"]


def test_a_headerless_file_of_single_fields_is_refused(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("great;pos\nawful;neg\n")
    message = refusal(read_delimited, path, "csv", HEADERLESS, header=False)
    assert message.startswith(f"{path}: rows have a single field: no comma between the text "
                              "and the label; ")
    assert "received 2 of 2 rows with one field" in message and "comma separators" in message
    narrow = tmp_path / "narrow.tsv"
    narrow.write_text("great\tpos\nawful\tneg\n")
    assert refusal(read_delimited, narrow, "tsv", {"0": "text_column", "2": "label_column"},
                   header=False).endswith("received 2 fields in most rows; check --set "
                                          "label_column=<position>")


def test_a_quoted_line_break_in_a_tsv_is_named_as_the_cause(tmp_path):
    path = tmp_path / "pandas.tsv"
    with open(path, "w", newline="", encoding="utf-8") as stream:  # as df.to_csv(sep="\t")
        writer = csv.writer(stream, delimiter="\t")
        writer.writerows([["text", "label"], ["fine", "pos"], ["Line one\nline two", "neg"],
                          ["good", "pos"]])
    for multiline in (False, True):  # TSV never reads quotes: the message says so
        assert refusal(read_delimited, path, "tsv", COLUMNS, multiline=multiline) == (
            f"{path}:3: a quoted text seems to hold a line break (a quote opened on line 3 "
            "closes on line 4); expected one row per line (TSV is read without quote "
            "processing, --set multiline=true included); save the file as CSV (pandas: "
            'df.to_csv("reviews.csv")) and read it with --set multiline=true, or remove the '
            "line breaks from the texts")
    saved = tmp_path / "pandas.csv"  # the advice works
    with open(saved, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([["text", "label"], ["fine", "pos"],
                                      ["Line one\nline two", "neg"], ["good", "pos"]])
    assert read_delimited(saved, "csv", COLUMNS, multiline=True).columns["text"].tolist() == [
        "fine", "Line one\nline two", "good"]
    # A row that only lost its tab keeps the usual message.
    plain = tmp_path / "plain.tsv"
    plain.write_text('text\tlabel\nfine\tpos\n"quoted" but no tab\ngood\tpos\n')
    assert "row has too few fields" in refusal(read_delimited, plain, "tsv", COLUMNS)


@pytest.mark.parametrize("name, content, what, fix", [
    ("semi.csv", "text;label\ngreat;pos\n", "the columns are separated by semicolons, not "
     "commas", "save it with comma separators, or as tab-separated text (.tsv)"),
    ("tabs.csv", "text\tlabel\ngreat\tpos\n", "the columns are separated by tabs, not commas",
     "read it with --set format=tsv"),
    ("commas.tsv", "text,label\ngreat,pos\n", "the columns are separated by commas, not tabs",
     "read it with --set format=csv"),
])
def test_a_header_with_another_separator_names_it(tmp_path, name, content, what, fix):
    path = tmp_path / name
    path.write_text(content)
    message = refusal(read_delimited, path, name.rsplit(".")[-1], COLUMNS)
    assert message.startswith(f"{path}:1: {what}; ") and message.endswith(fix)
