"""Reading and scoring a translation model's output: the evaluation report (sacreBLEU
BLEU and chrF of beam and greedy decoding, sample translations, attention), the
notes on sources and translations cut at the model's limits, and the SavedModel's
``greedy`` and ``beam`` signatures. The translation app's hooks call these."""

from __future__ import annotations

import sys
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_templates import io
from rnn_templates.errors import UserInputError
from rnn_templates.sentence_decoding import TEXT, attention_maps, translate
from rnn_templates.sentences import token_counts

# Sentences whose attention the report draws.
HEAT_MAPS = 3


def serving_endpoints(decode, artifacts: dict[str, Any]) -> dict[str, tuple]:
    """``greedy(text)`` and ``beam(text, beam_width)`` over ``decode`` (see
    :func:`rnn_templates.sentence_decoding.text_decoder`), as the export's extra
    signatures; ``beam`` refuses a width above the target vocabulary's size."""
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


def check_beam(width: int, vocabulary: int, where: str) -> None:
    """Refuse a beam wider than the target vocabulary, in one line."""
    if width > vocabulary:
        raise UserInputError(
            "the beam is wider than the target vocabulary", where=where,
            expected=f"at most {vocabulary} (the vocabulary's size)", received=str(width),
            fix="use a narrower beam")


def prediction_rows(outputs: dict[str, Any], items: list[Any],
                    artifacts: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per input (translation, score, source), noting on stderr (and in the
    row) a source cut to the tokens the model reads and a translation stopped at the
    most it writes."""
    rows = [{"translation": str(t), "score": float(s), "source": str(item)}
            for t, s, item in zip(outputs["translation"], outputs["score"], items,
                                  strict=True)]
    limit = artifacts.get("source_length")
    for index in cut_sources([str(item) for item in items], artifacts):
        rows[index]["source_cut_at"] = limit
        print(f"note: a source longer than the {limit} tokens the model reads was "
              f"translated from its first {limit}: {shortened(str(items[index]))}",
              file=sys.stderr)
    most = artifacts.get("max_output_length")
    for index in np.flatnonzero(~np.asarray(outputs.get("ended", []), bool)):
        rows[index]["output_cut_at"] = most
        print(f"note: the translation stopped at the {most} tokens the model writes at "
              f"most, before its end: {shortened(str(items[index]))}", file=sys.stderr)
    return rows


def scored_outputs(model: keras.Model, inputs: Any, artifacts: dict[str, Any]) -> dict:
    """Beam and greedy translations of ``inputs``, how many were cut, and the attention of
    the first few."""
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
              f"model writes at most, before their end (the first: {shortened(first)})",
              file=sys.stderr)
    result["attention"] = attention_maps(model, artifacts, texts[:HEAT_MAPS])
    result["sources"] = texts[:artifacts.get("samples", 10)]
    cut = cut_sources(texts, artifacts)
    if len(cut):
        print(f"note: {len(cut)} of {len(texts)} sources are longer than the "
              f"{artifacts['source_length']} tokens the model reads, and were translated "
              f"from their first {artifacts['source_length']} (the first: "
              f"{shortened(texts[cut[0]])})", file=sys.stderr)
    result["sources_cut"] = len(cut)
    return result


def translation_metrics(targets: Any, outputs: dict[str, Any], artifacts: dict[str, Any]
                        ) -> dict:
    """sacreBLEU BLEU and chrF of :func:`scored_outputs` against ``targets``, with the
    decoding, sample translations and attention for the report."""
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


def write_report(metrics: dict, directory, stem: str) -> None:
    """``attention-<stem>.png`` (when the model has attention) and
    ``translations-<stem>.md`` (the sample translations) in ``directory``."""
    from pathlib import Path

    from rnn_templates.reporting import plot_attention

    if metrics.get("attention"):
        plot_attention(metrics["attention"], Path(directory) / f"attention-{stem}.png",
                       title="Attention of greedy decoding: output tokens (rows) over source "
                       "tokens (columns)")
    io.write_text(Path(directory) / f"translations-{stem}.md", sample_table(metrics))


def summary_line(name: str, metrics: dict) -> str:
    """One report line: BLEU and chrF of beam and greedy decoding."""
    return (f"{name:10s} BLEU {metrics['bleu']:.2f}  chrF {metrics['chrf']:.2f}  "
            f"(greedy: BLEU {metrics['greedy_bleu']:.2f}, chrF {metrics['greedy_chrf']:.2f}; "
            f"{metrics['examples']} pairs)")


def cut_sources(texts: list[str], artifacts: dict[str, Any]) -> list[int]:
    """Positions of the texts longer than the model's source vectorizer reads (it keeps
    the first ``source_length`` tokens); none for a run that does not record the length."""
    limit = artifacts.get("source_length")
    if not limit or not texts:
        return []
    counts = token_counts(texts, level=artifacts["level"],
                          lowercase=artifacts.get("lowercase_source", True))
    return [int(i) for i in np.flatnonzero(counts > limit)]


def shortened(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width - 3] + "...")


def sample_table(metrics: dict) -> str:
    """The sample translations as a Markdown table."""
    samples = metrics.get("samples", [])
    columns = ["source", "reference", "translation"] if any(
        row.get("source") for row in samples) else ["reference", "translation"]
    return io.markdown_table(samples, columns)
