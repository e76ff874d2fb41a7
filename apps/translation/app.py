"""Translation: the hooks the shared runner calls, top to bottom.

1. data: read and check sentence pairs, hold out a fixed-seed test and
   validation split, fit both vocabularies on the training pairs only;
2. model: the encoder-decoder HyperModel over token ids, wrapped so the saved
   model reads raw source strings;
3. serving: ``serve(text) -> {translation, score, length}`` decoding with the
   configured beam width, plus ``greedy(text)`` and ``beam(text,
   beam_width)`` signatures, all batched searches in stock TensorFlow ops;
4. metrics: sacreBLEU BLEU and chrF of beam and greedy decoding, sample
   translations and an attention heat-map.

Everything else (run directories, resuming, tuning, export and its check,
the CLI) is :mod:`rnn_templates.app`; decoding is
:mod:`rnn_templates.sentence_decoding`, scoring and the report
:mod:`rnn_templates.translations`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.translation.config import TranslationConfig
from apps.translation.model import TranslationHyperModel
from rnn_templates import io, translations
from rnn_templates.app import App, Prepared
from rnn_templates.data import pairs as data_io
from rnn_templates.data.splits import example_keys, random_split
from rnn_templates.errors import UserInputError
from rnn_templates.layers import TrimPadding
from rnn_templates.sentence_decoding import (  # noqa: F401  (translate, _COMPILED: the app's API)
    _COMPILED,
    TEXT,
    text_decoder,
    translate,
)
from rnn_templates.sentences import fit_pair_vectorizers, sentence_ids
from rnn_templates.translations import check_beam, sample_table

TEST_FILE = "test.tsv"


class TranslationApp(App):
    name = "translation"
    needs_tensorflow = True  # the model reads raw strings (TextVectorization)
    config_class = TranslationConfig

    # --- 1. data -------------------------------------------------------------------

    def load_data(self, config: TranslationConfig) -> data_io.Pairs:
        return data_io.load_with_test(config)

    def load_evaluation_data(self, config: TranslationConfig) -> data_io.Pairs:
        """The ``evaluate --data`` file, capped as the run's training data was."""
        return data_io.load(config, evaluating=True)

    def from_arrays(self, config, inputs, targets) -> data_io.Pairs:
        sources, translations = (np.asarray(list(a), dtype=object) for a in (inputs, targets))
        if len(sources) != len(translations):
            raise ValueError(f"{len(sources)} sources but {len(translations)} targets")
        return data_io.Pairs(sources, translations, np.arange(1, len(sources) + 1), "memory")

    def prepare(self, config: TranslationConfig, pairs: data_io.Pairs) -> Prepared:
        fractions = {"validation": config.validation_fraction}
        if pairs.test is None:
            fractions = {"test": config.test_fraction, **fractions}
        parts = random_split(len(pairs), fractions, config.splitting_seed, source=pairs.source,
                             unit="pairs")
        held_out = pairs.test if pairs.test is not None else pairs.subset(parts["test"])
        splits = {name: (pairs.sources[parts[name]], pairs.targets[parts[name]])
                  for name in ("train", "validation")}
        splits["test"] = (held_out.sources, held_out.targets)
        sources, targets = splits["train"]
        source_vectorizer, target_vectorizer, source_length, longest_target = \
            fit_pair_vectorizers(sources, targets, level=config.level,
                                 lowercase_source=config.lowercase_source,
                                 lowercase_target=config.lowercase_target,
                                 source_tokens=config.source_tokens,
                                 target_tokens=config.target_tokens)
        vocabulary = target_vectorizer.get_vocabulary()
        check_beam(config.beam_width, len(vocabulary), "--set beam_width")
        artifacts = {
            "target_vocabulary": [str(t) for t in vocabulary],
            "level": config.level,
            "lowercase_target": config.lowercase_target,
            "spaced_punctuation": config.spaced_punctuation,
            "max_output_length": math.ceil(config.max_output_ratio * (longest_target + 1)),
            # What the source vectorizer reads of each sentence (it drops the rest).
            "source_length": source_length, "lowercase_source": config.lowercase_source,
            "beam_width": config.beam_width,
            "length_penalty": config.length_penalty,
            "samples": config.samples,
            "pairs": {name: len(split[0]) for name, split in splits.items()},
            "left_out": {key: len(value) if isinstance(value, list) else value
                         for key, value in pairs.dropped.items()},
        }
        return Prepared(splits, artifacts, (source_vectorizer, target_vectorizer))

    def labelled(self, pairs, artifacts):
        pairs = pairs.test or pairs
        return pairs.sources, pairs.targets

    def write_held_out(self, directory: Path, inputs, targets, artifacts) -> None:
        io.write_text(directory / TEST_FILE, "".join(
            f"{' '.join(str(s).split())}\t{' '.join(str(t).split())}\n"
            for s, t in zip(inputs, targets, strict=True)))

    def example_keys(self, inputs, targets):
        return example_keys(inputs, targets)  # the same pair

    def read_held_out(self, directory: Path, artifacts):
        path = directory / TEST_FILE
        if path.is_file() and not path.read_text(encoding="utf-8").strip():
            return np.array([], dtype=object), np.array([], dtype=object)  # trained without one
        pairs = data_io.read_pair_lines(path, malformed="refuse")
        return pairs.sources, pairs.targets

    # --- 2. model ------------------------------------------------------------------

    def hypermodel(self, config, prepared) -> TranslationHyperModel:
        source_vectorizer, target_vectorizer = prepared.state
        return TranslationHyperModel(config, source_vectorizer.vocabulary_size(),
                                     target_vectorizer.vocabulary_size(),
                                     references=list(prepared.splits["validation"][1]),
                                     artifacts=prepared.artifacts)

    def monitor_of(self, config: TranslationConfig) -> str:
        return "val_bleu:max" if config.monitor == "val_bleu" else "val_loss"

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        source_vectorizer, target_vectorizer = prepared.state
        return {split: (sentence_ids(source_vectorizer, prepared.splits[split][0]),
                        sentence_ids(target_vectorizer, prepared.splits[split][1]))
                for split in ("train", "validation")}

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        """``[source text (batch,), decoder ids (batch, time)] -> logits``, saved as model.keras."""
        text = keras.Input(shape=(), dtype="string", name="source_text")
        decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_ids")
        ids = TrimPadding(name="trim_padding")(prepared.state[0](text))
        return keras.Model([text, decoder_ids], core([ids, decoder_ids]), name="translation")

    # --- 3. serving ----------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        return [TEXT]

    def _decoder(self, model: keras.Model, artifacts: dict[str, Any]):
        """``decode(texts, beam_width or None, stop_early) -> dict`` over the trained layers."""
        return text_decoder(model, artifacts)

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        decode = self._decoder(model, artifacts)
        width = artifacts["beam_width"]
        return tf.function(lambda texts: decode(texts, None if width == 1 else width),
                           input_signature=[TEXT], autograph=False)

    def extra_endpoints(self, model: keras.Model, artifacts: dict[str, Any]):
        return translations.serving_endpoints(self._decoder(model, artifacts), artifacts)

    beam_width: int | None = None  # predict --beam-width

    def use_options(self, options: dict[str, Any]) -> None:
        width = options.get("beam_width")
        if width is not None and width < 1:
            raise UserInputError("the beam width must be at least 1", where="--beam-width",
                                 received=str(width), fix="use 1 for greedy decoding, or more")
        self.beam_width = width

    def endpoint(self) -> str:
        if self.beam_width is None:
            return "serve"
        return "greedy" if self.beam_width == 1 else "beam"

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        self.artifacts = artifacts
        if self.beam_width and "target_vocabulary" in artifacts:
            check_beam(self.beam_width, len(artifacts["target_vocabulary"]), "--beam-width")

    def to_batch(self, items: list[Any], first: int = 0) -> list[tf.Tensor]:
        texts = tf.constant([str(item) for item in items], dtype=tf.string)
        if self.endpoint() == "beam":
            return [texts, tf.constant(self.beam_width, dtype=tf.int32)]
        return [texts]

    def prediction_rows(self, outputs, items, parsed) -> list[dict[str, Any]]:
        # use_artifacts gave the model's
        return translations.prediction_rows(outputs, items, getattr(self, "artifacts", {}))

    def format_prediction(self, row: dict[str, Any]) -> str:
        return row["translation"]

    # --- 4. metrics and plots ----------------------------------------------------------

    def outputs(self, model: keras.Model, inputs: Any) -> list[str]:
        raise ValueError("a translation model decodes with its run's artifacts: call "
                         "apps.translation.app.translate(model, artifacts, texts)")

    def scored_outputs(self, model: keras.Model, inputs: Any, artifacts: dict[str, Any]) -> dict:
        return translations.scored_outputs(model, inputs, artifacts)

    def metrics(self, targets, outputs, artifacts) -> dict:
        return translations.translation_metrics(targets, outputs, artifacts)

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        if name != "validation":
            translations.write_report(metrics, directory, "test" if name == "test" else name)

    def summary(self, name: str, metrics: dict) -> str:
        return translations.summary_line(name, metrics)

    def details(self, metrics: dict) -> str:
        return sample_table(metrics)
