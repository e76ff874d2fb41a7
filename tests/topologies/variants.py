"""The recurrent variants every topology is checked with."""

CELLS = ["simple", "lstm", "gru"]
VARIANTS = {
    "plain": {},
    "bidi_concat": {"bidirectional": True, "merge_mode": "concat"},
    "bidi_sum": {"bidirectional": True, "merge_mode": "sum"},
    "stacked": {"num_layers": 2},
}
UNITS = 4
