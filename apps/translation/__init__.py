"""Translation: sentences to sentences with an encoder-decoder RNN and attention."""

from rnn_templates.cli import AppSpec

APP = AppSpec(
    name="translation",
    help="Translate sentences (encoder-decoder RNN with attention, greedy or beam search).",
    config="apps.translation.config:TranslationConfig",
    app="apps.translation.app:TranslationApp",
    predict_help="sentences to translate",
    arguments="apps.translation.config:add_arguments",
)
