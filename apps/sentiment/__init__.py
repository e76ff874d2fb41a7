"""Sentiment analysis: texts to classes with a many-to-one RNN."""

from rnn_templates.cli import AppSpec

APP = AppSpec(
    name="sentiment",
    help="Classify the sentiment of texts (many-to-one RNN).",
    config="apps.sentiment.config:SentimentConfig",
    app="apps.sentiment.app:SentimentApp",
    predict_help="texts to classify",
)
