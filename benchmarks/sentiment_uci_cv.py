"""Sentiment accuracy on real data: UCI "Sentiment Labelled Sentences", 10-fold CV.

Data
    ``yelp_labelled.txt`` and ``amazon_cells_labelled.txt`` from the UCI
    collection (Kotzias et al., KDD 2015), combined: 2,000 sentences, balanced.
    Each line is ``sentence<TAB>label`` (0 or 1), split on its LAST tab. The
    files are read in place (``--data``); nothing is copied into the repository.

Protocol
    10-fold stratified cross-validation (``StratifiedKFold(shuffle=True,
    random_state=0)``); every model sees exactly the same folds. For each fold
    a model is trained on the other nine folds and scored once on the held-out
    fold; nothing about the held-out fold (texts, labels, vocabulary) is used
    before that single scoring. Reported per model: accuracy and macro F1 per
    fold, their mean and standard deviation across folds (ddof=1), and the
    per-fold difference to the baseline.

Models
    ``tfidf_logreg``  baseline: ``TfidfVectorizer(ngram_range=(1, 2),
        sublinear_tf=True)`` + ``LogisticRegression(solver="liblinear")`` (L2),
        with C chosen per outer fold by an inner 5-fold stratified CV on the
        training part only, from ``C in {0.1, 0.3, 1, 3, 10, 30, 100}``.
    ``tfidf_logreg_c1``  the same with C fixed at 1.0 (scikit-learn's default),
        closer to the commonly quoted baseline figure; only with ``--models``.
    ``default``       our untuned model: ``fit_classifier(SentimentConfig(),
        texts, labels, work_dir)`` (it holds out ``validation_fraction`` of the
        training part for early stopping), then ``predict_probabilities`` on
        the held-out fold.
    ``tuned``         our tuned model: per outer fold, ``Runner(SentimentApp())
        .search`` on the training part (it holds out ``validation_fraction`` of
        it, nothing for test; random search, ``--max-trials`` trials of at most
        ``--tuning-epochs`` epochs, ranked by validation accuracy on that inner
        split), then ``Runner.fit`` on the same training part with the best
        hyperparameters (the same train/validation split) and a single scoring
        of the held-out fold.

    ``validation_accuracy`` (recorded for ours) is the trained model's accuracy
    on the inner validation split that early stopping watched; the script
    replicates that split (``stratified_split`` of the training part with the
    config's ``validation_fraction`` and ``seed``, as ``SentimentApp.prepare``
    does) to score it.

``--config-override key=value`` changes the SentimentConfig that both of our
models start from. Such runs are exploration: write them to their own
``--output`` and never report them as the untuned default. To choose among
settings without looking at the test folds, compare the per-fold
``validation_accuracy`` the JSON records (the inner validation split).

Example::

    RNNT_VERBOSE=0 .venv/bin/python benchmarks/sentiment_uci_cv.py
    .venv/bin/python benchmarks/sentiment_uci_cv.py --no-tuned --folds 10
    .venv/bin/python benchmarks/sentiment_uci_cv.py --models default \\
        --config-override embedding_dim=128 --output benchmarks/results/explore_emb128
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RNNT_VERBOSE", "0")

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import (  # noqa: E402
    RESULTS,
    UCI_FILES,
    UCI_FOLDER,
    machine_info,
    mean_std,
    read_uci,
    write_text_atomic,
)

DEFAULT_OUTPUT = RESULTS / "sentiment_uci_cv"
MODELS = ("tfidf_logreg", "tfidf_logreg_c1", "default", "tuned")
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


# --- models ---------------------------------------------------------------------------


def run_tfidf(
    train_x, train_y, test_x, seed: int, fixed_c: float | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(solver="liblinear", max_iter=2000),
    )
    if fixed_c is not None:
        pipeline.set_params(logisticregression__C=fixed_c)
        pipeline.fit(list(train_x), train_y)
        return pipeline.predict(list(test_x)), {"C": fixed_c}
    search = GridSearchCV(
        pipeline,
        {"logisticregression__C": list(C_GRID)},
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        scoring="accuracy",
    )
    search.fit(list(train_x), train_y)
    predicted = search.predict(list(test_x))
    return predicted, {"C": search.best_params_["logisticregression__C"]}


def _predicted_labels(model, class_names: list[str], texts: np.ndarray) -> np.ndarray:
    from apps.sentiment.app import predict_probabilities

    probabilities = predict_probabilities(model, texts)
    return np.array([int(class_names[i]) for i in probabilities.argmax(axis=1)])


def _validation_accuracy(config, model, class_names: list[str], train_x, train_y) -> float:
    """Accuracy on the validation split the fit held out of ``train_x`` for early stopping.

    The split is replicated as ``SentimentApp.prepare`` makes it: labels as
    indices of the sorted class names, stratified with the config's
    ``validation_fraction`` and ``seed`` (the in-memory fit holds out no test part).
    """
    from rnn_templates.data.labels import class_indices, stratified_split

    labels = class_indices(np.asarray(train_y).astype(str).astype(object), class_names,
                           "uci-fold")
    _, validation = stratified_split(labels, (config.validation_fraction,), config.seed)
    predicted = _predicted_labels(model, class_names, np.asarray(train_x)[validation])
    return float((predicted == np.asarray(train_y)[validation]).mean())


def run_default(config, train_x, train_y, test_x, work: Path) -> tuple[np.ndarray, dict[str, Any]]:
    from apps.sentiment.app import fit_classifier

    model, class_names, training = fit_classifier(config, train_x, train_y.astype(str), work)
    info = {
        "epochs_run": training["epochs_run"],
        "train_seconds": training["seconds"],
        "validation_accuracy": _validation_accuracy(config, model, class_names, train_x,
                                                    train_y),
    }
    return _predicted_labels(model, class_names, test_x), info


def run_tuned(
    config, train_x, train_y, test_x, work: Path, max_trials: int, tuning_epochs: int
) -> tuple[np.ndarray, dict[str, Any]]:
    from apps.sentiment.app import SentimentApp
    from rnn_templates.app import Runner

    # Search and refit both split the training part into train/validation only
    # (the in-memory API holds out no test part; test_fraction=0 says so here
    # too), with the same seed, so the refit sees the search's split. The outer
    # test fold never enters the search or the refit.
    config = dataclasses.replace(
        config, test_fraction=0.0, tuner="random", max_trials=max_trials,
        tuning_epochs=tuning_epochs,
    )
    runner = Runner(SentimentApp())
    labels = train_y.astype(str)
    started = time.perf_counter()
    best, rows = runner.search(config, train_x, labels, work / "tuning", restart=True)
    search_seconds = time.perf_counter() - started
    model, artifacts, training = runner.fit(config, train_x, labels, work / "final",
                                            hyperparameters=best)
    class_names = artifacts["class_names"]
    info = {
        "search_seconds": round(search_seconds, 1),
        "trials": len(rows),
        "best_trial_val_accuracy": rows[0]["score"] if rows else None,
        "best_hyperparameters": dict(best.values),
        "leaderboard": rows,
        "epochs_run": training["epochs_run"],
        "train_seconds": training["seconds"],
        "validation_accuracy": _validation_accuracy(config, model, class_names, train_x,
                                                    train_y),
    }
    return _predicted_labels(model, class_names, test_x), info


# --- reporting ------------------------------------------------------------------------


def summarize(folds: list[dict[str, Any]], baseline: str = "tfidf_logreg") -> dict[str, Any]:
    summary: dict[str, Any] = {}
    models = [m for m in MODELS if any(m in f["models"] for f in folds)]
    for model in models:
        rows = [f["models"][model] for f in folds if model in f["models"]]
        accuracy = [r["accuracy"] for r in rows]
        acc_mean, acc_std = mean_std(accuracy)
        f1_mean, f1_std = mean_std([r["macro_f1"] for r in rows])
        entry = {
            "folds": len(rows),
            "accuracy_mean": acc_mean,
            "accuracy_std": acc_std,
            "macro_f1_mean": f1_mean,
            "macro_f1_std": f1_std,
            "accuracy_per_fold": [round(float(a), 4) for a in accuracy],
            "seconds_total": round(sum(r["seconds"] for r in rows), 1),
        }
        paired = [f["models"] for f in folds if model in f["models"]]
        if model != baseline and all(baseline in m for m in paired):
            diff = np.array([m[model]["accuracy"] - m[baseline]["accuracy"] for m in paired])
            entry["minus_baseline_mean"], entry["minus_baseline_std"] = mean_std(diff)
            entry["folds_at_or_above_baseline"] = int((diff >= 0).sum())
        summary[model] = entry
    return summary


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        "# Sentiment, UCI labelled sentences: stratified cross-validation",
        "",
        f"{meta['date']}; {meta['machine']}; TensorFlow {meta['tensorflow']}, "
        f"Keras {meta['keras']}, keras-tuner {meta['keras_tuner']}, "
        f"scikit-learn {meta['sklearn']}.",
        f"{meta['examples']} sentences, {meta['folds_run']} of {meta['folds']} folds "
        f"(StratifiedKFold shuffle=True random_state={meta['cv_seed']}); "
        f"config overrides: {meta['config_overrides'] or 'none'}; "
        f"tuning: {meta['max_trials']} random trials x <= {meta['tuning_epochs']} epochs.",
        "",
        "| model | accuracy (mean ± std) | macro F1 (mean ± std) | minus baseline "
        "| folds >= baseline | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for model, s in result["summary"].items():
        diff = (f"{s['minus_baseline_mean']:+.4f} ± {s['minus_baseline_std']:.4f}"
                if "minus_baseline_mean" in s else "")
        wins = f"{s['folds_at_or_above_baseline']}/{s['folds']}" if diff else ""
        lines.append(
            f"| {model} | {s['accuracy_mean']:.4f} ± {s['accuracy_std']:.4f} "
            f"| {s['macro_f1_mean']:.4f} ± {s['macro_f1_std']:.4f} | {diff} | {wins} "
            f"| {s['seconds_total']:.0f} |"
        )
    models = list(result["summary"])
    lines += ["", "Per-fold accuracy:", "",
              "| fold | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for fold in result["folds"]:
        cells = [f"{fold['models'][m]['accuracy']:.4f}" if m in fold["models"] else ""
                 for m in models]
        lines.append(f"| {fold['fold']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], output: Path) -> None:
    write_text_atomic(output.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_text_atomic(output.with_suffix(".md"), markdown(result))




# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (or benchmarks/README.md) for the full protocol.",
    )
    parser.add_argument("--data", type=Path, default=UCI_FOLDER,
                        help="folder holding the UCI files (default: %(default)s)")
    parser.add_argument("--files", nargs="+", default=list(UCI_FILES),
                        help="files in --data to combine (default: %(default)s)")
    parser.add_argument("--folds", type=int, default=10, help="CV folds (default: %(default)s)")
    parser.add_argument("--only-folds", type=int, default=None, metavar="K",
                        help="run only the first K folds (for timing); the folds stay those "
                        "of the --folds split")
    parser.add_argument("--models", nargs="+", choices=MODELS,
                        default=["tfidf_logreg", "default", "tuned"],
                        help="models to run (default: %(default)s)")
    parser.add_argument("--tuned", action=argparse.BooleanOptionalAction, default=True,
                        help="include the tuned model (default: on)")
    parser.add_argument("--max-trials", type=int, default=8,
                        help="random-search trials per fold (default: %(default)s)")
    parser.add_argument("--tuning-epochs", type=int, default=6,
                        help="epoch cap per trial (default: %(default)s)")
    parser.add_argument("--config-override", action="append", default=[], metavar="KEY=VALUE",
                        help="change a SentimentConfig field for our models (repeatable); "
                        "report such runs as exploration")
    parser.add_argument("--cv-seed", type=int, default=0,
                        help="StratifiedKFold random_state (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="results path without suffix; .json and .md are written "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.tuned and "tuned" in args.models:
        args.models.remove("tuned")
    if args.folds < 2:
        parser.error(f"--folds must be at least 2; received {args.folds}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    from apps.sentiment.config import SentimentConfig
    from rnn_templates.config import load_config

    config = load_config(SentimentConfig, None, args.config_override)
    texts, labels = read_uci(args.data, tuple(args.files))
    print(f"{len(texts)} sentences from {args.data} ({', '.join(args.files)}); "
          f"positives {int(labels.sum())}", flush=True)
    splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.cv_seed)
                  .split(texts, labels))
    if args.only_folds:
        splits = splits[: args.only_folds]
    meta = machine_info() | {
        "data": [str(Path(args.data) / f) for f in args.files],
        "examples": len(texts),
        "folds": args.folds,
        "folds_run": len(splits),
        "cv_seed": args.cv_seed,
        "models": args.models,
        "config_overrides": args.config_override,
        "config": dataclasses.asdict(config),
        "max_trials": args.max_trials,
        "tuning_epochs": args.tuning_epochs,
        "tfidf_C_grid": list(C_GRID),
    }
    result: dict[str, Any] = {"meta": meta, "folds": [], "summary": {}}
    started = time.perf_counter()
    for fold, (train_idx, test_idx) in enumerate(splits, start=1):
        train_x, train_y = texts[train_idx], labels[train_idx]
        test_x, test_y = texts[test_idx], labels[test_idx]
        record: dict[str, Any] = {"fold": fold, "test_examples": len(test_idx), "models": {}}
        for model in args.models:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix=f"rnnt-cv-{model}-") as work:
                if model == "tfidf_logreg":
                    predicted, info = run_tfidf(train_x, train_y, test_x, args.cv_seed)
                elif model == "tfidf_logreg_c1":
                    predicted, info = run_tfidf(train_x, train_y, test_x, args.cv_seed, 1.0)
                elif model == "default":
                    predicted, info = run_default(config, train_x, train_y, test_x, Path(work))
                else:
                    predicted, info = run_tuned(config, train_x, train_y, test_x, Path(work),
                                                args.max_trials, args.tuning_epochs)
            seconds = time.perf_counter() - t0
            record["models"][model] = {
                "accuracy": float(accuracy_score(test_y, predicted)),
                "macro_f1": float(f1_score(test_y, predicted, average="macro")),
                "seconds": round(seconds, 1),
                **info,
            }
            print(f"fold {fold}/{args.folds} {model:13s} accuracy "
                  f"{record['models'][model]['accuracy']:.4f} macro_f1 "
                  f"{record['models'][model]['macro_f1']:.4f} ({seconds:.0f}s; "
                  f"{time.perf_counter() - started:.0f}s elapsed)", flush=True)
        result["folds"].append(record)
        result["summary"] = summarize(result["folds"])
        meta["wall_seconds"] = round(time.perf_counter() - started, 1)
        meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_results(result, args.output)
    print(markdown(result))
    print(f"results: {args.output.with_suffix('.json')} and .md "
          f"({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
