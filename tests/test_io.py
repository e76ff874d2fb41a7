"""The one atomic writer: temporary name beside the target, normal permissions, no leftovers."""

import json
import os
import stat

import pytest

from rnn_templates import io
from rnn_templates.errors import UserInputError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_files_are_written_whole_with_normal_permissions(tmp_path):
    target = io.write_json(tmp_path / "metrics.json", {"b": 2, "a": [1, 2]})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "b": 2}
    assert target.read_text(encoding="utf-8").startswith('{\n  "a"')
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    io.write_yaml(tmp_path / "config.yaml", {"units": 8})
    io.write_table(tmp_path / "t.tsv", ["text", "label"], [["a b", "pos"]])
    assert (tmp_path / "t.tsv").read_text(encoding="utf-8") == "text\tlabel\na b\tpos\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "metrics.json", "t.tsv"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = io.write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), io.atomic_path(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_folders_replace_only_what_this_project_wrote(tmp_path):
    export = tmp_path / "export"
    with io.atomic_path(export, directory=True) as temporary:
        (temporary / "model.pb").write_text("v1", encoding="utf-8")
    assert stat.S_IMODE(export.stat().st_mode) == 0o777 & ~_umask()
    with io.atomic_path(export, directory=True) as temporary:
        (temporary / "model.pb").write_text("v2", encoding="utf-8")
    assert (export / "model.pb").read_text(encoding="utf-8") == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, io.atomic_path(mine, directory=True):
        pass
    assert str(caught.value) == (
        f"{mine}: destination folder holds files this tool did not write; nothing was replaced; "
        "expected a new or empty folder, or one written by rnnt; received 1 entries such as "
        "['thesis.tex']; choose another --output")
    assert (mine / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "mine"]

    a_file = tmp_path / "notes.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(UserInputError, match="destination is a file, not a folder"):
        io.check_replaceable(a_file)


def test_a_finished_folder_is_not_replaced_over_files_added_to_it(tmp_path):
    run = tmp_path / "run"
    with io.atomic_path(run, directory=True) as temporary:
        (temporary / "model.keras").write_text("v1", encoding="utf-8")
    io.write_text(run / "evaluation-test.json", "{}")  # what a later command adds: listed
    with io.atomic_path(run, directory=True) as temporary:
        (temporary / "model.keras").write_text("v2", encoding="utf-8")
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, io.atomic_path(run, directory=True):
        pass
    assert str(caught.value) == (
        f"{run}: destination folder holds files added after rnnt wrote it; nothing was "
        "replaced; expected only what rnnt wrote there; received 1 added entries such as "
        "['notes.txt']; move them out first, or choose another --output")
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (run / "model.keras").read_text(encoding="utf-8") == "v2"


def test_a_folder_or_a_file_in_the_way_of_an_output_is_one_line(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(UserInputError) as caught:
        io.write_text(folder, "x")
    assert str(caught.value) == (f"{folder}: the output path is a folder; expected a file "
                                 "name; give a file path, not a folder")
    a_file = tmp_path / "data.csv"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(UserInputError) as caught:
        io.write_text(a_file / "run" / "metrics.json", "{}")
    assert str(caught.value) == (
        f"{a_file}: a file stands where a folder is needed; expected a folder for "
        f"{a_file / 'run'}; choose another --output, or move that file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "out"]
