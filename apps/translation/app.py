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
the CLI) is :mod:`rnn_templates.app`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.translation.config import TranslationConfig
from apps.translation.model import TranslationHyperModel
from rnn_templates import io
from rnn_templates.app import App, Prepared
from rnn_templates.data import pairs as data_io
from rnn_templates.data.readers import require_file, resolve_path
from rnn_templates.data.splits import example_keys, random_split
from rnn_templates.errors import UserInputError
from rnn_templates.layers import TrimPadding
from rnn_templates.reporting import plot_attention
from rnn_templates.sentence_decoding import (  # noqa: F401  (translate, _COMPILED: the app's API)
    _COMPILED,
    TEXT,
    attention_maps,
    text_decoder,
    translate,
)
from rnn_templates.sentences import (
    sentence_ids,
    sentence_vectorizer,
    token_counts,
)

TEST_FILE = "test.tsv"
# Sentences whose attention the report draws.
HEAT_MAPS = 3


class TranslationApp(App):
    name = "translation"
    needs_tensorflow = True  # the model reads raw strings (TextVectorization)
    config_class = TranslationConfig

    # --- 1. data -------------------------------------------------------------------

    def load_data(self, config: TranslationConfig) -> data_io.Pairs:
        pairs = data_io.load(config)
        if config.test_data:
            require_file(resolve_path(config.test_data), "--test-data")
            # max_pairs caps the training file; the test file is read whole.
            test = data_io.load(dataclasses.replace(config, data=config.test_data,
                                                    test_data="", format="auto", max_pairs=0))
            seen = set(zip(pairs.sources.tolist(), pairs.targets.tolist(), strict=True))
            known = np.array([pair in seen for pair in zip(test.sources.tolist(),
                                                           test.targets.tolist(), strict=True)])
            if known.all():
                raise UserInputError("every test pair is also a training pair", where=test.source,
                                     received=f"{len(test)} pairs",
                                     fix="test on pairs the training file does not hold")
            if known.any():
                print(f"{test.source}: left out {int(known.sum())} test pair(s) that are also "
                      f"training pairs (first at line {int(test.lines[known][0])})",
                      file=sys.stderr)
                test = test.subset(~known)
            pairs.test = test
        return pairs

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
        target_vectorizer = sentence_vectorizer(
            targets, level=config.level, lowercase=config.lowercase_target,
            max_tokens=config.target_tokens, name="target_vectorizer")
        longest_target = sentence_ids(target_vectorizer, targets).shape[1]
        longest_source = _longest(sentence_vectorizer(
            sources[:2000], level=config.level, lowercase=config.lowercase_source,
            max_tokens=config.source_tokens), sources)
        source_vectorizer = sentence_vectorizer(
            sources, level=config.level, lowercase=config.lowercase_source,
            max_tokens=config.source_tokens, max_length=2 * longest_source,
            name="source_vectorizer")
        vocabulary = target_vectorizer.get_vocabulary()
        _check_beam(config.beam_width, len(vocabulary), "--set beam_width")
        artifacts = {
            "target_vocabulary": [str(t) for t in vocabulary],
            "level": config.level,
            "lowercase_target": config.lowercase_target,
            "spaced_punctuation": config.spaced_punctuation,
            "max_output_length": math.ceil(config.max_output_ratio * (longest_target + 1)),
            # What the source vectorizer reads of each sentence (it drops the rest).
            "source_length": 2 * longest_source, "lowercase_source": config.lowercase_source,
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
        decode = self._decoder(model, artifacts)
        widest = len(artifacts["target_vocabulary"])

        def beam(texts, beam_width):
            # A serving client's width is held to what predict allows: a wider beam
            # adds only beams that cannot win, at the cost of time and memory.
            check = tf.debugging.assert_less_equal(
                beam_width, widest, message=f"expected a beam_width from 1 to {widest} (the "
                "target vocabulary's size)")
            with tf.control_dependencies([check]):
                return decode(texts, tf.identity(beam_width))

        return {"greedy": (lambda texts: decode(texts), [TEXT]),
                "beam": (beam, [TEXT, tf.TensorSpec([], tf.int32, name="beam_width")])}

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
            _check_beam(self.beam_width, len(artifacts["target_vocabulary"]), "--beam-width")

    def to_batch(self, items: list[Any], first: int = 0) -> list[tf.Tensor]:
        texts = tf.constant([str(item) for item in items], dtype=tf.string)
        if self.endpoint() == "beam":
            return [texts, tf.constant(self.beam_width, dtype=tf.int32)]
        return [texts]

    def prediction_rows(self, outputs, items, parsed) -> list[dict[str, Any]]:
        rows = [{"translation": str(t), "score": float(s), "source": str(item)}
                for t, s, item in zip(outputs["translation"], outputs["score"], items,
                                      strict=True)]
        artifacts = getattr(self, "artifacts", {})  # use_artifacts: the model's
        limit = artifacts.get("source_length")
        for index in cut_sources([str(item) for item in items], artifacts):
            rows[index]["source_cut_at"] = limit
            print(f"note: a source longer than the {limit} tokens the model reads was "
                  f"translated from its first {limit}: {_shortened(str(items[index]))}",
                  file=sys.stderr)
        most = artifacts.get("max_output_length")
        for index in np.flatnonzero(~np.asarray(outputs.get("ended", []), bool)):
            rows[index]["output_cut_at"] = most
            print(f"note: the translation stopped at the {most} tokens the model writes at "
                  f"most, before its end: {_shortened(str(items[index]))}", file=sys.stderr)
        return rows

    def format_prediction(self, row: dict[str, Any]) -> str:
        return row["translation"]

    # --- 4. metrics and plots ----------------------------------------------------------

    def outputs(self, model: keras.Model, inputs: Any) -> list[str]:
        raise ValueError("a translation model decodes with its run's artifacts: call "
                         "apps.translation.app.translate(model, artifacts, texts)")

    def scored_outputs(self, model: keras.Model, inputs: Any, artifacts: dict[str, Any]) -> dict:
        """Beam and greedy translations of ``inputs``, and the attention of the first few."""
        texts = [str(t) for t in inputs]
        width = artifacts["beam_width"]
        result: dict[str, Any] = {}
        result["greedy"], greedy_ended = translate(model, artifacts, texts, return_ended=True)
        result["beam"], ended = (translate(model, artifacts, texts, beam_width=width,
                                           return_ended=True) if width > 1
                                 else (result["greedy"], greedy_ended))
        for key, flags in (("outputs_cut", ended), ("greedy_outputs_cut", greedy_ended)):
            result[key] = int(len(flags) - sum(flags))
        if result["outputs_cut"] or result["greedy_outputs_cut"]:
            first = texts[ended.index(False) if not all(ended) else greedy_ended.index(False)]
            counts = (f"{result['outputs_cut']} of {len(texts)} beam-search translations and "
                      f"{result['greedy_outputs_cut']} of {len(texts)} greedy ones"
                      if width > 1 else f"{result['greedy_outputs_cut']} of {len(texts)} "
                      "translations")
            print(f"note: {counts} stopped at the {artifacts['max_output_length']} tokens the "
                  f"model writes at most, before their end (the first: {_shortened(first)})",
                  file=sys.stderr)
        result["attention"] = attention_maps(model, artifacts, texts[:HEAT_MAPS])
        result["sources"] = texts[:artifacts.get("samples", 10)]
        cut = cut_sources(texts, artifacts)
        if len(cut):
            print(f"note: {len(cut)} of {len(texts)} sources are longer than the "
                  f"{artifacts['source_length']} tokens the model reads, and were translated "
                  f"from their first {artifacts['source_length']} (the first: "
                  f"{_shortened(texts[cut[0]])})", file=sys.stderr)
        result["sources_cut"] = len(cut)
        return result

    def metrics(self, targets, outputs, artifacts) -> dict:
        import sacrebleu

        references = [[str(t) for t in targets]]
        lowercase = artifacts["lowercase_target"]
        chrf = sacrebleu.metrics.CHRF(lowercase=lowercase)
        scores: dict[str, Any] = {}
        for name, key in (("", "beam"), ("greedy_", "greedy")):
            scores[f"{name}bleu"] = round(sacrebleu.corpus_bleu(
                outputs[key], references, lowercase=lowercase).score, 2)
            scores[f"{name}chrf"] = round(chrf.corpus_score(outputs[key], references).score, 2)
        scores["decoding"] = (f"beam width {artifacts['beam_width']}, length penalty "
                              f"{artifacts['length_penalty']}" if artifacts["beam_width"] > 1
                              else "greedy")
        scores["examples"] = len(references[0])
        sources = outputs.get("sources") or [""] * len(references[0])
        scores["samples"] = [{"source": s, "reference": r, "translation": t}
                             for s, r, t in zip(sources, references[0][:artifacts.get(
                                 "samples", 10)], outputs["beam"], strict=False)]
        scores["attention"] = outputs.get("attention", [])
        for key in ("sources_cut", "outputs_cut", "greedy_outputs_cut"):
            if outputs.get(key):
                scores[key] = outputs[key]
        return scores

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        if name == "validation":
            return
        stem = "test" if name == "test" else name
        if metrics.get("attention"):
            plot_attention(metrics["attention"], directory / f"attention-{stem}.png",
                           title="Attention of greedy decoding: output tokens (rows) over source "
                           "tokens (columns)")
        io.write_text(directory / f"translations-{stem}.md", sample_table(metrics))

    def summary(self, name: str, metrics: dict) -> str:
        return (f"{name:10s} BLEU {metrics['bleu']:.2f}  chrF {metrics['chrf']:.2f}  "
                f"(greedy: BLEU {metrics['greedy_bleu']:.2f}, chrF {metrics['greedy_chrf']:.2f}; "
                f"{metrics['examples']} pairs)")

    def details(self, metrics: dict) -> str:
        return sample_table(metrics)


def cut_sources(texts: list[str], artifacts: dict[str, Any]) -> list[int]:
    """Positions of the texts longer than the model's source vectorizer reads (it keeps
    the first ``source_length`` tokens); none for a run that does not record the length."""
    limit = artifacts.get("source_length")
    if not limit or not texts:
        return []
    counts = token_counts(texts, level=artifacts["level"],
                          lowercase=artifacts.get("lowercase_source", True))
    return [int(i) for i in np.flatnonzero(counts > limit)]


def _shortened(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width - 3] + "...")


def _longest(vectorizer: keras.layers.TextVectorization, texts) -> int:
    return max(sentence_ids(vectorizer, texts).shape[1], 8)


def _check_beam(width: int, vocabulary: int, where: str) -> None:
    if width > vocabulary:
        raise UserInputError(
            "the beam is wider than the target vocabulary", where=where,
            expected=f"at most {vocabulary} (the vocabulary's size)", received=str(width),
            fix="use a narrower beam")


def sample_table(metrics: dict) -> str:
    """The sample translations as a Markdown table."""
    samples = metrics.get("samples", [])
    columns = ["source", "reference", "translation"] if any(
        row.get("source") for row in samples) else ["reference", "translation"]
    return io.markdown_table(samples, columns)
