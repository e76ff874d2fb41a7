"""load_config (defaults < YAML < --set), its messages, and UserInputError's format."""

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from rnn_templates.config import describe_config, load_config, parse_overrides, write_yaml_atomic
from rnn_templates.errors import UserInputError


@dataclasses.dataclass
class Demo:
    units: int = 64
    learning_rate: float = 0.001
    cell: str = "lstm"
    bidirectional: bool = False
    sizes: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    note: str | None = None
    limit: typing.Optional[int] = None  # noqa: UP045 (the typing spelling must work too)

    def __post_init__(self):
        if self.units > 1000:
            raise ValueError(f"`units` must be at most 1000; received {self.units}")


VALID_KEYS = "bidirectional, cell, learning_rate, limit, note, sizes, units"


def _yaml(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults():
    assert load_config(Demo) == Demo()
    assert load_config(Demo, None, []) == Demo()
    assert load_config(Demo, overrides={}) == Demo()


def test_yaml_file_sets_only_what_it_names(tmp_path):
    path = _yaml(tmp_path, "units: 128\ncell: gru\nsizes: [3, 4]\n")
    config = load_config(Demo, path)
    assert config == Demo(units=128, cell="gru", sizes=[3, 4])
    assert load_config(Demo, str(path)) == config  # str paths work too
    assert load_config(Demo, _yaml(tmp_path, "", "empty.yaml")) == Demo()


def test_overrides_beat_the_yaml_file_and_the_last_one_wins(tmp_path):
    path = _yaml(tmp_path, "units: 128\ncell: gru\n")
    config = load_config(Demo, path, ["units=256", "bidirectional=true", "units=512"])
    assert config.units == 512
    assert config.cell == "gru"
    assert config.bidirectional is True
    assert load_config(Demo, path, {"cell": "simple"}).cell == "simple"
    assert load_config(Demo, overrides=["note=null", "limit=5"]) == Demo(limit=5)
    assert load_config(Demo, overrides=["sizes=[5, 6, 7]"]).sizes == [5, 6, 7]


def test_one_name_is_a_list_of_one():
    @dataclasses.dataclass
    class Columns:
        targets: list = dataclasses.field(default_factory=list)
        names: list[str] = dataclasses.field(default_factory=list)

    config = load_config(Columns, overrides=["targets=T (degC)", "names=[a, b]"])
    assert config.targets == ["T (degC)"] and config.names == ["a", "b"]
    assert load_config(Columns, overrides=["names=OT"]).names == ["OT"]


def test_type_coercion():
    config = load_config(Demo, overrides=["learning_rate=1"])
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)
    assert load_config(Demo, overrides=["note=123"]).note == "123"  # numbers pass as text
    # PyYAML reads 1e-3 (an exponent without a dot) as text; floats accept it anyway.
    assert load_config(Demo, overrides=["learning_rate=3e-4"]).learning_rate == 3e-4
    assert load_config(Demo, overrides={"learning_rate": "1E2"}).learning_rate == 100.0


WRONG_TYPES = [
    (["units=abc"], "--set: wrong type for config key 'units'; expected int; received 'abc' "
                    "(str); set it like --set units=<int>"),
    (["units=2.5"], "--set: wrong type for config key 'units'; expected int; received 2.5 "
                    "(float); set it like --set units=<int>"),
    (["units=true"], "--set: wrong type for config key 'units'; expected int; received True "
                     "(bool); set it like --set units=<int>"),
    (["learning_rate=fast"], "--set: wrong type for config key 'learning_rate'; expected float; "
                             "received 'fast' (str); set it like --set learning_rate=<float>"),
    (["bidirectional=1"], "--set: wrong type for config key 'bidirectional'; expected bool; "
                          "received 1 (int); set it like --set bidirectional=<bool>"),
    (["sizes=3"], "--set: wrong type for config key 'sizes'; expected list; received 3 "
                  "(int); set it like --set 'sizes=[a, b]'"),
    (["sizes=abc"], "--set: wrong type for config key 'sizes'; expected list; received 'abc' "
                    "(str); set it like --set 'sizes=[a, b]'"),
    (["cell=null"], "--set: wrong type for config key 'cell'; expected str; received None "
                    "(NoneType); set it like --set cell=<str>"),
    (["limit=x"], "--set: wrong type for config key 'limit'; expected int or NoneType; "
                  "received 'x' (str); set it like --set limit=<int or NoneType>"),
]


def test_wrong_types_are_refused_with_the_expected_type():
    for overrides, message in WRONG_TYPES:
        with pytest.raises(UserInputError) as caught:
            load_config(Demo, overrides=overrides)
        assert str(caught.value) == message


def test_wrong_type_in_the_yaml_file_names_the_file(tmp_path):
    path = _yaml(tmp_path, "units: many\n")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, path)
    assert str(caught.value) == (
        f"{path}:1: wrong type for config key 'units'; expected int; received 'many' (str); "
        "set it like --set units=<int>"
    )


def test_unknown_key_lists_the_valid_keys(tmp_path):
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, overrides=["unit=3"])
    assert str(caught.value) == (
        f"--set: unknown config key 'unit'; expected one of {VALID_KEYS}; received 'unit'; "
        "did you mean 'units'? `--help-config` lists each key"
    )
    path = _yaml(tmp_path, "units: 3\nlayers: 2\n")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, path)
    assert str(caught.value).startswith(f"{path}:2: unknown config key 'layers'; expected one of ")
    assert str(caught.value).endswith("received 'layers'; check the spelling; `--help-config` "
                                      "lists each key")


def test_malformed_overrides():
    for pair in ("units", "=5", " =5"):
        with pytest.raises(UserInputError) as caught:
            load_config(Demo, overrides=[pair])
        assert str(caught.value) == (
            f"--set: malformed override; expected key=value; received {pair!r}; "
            "write it as --set units=128"
        )


def test_parse_overrides():
    assert parse_overrides([]) == {}
    assert parse_overrides(["a=1", " b =0.5", "c=true", "d=null", "e=[1, 2]", "f=", "g=x=y"]) == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": [1, 2], "f": "", "g": "x=y"
    }
    # Text that is not valid YAML stays text.
    assert parse_overrides(["h=[1, 2", "i=a: b: c"]) == {"h": "[1, 2", "i": "a: b: c"}


def test_missing_invalid_and_non_mapping_yaml(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, missing)
    assert str(caught.value) == (
        f"{missing}: config file not found; check the path given to --config"
    )

    with pytest.raises(UserInputError) as caught:
        load_config(Demo, tmp_path)  # a directory is not a file
    assert str(caught.value) == (
        f"{tmp_path}: config file not found; check the path given to --config"
    )

    invalid = _yaml(tmp_path, "units: [1, 2\ncell: gru\n", "invalid.yaml")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, invalid)
    message = str(caught.value)
    mark = _yaml_error(invalid).problem_mark
    assert message.startswith(f"{invalid}:{mark.line + 1}:{mark.column + 1}: config file is "
                              "not valid YAML; received ")
    assert message.endswith("; write one key: value per line, indented with spaces (no tabs)")
    assert "\n" not in message
    assert caught.value.received == _yaml_error(invalid).problem

    for text, kind in (("- 1\n- 2\n", "list"), ("just text\n", "str"), ("3\n", "int")):
        path = _yaml(tmp_path, text, f"{kind}.yaml")
        with pytest.raises(UserInputError) as caught:
            load_config(Demo, path)
        assert str(caught.value) == (
            f"{path}: config file must hold a mapping of keys to values; received {kind}"
        )

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00units")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, binary)
    assert str(caught.value) == (f"{binary}:1:1: config file is not valid UTF-8; received byte "
                                 "0xff; save the file as UTF-8")


def _yaml_error(path: Path) -> yaml.YAMLError:
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        return error
    raise AssertionError("expected invalid YAML")


def test_the_config_class_own_checks_become_user_input_errors():
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, overrides=["units=2000"])
    assert str(caught.value) == (
        "--set units: `units` must be at most 1000; received 2000; set it like --set units=64; "
        "`--help-config` lists each key's allowed values")


def test_describe_config_lists_every_key_with_type_and_default():
    lines = describe_config(Demo).splitlines()
    assert [line.split()[0] for line in lines] == [f.name for f in dataclasses.fields(Demo)]
    assert lines[0].split() == ["units", "int", "default:", "64"]
    assert lines[4].split() == ["sizes", "list", "default:", "[1,", "2]"]


def test_write_yaml_atomic_round_trips_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "resolved.yaml"
    target.write_text("old: true\n", encoding="utf-8")
    data = dataclasses.asdict(Demo(units=7))
    write_yaml_atomic(data, target)
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == data
    assert load_config(Demo, target) == Demo(units=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resolved.yaml"]


# --- UserInputError ---------------------------------------------------------


def test_user_input_error_joins_its_parts_in_order():
    error = UserInputError(
        "column 'label' not found",
        where="reviews.csv:12",
        expected="a label column",
        received="text, stars",
        fix="pass --set label_column=stars",
    )
    assert str(error) == (
        "reviews.csv:12: column 'label' not found; expected a label column; "
        "received text, stars; pass --set label_column=stars"
    )
    assert isinstance(error, ValueError)
    assert (error.what, error.where, error.expected, error.received, error.fix) == (
        "column 'label' not found", "reviews.csv:12", "a label column", "text, stars",
        "pass --set label_column=stars",
    )


def test_user_input_error_leaves_out_missing_parts():
    assert str(UserInputError("bad")) == "bad"
    assert str(UserInputError("bad", where="x.yaml")) == "x.yaml: bad"
    assert str(UserInputError("bad", received="")) == "bad; received "
    assert str(UserInputError("bad", fix="do this")) == "bad; do this"
    assert str(UserInputError("bad", expected="a", fix="b")) == "bad; expected a; b"


def test_user_input_error_is_always_one_line():
    error = UserInputError("bad\nvalue", where="f.csv", received="line one\nline two\r\n")
    message = str(error)
    assert len(message.splitlines()) == 1
    assert message == "f.csv: bad\\nvalue; received line one\\nline two\\r\\n"
    assert error.received == "line one\nline two\r\n"  # the attribute keeps the raw value


# --- knobs and the shared option mixins ------------------------------------------------


def test_shared_knobs_are_checked_once_with_their_names():
    from rnn_templates.config import RecurrentOptions, TrainingOptions, TuningOptions

    @dataclasses.dataclass
    class App(TuningOptions, TrainingOptions, RecurrentOptions):
        TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = ("val_loss", "val_mae")

    help_config = "`--help-config` lists each key's allowed values"
    for overrides, message in [
        (["units=0"], "--set units: `units` must be a positive integer; received 0; "
                      "set it like --set units=64"),
        (["dropout=1.5"], "--set dropout: `dropout` must be in [0, 1); received 1.5; "
                          "set it like --set dropout=0.2"),
        (["learning_rate=0"], "--set learning_rate: `learning_rate` must be in (0, 1]; "
                              "received 0.0; set it like --set learning_rate=0.001"),
        (["clipnorm=-1"], "--set clipnorm: `clipnorm` must be in [0, inf); received -1.0; "
                          "set it like --set clipnorm=1.0"),
        (["cell=rnn"], "--set cell: `cell` must be one of 'simple', 'lstm', 'gru'; received "
                       "'rnn'; set it like --set cell=lstm"),
        (["tuner=evolution"], "--set tuner: `tuner` must be one of 'random', 'hyperband', "
                              "'bayesian', 'grid'; received 'evolution'; set it like "
                              "--set tuner=random"),
        (["tuning_objective=foo"], "--set tuning_objective: `tuning_objective` must be one of "
                                   "'val_loss', 'val_mae', optionally followed by :min or "
                                   ":max; received 'foo'; set it like "
                                   "--set tuning_objective=val_loss"),
        (["tuning_objective=val_mae:up"], "--set tuning_objective: `tuning_objective` must be "
                                          "one of 'val_loss', 'val_mae', optionally followed "
                                          "by :min or :max; received 'val_mae:up'; set it like "
                                          "--set tuning_objective=val_loss"),
        (["learning_rate=.nan"], "--set learning_rate: `learning_rate` must be in (0, 1]; "
                                 "received nan; set it like --set learning_rate=0.001"),
    ]:
        with pytest.raises(UserInputError) as caught:
            load_config(App, overrides=overrides)
        assert str(caught.value) == f"{message}; {help_config}"
    assert load_config(App, overrides=["units=8", "tuning_objective=val_mae"]).units == 8
    config = load_config(App, overrides=["tuning_objective=val_mae:min", "tuner=grid"])
    assert (config.tuner, config.tuning_objective) == ("grid", "val_mae:min")


def test_sentiment_refuses_values_that_would_reach_keras():
    from apps.sentiment.config import SentimentConfig

    with pytest.raises(UserInputError, match=r"`head_dropout` must be in \[0, 1\); received 2.0"):
        load_config(SentimentConfig, overrides=["head_dropout=2.0"])
    with pytest.raises(UserInputError, match="`tuning_objective` must be one of 'val_accuracy'"):
        load_config(SentimentConfig, overrides=["tuning_objective=foo"])


def test_a_new_default_keeps_the_knob_help_and_check():
    from rnn_templates.config import RecurrentOptions, new_default

    @dataclasses.dataclass
    class Wide(RecurrentOptions):
        units: int = new_default(RecurrentOptions, "units", 256)

    assert Wide().units == 256
    assert "units per recurrent layer" in describe_config(Wide)
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        Wide(units=0)


def test_a_date_for_a_text_key_is_kept_as_its_iso_text(tmp_path):
    # YAML reads 2020-09-01 as a date; a str key (a split timestamp) takes its ISO text.
    config = load_config(Demo, overrides=["cell=2020-09-01", "note=2020-09-01 12:30:00"])
    assert config.cell == "2020-09-01" and config.note == "2020-09-01 12:30:00"
    path = _yaml(tmp_path, "cell: 2021-03-04\n")
    assert load_config(Demo, path).cell == "2021-03-04"
    # Only text keys: a date is still the wrong type for a number.
    with pytest.raises(UserInputError, match=r"wrong type for config key 'units'; expected int; "
                                             r"received datetime.date\(2020, 9, 1\)"):
        load_config(Demo, overrides=["units=2020-09-01"])


def test_forecasting_split_timestamps_are_accepted_from_set():
    from apps.forecasting.config import ForecastingConfig

    config = load_config(ForecastingConfig, overrides=["test_start=2020-09-01",
                                                       "validation_start=2020-07-01"])
    assert (config.validation_start, config.test_start) == ("2020-07-01", "2020-09-01")


@pytest.mark.parametrize("app_name", ["translation", "sentiment"])
def test_split_seed_keeps_the_split_of_that_seed_whatever_the_seed(app_name):
    import importlib

    module = importlib.import_module(f"apps.{app_name}.app")
    app = {"translation": "TranslationApp", "sentiment": "SentimentApp"}[app_name]
    app = getattr(module, app)()
    inputs = [f"sentence number {i} here" for i in range(40)]
    targets = [f"phrase {i}" for i in range(40)] if app_name == "translation" else \
        ["pos", "neg"] * 20

    def validation(**settings):
        config = app.config_class(validation_fraction=0.25, test_fraction=0.25, **settings)
        prepared = app.prepare(config, app.from_arrays(config, inputs, targets))
        return sorted(map(str, prepared.splits["validation"][0]))

    assert app.config_class(seed=7).splitting_seed == 7
    assert app.config_class(seed=7, split_seed=42).splitting_seed == 42
    assert validation(seed=1, split_seed=42) == validation(seed=42) != validation(seed=1)


# --- where a refused value came from, and how to fix it --------------------------------


def test_a_refused_value_names_the_set_key_or_the_file_line_that_gave_it(tmp_path):
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, overrides=["cell=gru", "units=2000"])
    assert caught.value.where == "--set units"
    assert caught.value.fix == ("set it like --set units=64; `--help-config` lists each key's "
                                "allowed values")
    path = _yaml(tmp_path, "cell: gru\nunits: 2000\n", "small.yaml")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, path)
    assert str(caught.value) == (
        f"{path}:2: `units` must be at most 1000; received 2000; change it in {path}, e.g. "
        "units: 64; `--help-config` lists each key's allowed values")
    # --set wins over the file, and the message follows the value that was used.
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, _yaml(tmp_path, "units: 8\n"), ["units=5000"])
    assert caught.value.where == "--set units"


def test_a_key_given_by_an_option_of_its_own_is_named_by_that_option():
    from apps.sentiment.config import SentimentConfig

    with pytest.raises(UserInputError) as caught:
        load_config(SentimentConfig, None, ['tuning_objective="val_acc"'],
                    options={"tuning_objective": "--objective"})
    assert str(caught.value).startswith("--objective: `tuning_objective` must be one of ")
    assert caught.value.fix == ("set it like --objective val_accuracy; `rnnt sentiment train "
                                "--help-config` lists each key's allowed values")


def test_checks_across_keys_name_the_keys_given_and_keep_their_own_advice(tmp_path):
    from apps.forecasting.config import ForecastingConfig

    with pytest.raises(UserInputError) as caught:
        load_config(ForecastingConfig, overrides=["lookback=100"])
    assert str(caught.value) == (
        "--set lookback: `segment_length` must divide `lookback` (100); received 13; set it "
        "like --set lookback=104; `rnnt forecasting train --help-config` lists each key's "
        "allowed values")
    path = _yaml(tmp_path, "segment_length: 7\n")
    with pytest.raises(UserInputError) as caught:
        load_config(ForecastingConfig, path, ["lookback=100"])
    assert caught.value.where == f"{path}:1, --set lookback"
    assert caught.value.fix == ("change segment_length or lookback; `rnnt forecasting train "
                                "--help-config` lists each key's allowed values")
    # A check that already says what to do gets no second fix.
    with pytest.raises(UserInputError) as caught:
        load_config(ForecastingConfig, overrides=["season=1000"])
    assert caught.value.where == "--set season" and caught.value.fix is None
    assert str(caught.value).endswith("; use season<=104 or a longer lookback")


def test_an_unknown_key_suggests_the_nearest_one_and_the_app_command():
    from apps.sentiment.config import SentimentConfig

    with pytest.raises(UserInputError) as caught:
        load_config(SentimentConfig, overrides=["unitz=3"])
    assert caught.value.fix == ("did you mean 'units'? `rnnt sentiment train --help-config` "
                                "lists each key")
    assert "\n" not in str(caught.value)
    with pytest.raises(UserInputError) as caught:
        load_config(SentimentConfig, overrides=["colour=3"], app="mine")
    assert caught.value.fix == "check the spelling; `rnnt mine train --help-config` lists each key"


def test_invalid_yaml_is_placed_at_its_line_and_column(tmp_path):
    tab = _yaml(tmp_path, "\tunits: 8\n", "tab.yaml")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, tab)
    assert str(caught.value) == (
        f"{tab}:1:1: config file is not valid YAML; received found character '\\t' that "
        "cannot start any token; write one key: value per line, indented with spaces (no tabs)")
    indented = _yaml(tmp_path, "units: 8\n  cell: gru\n", "indented.yaml")
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, indented)
    assert str(caught.value).startswith(f"{indented}:2:7: config file is not valid YAML; "
                                        "received mapping values are not allowed here; ")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("cell: lstm\nnote: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(UserInputError) as caught:
        load_config(Demo, latin)
    assert str(caught.value) == (f"{latin}:2:10: config file is not valid UTF-8; received "
                                 "byte 0xe9; save the file as UTF-8")


def test_evaluate_takes_a_config_file_of_reading_keys_only(tmp_path):
    from apps.sentiment.config import SentimentConfig
    from rnn_templates.config import data_overrides

    only = _yaml(tmp_path, "encoding: cp1252\nheader: false\n", "only.yaml")
    assert data_overrides(SentimentConfig, only, ["header=true"], has_data=True) == {
        "encoding": "cp1252", "header": True}  # --set wins over the file
    mixed = _yaml(tmp_path, "encoding: cp1252\nunits: 8\n", "mixed.yaml")
    with pytest.raises(UserInputError) as caught:
        data_overrides(SentimentConfig, mixed, [], has_data=True)
    assert str(caught.value).startswith(
        f"{mixed}:2: config key 'units' does not apply to evaluate; expected only keys that "
        "say how to read --data: format, header, ")
    assert str(caught.value).endswith("; evaluate uses the run's own config; remove the key "
                                      "from the file")
    with pytest.raises(UserInputError) as caught:
        data_overrides(SentimentConfig, only, [], has_data=False)
    assert str(caught.value) == ("--config: --config needs --data with evaluate; add --data "
                                 "FILE, or drop --config")
