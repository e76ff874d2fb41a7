"""``rnnt sentiment <verb>``: the command-line face of apps.sentiment.app."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from apps.sentiment.config import SentimentConfig
from rnn_templates.cli import add_config_options
from rnn_templates.config import load_config
from rnn_templates.training import default_run_dir

DESCRIPTION = "Classify the sentiment of texts (many-to-one RNN)."


def _config(args: argparse.Namespace) -> SentimentConfig:
    overrides = list(args.overrides)
    if getattr(args, "data", None):
        overrides.append(f"data={args.data}")
    return load_config(SentimentConfig, args.config, overrides)


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.run_dir) if args.run_dir else default_run_dir("runs", "sentiment")


def _train(args):
    from apps.sentiment import app

    app.train(_config(args), _run_dir(args), overwrite=args.overwrite)


def _tune(args):
    from apps.sentiment import app

    app.tune(_config(args), _run_dir(args), tuning_dir=args.tuning_dir,
             overwrite=args.overwrite, restart=args.restart)


def _evaluate(args):
    from apps.sentiment import app

    config = _config(args) if args.data else None
    app.evaluate(args.run_dir, args.data, config)


def _export(args):
    from apps.sentiment import app

    app.export(args.run_dir, args.output, check=args.check)


def _predict(args):
    from apps.sentiment import app

    texts = list(args.texts)
    if args.input:
        texts.extend(app.read_lines(args.input))
    rows = app.predict(args.model, texts)
    for row in rows:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"{row['label']}\t{row['score']:.3f}\t{row['text']}")


def register(apps: argparse._SubParsersAction) -> None:
    """Add ``sentiment`` and its verbs to the ``rnnt`` parser."""
    parser = apps.add_parser("sentiment", help=DESCRIPTION, description=DESCRIPTION)
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)

    def training_options(verb: argparse.ArgumentParser) -> None:
        verb.add_argument("--data", help="CSV/TSV/JSONL file or class-folder "
                          "(default: the shipped data/sentiment/reviews.tsv)")
        verb.add_argument("--run-dir", help="output directory (default: runs/sentiment/<time>)")
        verb.add_argument("--overwrite", action="store_true",
                          help="replace an existing run directory")
        add_config_options(verb, SentimentConfig)

    train = verbs.add_parser("train", help="train and write a run directory",
                             description="Train, evaluate on the held-out split, save and export.")
    training_options(train)
    train.set_defaults(handler=_train)

    tune = verbs.add_parser("tune", help="hyperparameter search, then retrain the best",
                            description="keras-tuner search (resumes if interrupted), then "
                            "retrain the best hyperparameters and export. For distributed "
                            "search set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and "
                            "KERASTUNER_ORACLE_PORT on each process.")
    training_options(tune)
    tune.add_argument("--tuning-dir", default="runs/sentiment/tuning",
                      help="where the search state lives (default: %(default)s)")
    tune.add_argument("--restart", action="store_true", help="discard an earlier search")
    tune.set_defaults(handler=_tune)

    evaluate = verbs.add_parser("evaluate", help="metrics and confusion matrix of a run",
                                description="Evaluate a run on its held-out test split, or on "
                                "another labelled file given with --data.")
    evaluate.add_argument("--run-dir", required=True, help="a finished run directory")
    evaluate.add_argument("--data", help="another labelled file or folder to evaluate on")
    add_config_options(evaluate, SentimentConfig)
    evaluate.set_defaults(handler=_evaluate)

    export = verbs.add_parser("export", help="SavedModel that takes raw strings",
                              description="Export the run's model as a TensorFlow SavedModel "
                              "with a `serve` signature: string[batch] -> label, score, "
                              "probabilities.")
    export.add_argument("--run-dir", required=True, help="a finished run directory")
    export.add_argument("--output", help="destination (default: <run-dir>/saved_model)")
    export.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="reload in a fresh TensorFlow-only process and compare (default on)")
    export.set_defaults(handler=_export)

    predict = verbs.add_parser("predict", help="classify texts with an exported model",
                               description="Print label, score and text, one per line.")
    predict.add_argument("texts", nargs="*", help="texts to classify")
    predict.add_argument("--model", required=True,
                         help="SavedModel folder (or a run's model.keras)")
    predict.add_argument("--input", help="file with one text per line ('-' for stdin)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.set_defaults(handler=_predict)
