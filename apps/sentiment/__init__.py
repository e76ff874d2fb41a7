"""Sentiment analysis: many-to-one recurrent text classification."""
