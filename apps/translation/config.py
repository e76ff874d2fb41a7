"""Translation app configuration: every knob with its default and why.

The shared knobs (recurrent stack, training, tuning) come from the library's
mixins; this file declares what is particular to translating sentences.
``rnnt translation train --help-config`` prints the list.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from rnn_templates.config import (
    RecurrentOptions,
    TrainingOptions,
    TuningOptions,
    knob,
    new_default,
)

FORMATS = ("auto", "tsv", "csv", "jsonl", "anki")
ATTENTIONS = ("luong", "bahdanau", "dot", "none")


@dataclasses.dataclass
class TranslationConfig(TuningOptions, TrainingOptions, RecurrentOptions):
    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = ("val_loss", "loss", "val_bleu")
    # What `evaluate --data` may change: how the other file is read.
    DATA_KEYS: typing.ClassVar[tuple[str, ...]] = (
        "format", "source_column", "target_column", "malformed", "encoding", "multiline")

    # --- data -------------------------------------------------------------------
    data: str = knob("data/translation/en-fr.tsv",
                     "pairs: a TSV of source<TAB>target[<TAB>attribution] lines (Tatoeba/Anki), "
                     "a CSV or JSONL with named columns, or (format=anki) the download folder")
    format: str = knob("auto", "auto picks by extension (.tsv/.txt: pairs, .csv, .jsonl)",
                       choices=FORMATS)
    source_column: str = knob("source", "CSV/JSONL: the column (key) of the source sentences")
    target_column: str = knob("target", "CSV/JSONL: the column (key) of the translations")
    malformed: str = knob("skip", "lines with no tab, an empty side, bytes the encoding "
                          "cannot read (any format), a CSV row with too few or too many "
                          "fields, a JSONL line without the two keys: skip (each reported "
                          "with its line number) or refuse",
                          choices=("skip", "refuse"))
    encoding: str = knob("utf-8", "text encoding of the data files (utf-16 or utf-32 for "
                         "such files; a single-byte encoding such as latin-1 over a UTF-8 "
                         "file is refused)")
    multiline: bool = knob(False, "CSV sentences may hold line breaks inside quotes "
                           "(rows span lines)")
    anki_url: str = knob("https://www.manythings.org/anki/fra-eng.zip",
                         "format=anki: the archive to download (a local http:// URL works too)")
    max_pairs: int = knob(0, "read only the first this many pairs (0 = all)", interval="[0, inf)")
    max_words: int = knob(30, "drop (and report) pairs with a side longer than this many words",
                          interval="[1, inf)")
    duplicates: str = knob("drop", "repeated (source, target) pairs: drop (reported) or keep",
                           choices=("drop", "keep"))
    test_fraction: float = knob(0.1, "held-out test share (fixed seed)", interval="[0, 0.5)")
    validation_fraction: float = knob(0.1, "validation share (early stopping)",
                                      interval="(0, 0.5)")
    test_data: str = knob("", "a separate file of pairs to test on, read like --data "
                          "(also --test-data FILE)")

    # --- tokenization (inside the model, so the export takes and returns strings) ---
    level: str = knob("word", "tokens: words (punctuation split off) or characters",
                      choices=("word", "char"))
    lowercase_source: bool = knob(True, "lower-case the source sentences")
    lowercase_target: bool = knob(False, "lower-case the translations (then BLEU is scored "
                                  "against lower-cased references)")
    spaced_punctuation: str = knob("!?:;", "marks written with a space before them in the "
                                   "target language (French: !?:;), empty for English")
    source_tokens: int = knob(8000, "source vocabulary size, 4 reserved ids included",
                              interval="[5, inf)")
    target_tokens: int = knob(8000, "target vocabulary size, 4 reserved ids included",
                              interval="[5, inf)")

    # --- model: encoder -> decoder (teacher forcing) -> attention -> softmax --------
    embedding_dim: int = knob(128, "token embedding width", interval="[1, inf)")
    attention: str = knob("luong", "luong (multiplicative), bahdanau (additive), dot or none",
                          choices=ATTENTIONS)
    head_dropout: float = knob(0.2, "dropout before the output layer", interval="[0, 1)")
    label_smoothing: float = knob(0.0, "share of each target word's probability spread over "
                                  "the vocabulary in the loss (0 = off; 0.1 is usual)",
                                  interval="[0, 1)")
    num_buckets: int = knob(4, "length buckets for batching (1 = plain padding)",
                            interval="[1, inf)")

    monitor: str = knob("val_loss", "what early stopping watches and keeps the best epoch "
                        "of: val_loss, or val_bleu (the greedy BLEU of the validation pairs, "
                        "decoded after every epoch)", choices=("val_loss", "val_bleu"))

    # --- decoding -------------------------------------------------------------------
    beam_width: int = knob(4, "beams for evaluation and `serve` (1 = greedy)",
                           interval="[1, inf)", search=False)
    length_penalty: float = knob(0.6, "beam ranking: log-probability / ((5 + length) / 6) ** "
                                 "this (GNMT); 0 = none", interval="[0, 5]", search=False)
    max_output_ratio: float = knob(2.0, "stop after this times the longest training target "
                                   "(or at the end token, as soon as every sentence has one)",
                                   interval="[1, 10]")
    samples: int = knob(10, "sample translations in the report", interval="[0, inf)",
                        search=False)

    # --- shared knobs with other defaults here -------------------------------------
    cell: str = new_default(RecurrentOptions, "cell", "gru")
    units: int = new_default(RecurrentOptions, "units", 256)
    dropout: float = new_default(RecurrentOptions, "dropout", 0.1)
    learning_rate: float = new_default(TrainingOptions, "learning_rate", 2e-3)
    batch_size: int = new_default(TrainingOptions, "batch_size", 64)
    epochs: int = new_default(TrainingOptions, "epochs", 30)


def add_arguments(verb: str, parser: argparse.ArgumentParser) -> None:
    """``predict --beam-width``: the export's ``beam`` (or ``greedy``) signature, not ``serve``."""
    if verb != "predict":
        return
    parser.add_argument("--beam-width", type=int, default=None,
                        help="beams (1 = greedy); default: the width the model was "
                        "exported with")
