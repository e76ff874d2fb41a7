"""The one atomic writer: temporary name beside the target, normal permissions, no leftovers."""

import errno
import json
import os
import shutil
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
        "expected a new or empty folder, or one written by rnnt; received 1 entry such as "
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
        "replaced; expected only what rnnt wrote there; received 1 added entry such as "
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


def _sealed_run(folder):
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "events.out").write_text("e")
    (folder / "model.keras").write_text("m")
    io.seal(folder, "run")
    return folder


def test_files_added_inside_a_finished_folder_at_any_depth_block_its_replacement(tmp_path):
    run = _sealed_run(tmp_path / "run")
    io.check_replaceable(run)  # as written: replaceable
    (run / "logs" / "MY_NOTES.txt").write_text("mine")
    with pytest.raises(UserInputError, match=r"logs/MY_NOTES.txt"):
        io.check_replaceable(run, option="--run-dir")
    # An output written into a folder of the user's inside a run leaves that folder the
    # user's: it is not listed as the project's, so it still blocks the replacement.
    (run / "logs" / "MY_NOTES.txt").unlink()
    (run / "my_analysis").mkdir()
    (run / "my_analysis" / "thesis.tex").write_text("mine")
    io.write_text(run / "my_analysis" / "preds.csv", "p\n")
    io.write_text(run / "report.md", "r\n")  # the project's own report is listed
    with pytest.raises(UserInputError, match=r"my_analysis") as refused:
        io.check_replaceable(run)
    assert "report.md" not in str(refused.value) and "preds.csv" not in str(refused.value)
    # A folder the project makes for its output inside a run is the project's.
    shutil.rmtree(run / "my_analysis")
    io.write_text(run / "generated" / "deeper" / "piece-001.mid", "m")
    io.check_replaceable(run)


def test_a_folder_of_another_kind_is_never_replaced(tmp_path):
    run = _sealed_run(tmp_path / "run")
    with pytest.raises(UserInputError, match="is a training run, not an exported model"):
        io.check_replaceable(run, option="--output", kind="export")
    # Markers of earlier versions (top-level names, no header) are told apart too.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "model.keras").write_text("m")
    (legacy / io.MARKER).write_text("model.keras\n")
    with pytest.raises(UserInputError, match="is a training run"):
        io.check_replaceable(legacy, kind="export")
    building = tmp_path / "run.partial"
    building.mkdir()
    io.mark_building(building)
    with pytest.raises(UserInputError, match="is an unfinished training run"):
        io.check_replaceable(building, kind="export")
    io.check_replaceable(run, kind="run")


def test_a_temporary_left_by_a_killed_writer_neither_blocks_nor_stays(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_text("m")
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    leftover = run / f".saved_model.{dead}.0123abcd.tmp"
    leftover.mkdir()
    (leftover / "saved_model.pb").write_text("half")
    io.seal(run, "run")
    assert not leftover.exists()
    assert ".saved_model" not in (run / io.MARKER).read_text()
    leftover.mkdir()  # killed again, after the seal
    io.check_replaceable(run)
    # A live writer's temporary is never taken for a leftover.
    assert not io.stale_temporary(run / f".saved_model.{os.getpid()}.0123abcd.tmp")


def test_a_new_write_removes_what_killed_writers_of_the_same_path_left_beside_it(tmp_path):
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    left = [tmp_path / f".export.{dead}.0123abcd.tmp",
            tmp_path / f".report.md.{dead}.0a1b2c3d.tmp.md"]
    kept = [tmp_path / f".export.{os.getpid()}.0123abcd.tmp",  # a live writer's
            tmp_path / f".export-2.{dead}.0123abcd.tmp",  # another path's
            tmp_path / ".export.notes"]  # the user's
    for path in [*left, *kept]:
        path.mkdir()
    with io.atomic_path(tmp_path / "export", directory=True) as temporary:
        (temporary / "saved_model.pb").write_text("complete")
    io.write_text(tmp_path / "report.md", "# report\n")
    assert not any(path.exists() for path in left)
    assert all(path.is_dir() for path in kept)


def test_a_path_without_a_name_of_its_own_is_one_line(tmp_path, monkeypatch):
    from rnn_templates.runs import run_directory

    (tmp_path / "mine.txt").write_text("user's")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserInputError, match="nothing was replaced|already exists"):
        with run_directory(".", overwrite=True):
            pass
    assert (tmp_path / "mine.txt").read_text() == "user's"


def test_numbered_files_never_take_a_name_already_there(tmp_path):
    (tmp_path / "piece-002.mid").write_bytes(b"another process's")
    name = lambda n: tmp_path / f"piece-{n:03d}.mid"  # noqa: E731
    assert io.write_numbered(name, 1, b"a") == (1, name(1))
    assert io.write_numbered(name, 1, b"b") == (3, name(3))  # 1 and 2 taken meanwhile
    assert name(2).read_bytes() == b"another process's" and name(3).read_bytes() == b"b"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "piece-001.mid", "piece-002.mid", "piece-003.mid"]
    assert stat.S_IMODE(name(3).stat().st_mode) == 0o666 & ~_umask()


def test_numbered_files_on_a_file_system_without_hard_links(tmp_path, monkeypatch):
    def no_links(source, target):
        raise PermissionError(errno.EPERM, "Operation not permitted")  # FAT and exFAT answer so

    monkeypatch.setattr(io.os, "link", no_links)
    (tmp_path / "piece-001.mid").write_bytes(b"another process's")
    name = lambda n: tmp_path / f"piece-{n:03d}.mid"  # noqa: E731
    assert io.write_numbered(name, 1, b"a") == (2, name(2))
    assert name(1).read_bytes() == b"another process's" and name(2).read_bytes() == b"a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["piece-001.mid", "piece-002.mid"]
    assert stat.S_IMODE(name(2).stat().st_mode) == 0o666 & ~_umask()


def test_numbered_files_report_other_link_errors(tmp_path, monkeypatch):
    def full(source, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "link", full)
    with pytest.raises(OSError, match="No space"):
        io.write_numbered(lambda n: tmp_path / f"piece-{n:03d}.mid", 1, b"a")
    assert list(tmp_path.iterdir()) == []


def test_replacing_a_linked_folder_removes_the_link_not_what_it_points_to(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "a.txt").write_text("a")
    io.seal(old)
    link = tmp_path / "link"
    link.symlink_to(old)
    new = tmp_path / ".new"
    new.mkdir()
    io.replace_directory(new, link)
    assert link.is_dir() and not link.is_symlink()
    assert (old / "a.txt").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "old"]


def test_json_reports_write_scores_that_are_not_numbers_as_null(tmp_path):
    path = io.write_json(tmp_path / "metrics.json", {
        "test": {"roc_auc": float("nan"), "accuracy": 1.0, "per_step": [0.5, float("inf")]},
        "rows": (1, -float("inf"))})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"test": {"roc_auc": None, "accuracy": 1.0,
                                         "per_step": [0.5, None]}, "rows": [1, None]}
