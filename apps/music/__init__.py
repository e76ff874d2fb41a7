"""Music generation: a language model over voices on a time grid, sampled step by step."""

from rnn_templates.cli import AppSpec

APP = AppSpec(
    name="music",
    help="Generate music from a folder of MIDI or chorale CSV files (a many-to-many "
         "note language model, sampled one-to-many).",
    config="apps.music.config:MusicConfig",
    app="apps.music.app:MusicApp",
    predict_help="seeds, one piece each: a .mid/.csv file, pitches such as "
                 "'60 64 67 72' (one chord per ';'), or '' for none",
    arguments="apps.music.config:add_arguments",
)
