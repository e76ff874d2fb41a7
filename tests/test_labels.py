"""Class labels as users write them: kept as written, missing markers refused, rare and
absent classes noted."""

import numpy as np
import pytest

from rnn_templates.data.labels import check_classes, label_from, note_missing_classes
from rnn_templates.errors import UserInputError


def test_labels_are_kept_as_written_but_whole_decimals_are_integers():
    assert [label_from(v, "f.tsv:2") for v in ("+1", "-1", "01", "02", " pos ", "4.0", 4.0,
                                               3, True)] == \
        ["+1", "-1", "01", "02", "pos", "4", "4", "3", "1"]
    with pytest.raises(UserInputError, match="label is not a class.*received '3.5'"):
        label_from("3.5", "f.tsv:2")


@pytest.mark.parametrize("marker", ["NA", "N/A", "#N/A", "<NA>", "nan", "NaN", "null", "NULL"])
def test_missing_value_markers_are_missing_labels_not_classes(marker):
    with pytest.raises(UserInputError) as error:
        label_from(marker, "f.csv:7 column 'label'")
    assert str(error.value) == (
        f"f.csv:7 column 'label': missing label; expected a class name or an integer; "
        f"received {marker!r}; fill in or drop the row (a value that marks a missing label "
        "is not a class)")
    assert label_from("none", "f.csv:8") == "none"  # a class in many label sets


def test_a_class_of_a_few_rows_is_noted(capsys):
    labels = np.array(["positive"] * 150 + ["negative"] * 149 + ["postive"])
    check_classes(labels, "typo.tsv", max_classes=20)
    assert capsys.readouterr().err == (
        "typo.tsv: note: class 'postive' (1 row) of 3 classes and 300 rows: a typo, or a "
        "header read as data? Each is a class of its own; fix or drop those rows if not\n")
    check_classes(np.array(["a"] * 50 + ["b"] * 6), "ok.tsv", max_classes=20)
    assert capsys.readouterr().err == ""


def test_a_class_absent_from_a_split_is_noted(capsys):
    note_missing_classes({"validation": np.array([1, 1, 1]), "test": np.array([0, 1]),
                          "empty": np.array([], int)}, ["negative", "positive"], "imb.tsv")
    assert capsys.readouterr().err == (
        "imb.tsv: note: no example of class 'negative' in the validation split (3 examples): "
        "its scores say nothing about it; add examples, or raise --set validation_fraction\n")


def test_too_few_to_split_names_only_the_fractions_that_would_help():
    from rnn_templates.data.splits import random_split

    with pytest.raises(UserInputError) as caught:  # validation keeps one whatever its fraction
        random_split(1, {"test": 0.0, "validation": 0.1}, seed=0, source="one.tsv", unit="pairs")
    assert str(caught.value) == ("one.tsv: too few pairs to split; expected at least 2: 1 for "
                                 "training, 1 for validation; received 1 pair; add pairs")
    with pytest.raises(UserInputError) as caught:
        random_split(4, {"test": 0.4, "validation": 0.4}, seed=0, source="f", unit="pieces")
    assert str(caught.value).endswith("received 4 pieces; add pieces, or lower --set "
                                      "test_fraction and --set validation_fraction")


def test_one_class_and_class_caps_count_in_the_singular():
    with pytest.raises(UserInputError, match="received 1 row all labelled 'pos'"):
        check_classes(np.array(["pos"], object), "one.csv", 50)
    labels = np.array(["a", "b", "c"] * 4, object)
    with pytest.raises(UserInputError, match=r"expected at most 2 classes \(--set max_classes"):
        check_classes(labels, "three.csv", 2)
