"""Sentiment accuracy on SST-2: dev accuracy of our model beside TF-IDF + logistic regression.

Data
    ``train.tsv`` (67,349 phrases) and ``dev.tsv`` (872 sentences) of the
    Stanford Sentiment Treebank, binary (Socher et al., 2013), as distributed
    with GLUE: ``label<TAB>sentence`` with a header. Read in place from
    ``--data``; nothing is copied into the repository.

Protocol
    Each variant is one ``rnnt sentiment train --data train.tsv --test-data
    dev.tsv --set text_column=sentence [--set ...]`` run (in-process, through
    ``Runner.train``): the validation split for early stopping is 10% of the
    training phrases, the dev sentences are read once, after training, as the
    test split. Repeated training phrases are dropped (reported), and no dev
    sentence is also a training phrase. The same run fits the TF-IDF (word 1-2
    grams) + logistic-regression baseline on the same training split (``C``
    chosen on the validation split) and scores it on dev.

    Published on the SST-2 *test* set (for scale): CNN with random vectors
    0.827 and CNN multichannel 0.881 (Kim, 2014), BiLSTM with GloVe 0.875 (Tai
    et al., 2015).

Example::

    .venv/bin/python benchmarks/sentiment_sst2.py                    # every variant
    .venv/bin/python benchmarks/sentiment_sst2.py --variants scratch default
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RNNT_VERBOSE", "2")

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import RESULTS, UCI_FOLDER, machine_info, write_text_atomic  # noqa: E402

SST2_FOLDER = UCI_FOLDER.parent / "sst2"
DEFAULT_OUTPUT = RESULTS / "sentiment_sst2"
# name -> config overrides beyond the data settings
VARIANTS = {
    "scratch": ["embeddings="],
    "default": [],
    "ngrams": ["ngram_buckets=131072"],
    "mean_max": ["pooling=mean_max"],
    "mean_max_embedding_dropout": ["pooling=mean_max", "embedding_dropout=0.2"],
    "mean_max_units_128": ["pooling=mean_max", "embedding_dropout=0.2", "units=128"],
    "mean_max_lr_decay": ["pooling=mean_max", "embedding_dropout=0.2", "lr_decay=0.5",
                          "lr_decay_after=2"],
    "members_4": ["members=4"],
    "mean_max_members_4": ["pooling=mean_max", "embedding_dropout=0.2", "members=4"],
    "mean_max_multichannel": ["pooling=mean_max", "embedding_dropout=0.2",
                              "embeddings_training=multichannel"],
}


def run_variant(name: str, overrides: list[str], folder: Path, work: Path) -> dict:
    import keras

    from apps.sentiment.app import SentimentApp
    from apps.sentiment.config import SentimentConfig
    from rnn_templates.app import Runner
    from rnn_templates.config import load_config

    config = load_config(SentimentConfig, None, [
        f"data={folder / 'train.tsv'}", f"test_data={folder / 'dev.tsv'}",
        "text_column=sentence", *overrides])
    keras.backend.clear_session()
    started = time.perf_counter()
    metrics = Runner(SentimentApp()).train(config, work / name)
    seconds = time.perf_counter() - started
    artifacts = json.loads((work / name / "artifacts.json").read_text(encoding="utf-8"))
    vectors = artifacts.get("embeddings", {})
    test = metrics["test"]
    baseline = test.get("baselines", {}).get("tfidf_logreg", {})
    return {
        "variant": name, "overrides": overrides,
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - seconds)),
        "dev_accuracy": round(test["accuracy"], 4), "dev_macro_f1": round(test["macro_f1"], 4),
        "dev_examples": test["examples"],
        "baseline_dev_accuracy": round(baseline["accuracy"], 4) if baseline else None,
        "baseline_settings": baseline.get("settings"),
        "validation_accuracy": round(metrics["validation"]["accuracy"], 4),
        "epochs_run": metrics["training"]["epochs_run"],
        "kept_epoch": metrics["training"]["kept_epoch"],
        "train_examples": metrics["training"]["train_examples"],
        "training_seconds": metrics["training"]["seconds"],
        "run_seconds": round(seconds, 1),
        "vectors_oov_rate": vectors.get("oov_rate"),
        "vectors_token_oov_rate": vectors.get("token_oov_rate"),
        "vectors_load_seconds": vectors.get("load_seconds"),
    }


def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [
        "# SST-2: dev accuracy", "",
        f"{meta['machine']}; TensorFlow {meta['tensorflow']}, Keras {meta['keras']}. "
        f"Last command: `{meta['command']}`.", "",
        "| variant | overrides | dev accuracy | dev macro F1 | TF-IDF + LR dev accuracy "
        "| validation accuracy (phrases) | epochs (kept) | training s | run at |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["variants"]:
        baseline = row["baseline_dev_accuracy"]
        lines.append(
            f"| {row['variant']} | {', '.join(row['overrides']) or 'defaults'} | "
            f"{row['dev_accuracy']:.4f} | {row['dev_macro_f1']:.4f} | "
            f"{'-' if baseline is None else f'{baseline:.4f}'} | "
            f"{row['validation_accuracy']:.4f} | {row['epochs_run']} ({row['kept_epoch']}) | "
            f"{row['training_seconds']:.0f} | {row.get('date', meta['date'])} |")
    loaded = [row for row in result["variants"] if row["vectors_load_seconds"] is not None]
    if loaded:
        row = loaded[0]
        lines += ["", f"GloVe 6B 50d: {row['vectors_oov_rate']:.1%} of the vocabulary and "
                  f"{row['vectors_token_oov_rate']:.1%} of the training tokens have no vector; "
                  f"loading them and building the embedding took "
                  f"{row['vectors_load_seconds']:.2f} s."]
    lines += ["", f"Dev sentences scored: {result['variants'][0]['dev_examples']} of 872; "
              f"training phrases after dropping repeats and the validation share: "
              f"{result['variants'][0]['train_examples']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SST2_FOLDER,
                        help="folder with train.tsv and dev.tsv (default: ../shared/...)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                        default=list(VARIANTS))
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="results stem: writes .json and .md (default: %(default)s)")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the output's rows of the variants not run now")
    args = parser.parse_args(argv)
    for name in ("train.tsv", "dev.tsv"):
        if not (args.data / name).is_file():
            sys.exit(f"{args.data / name}: not found; pass the SST-2 folder with --data")
    result = {"meta": {**machine_info(), "command": " ".join(["benchmarks/sentiment_sst2.py",
                                                              *(argv or sys.argv[1:])])},
              "variants": []}
    kept = []
    if args.keep_others and args.output.with_suffix(".json").is_file():
        previous = json.loads(args.output.with_suffix(".json").read_text(encoding="utf-8"))
        kept = [row for row in previous["variants"] if row["variant"] not in args.variants]
    order = list(VARIANTS)
    done: list[dict] = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.variants:
            row = run_variant(name, VARIANTS[name], args.data.resolve(), Path(work))
            print(json.dumps(row), flush=True)
            done.append(row)
            result["variants"] = sorted([*kept, *done], key=lambda r: order.index(r["variant"]))
            write_text_atomic(args.output.with_suffix(".json"), json.dumps(result, indent=2))
            write_text_atomic(args.output.with_suffix(".md"), markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
