"""English to French on Tatoeba/Anki pairs: sacreBLEU of ours beside the keras-io recipe.

Data
    ``fra.txt`` of manythings.org/anki (Tatoeba pairs, ``English<TAB>French
    <TAB>attribution``, sorted short to long), read in place from the path
    given; nothing is copied into the repository.

Protocol
    The first 50,000 pairs of the file, shuffled with ``numpy.random.
    default_rng(0).permutation``; the last 2,000 of the shuffled pairs are
    held out and scored once, after training, with sacreBLEU (BLEU, 13a
    tokenization, and chrF) against their single reference. No pair is
    deduplicated or dropped: a held-out English sentence may also occur in
    training with another translation, as in any random split of this file.

Ours
    ``apps/translation`` through its in-memory API (``Runner(TranslationApp())
    .fit``) on the 48,000 training pairs (2.5% of them held back for early
    stopping), with the settings in ``OURS`` below; training stops when the
    budget is spent (``--cpu-minutes`` of the process's CPU time: the machine
    is shared, so equal CPU time is the fair measure of "the same time").
    Held-out translations by batched greedy search and by beam search (width
    4, length penalty 0.6).

Peer recipe: keras-io "Character-level recurrent sequence-to-sequence model"
    (``lstm_seq2seq``, F. Chollet), written from its published description:
    characters one-hot encoded, ``\\t`` starts and ``\\n`` ends each target;
    ``LSTM(256, return_state=True)`` encoder whose final states start an
    ``LSTM(256, return_sequences=True)`` decoder under teacher forcing, then
    ``Dense(softmax)`` over the target characters; RMSprop, categorical
    cross-entropy, batch 64, 20% of the training pairs for validation.
    Trained on the same 48,000 pairs for the same CPU time as ours. Its
    held-out translations come from greedy decoding, computed for all
    sentences at once (the recipe's ``decode_sequence`` does the same argmax
    one sentence at a time; the script checks the two agree on the first 20).

Speed, in the same run
    Sentences per second of our batched greedy decoder against the keras-io
    ``decode_sequence`` loop run on our model (one sentence at a time, one
    ``predict`` call per output token, as the recipe does), and the time of
    beam search (width 4) against greedy, over the held-out sentences, 500
    decoder rows per call (500 sentences greedily, 125 with beam search),
    the fastest of 3 alternating decodes of each.

Everything runs on the CPU, one thread per process; pin it to one core with
``taskset -c 1``. ``--part ours`` and ``--part peer`` may run at the same time
as two processes, then ``--part report`` merges their results.

Example::

    DATA=../shared/datasets/translation/fra-eng/fra.txt
    taskset -c 1 .venv/bin/python benchmarks/translation_fra.py $DATA --part ours &
    taskset -c 1 .venv/bin/python benchmarks/translation_fra.py $DATA --part peer; wait
    .venv/bin/python benchmarks/translation_fra.py $DATA --part report

``--keep-model DIR`` saves the trained model with ``--part ours``; ``--model DIR``
then scores and times that model again without training it (a fresh process).
``--part ensemble --members DIR DIR...`` scores such models, trained with other
seeds on one split (``--set seed=N --set split_seed=42``), decoding together
(:func:`rnn_templates.sentence_decoding.translate` over a list of models);
``--part report`` then adds them.
"""

from __future__ import annotations

import argparse
import csv
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
from bench_common import RESULTS, machine_info, write_text_atomic  # noqa: E402

OURS = {
    "level": "word", "cell": "gru", "units": 128, "bidirectional": True, "embedding_dim": 256,
    "attention": "luong", "source_tokens": 6000, "target_tokens": 12000, "batch_size": 128,
    "learning_rate": 3e-3, "dropout": 0.3, "head_dropout": 0.3, "label_smoothing": 0.1,
    "validation_fraction": 0.025, "patience": 3, "epochs": 100, "num_buckets": 4,
    "beam_width": 4, "length_penalty": 0.6, "max_words": 10_000, "duplicates": "keep",
    "monitor": "val_bleu",
}
PEER_UNITS = 256
SPEED_SENTENCES = 50
DECODE_REPEATS = 3  # timed decodes of the held-out set per search, the fastest kept


def read_split(path: Path, pairs: int, held_out: int, seed: int):
    """(train sources, train targets, test sources, test targets) by the protocol."""
    import numpy as np

    from rnn_templates.data.pairs import read_pair_lines

    data = read_pair_lines(path, malformed="refuse")
    if len(data) < pairs:
        sys.exit(f"{path}: {len(data)} pairs, fewer than the {pairs} the protocol reads")
    order = np.random.default_rng(seed).permutation(pairs)
    sources, targets = data.sources[:pairs][order], data.targets[:pairs][order]
    return (sources[:-held_out], targets[:-held_out], sources[-held_out:],
            targets[-held_out:])


def seen_sources(train_src, train_tgt, test_src, test_tgt) -> dict:
    """How the random split meets the file's many translations of one sentence.

    Counts the held-out sources that also occur in training, and scores (BLEU)
    giving back their most frequent training translation: what a model that
    had learnt the training pairs by heart would get on them.
    """
    import collections

    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for source, target in zip(train_src, train_tgt, strict=True):
        seen[source][target] += 1
    both = [i for i, source in enumerate(test_src) if source in seen]
    lookup = [seen[test_src[i]].most_common(1)[0][0] for i in both]
    references = [test_tgt[i] for i in both]
    return {"held_out_sources_in_training": len(both),
            "same_pair_in_training": sum(test_tgt[i] in seen[test_src[i]] for i in both),
            "training_translation_bleu": scores(lookup, references)["bleu"] if both else None}


def time_budget(seconds: float):
    """A callback that stops training once the process has used ``seconds`` of CPU time.

    CPU time, not wall time: the machine is shared, so two models given the
    same wall time could get very different shares of the core.
    """
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = time.process_time()
            self.stopped_early = False

        def on_train_batch_end(self, batch, logs=None):
            if time.process_time() - self.started > seconds:
                self.model.stop_training = True
                self.stopped_early = True

    return TimeBudget()


def scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    import sacrebleu

    return {"bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
            "chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 2)}


def train_ours(sources, targets, seconds: float, work: Path, settings: dict):
    from apps.translation.app import TranslationApp
    from apps.translation.config import TranslationConfig
    from rnn_templates.app import Runner

    config = TranslationConfig(**settings)
    budget = time_budget(seconds)
    started, cpu = time.perf_counter(), time.process_time()
    model, artifacts, training = Runner(TranslationApp()).fit(
        config, sources, targets, work, callbacks=[budget])
    # The kept epoch's validation scores: what tells settings apart without the test pairs.
    with open(work / "history.csv", encoding="utf-8") as file:
        kept = list(csv.DictReader(file))[training["kept_epoch"] - 1]
    training["validation"] = {key: round(float(value), 4) for key, value in kept.items()
                              if key.startswith("val_")}
    return model, artifacts, {**training, "wall_seconds": round(time.perf_counter() - started, 1),
                              "cpu_seconds": round(time.process_time() - cpu, 1),
                              "stopped_by_time_budget": budget.stopped_early}


def keras_io_loop(model, artifacts, texts: list[str]) -> list[str]:
    """The keras-io ``decode_sequence`` loop on our model: one sentence, one predict per token."""
    import numpy as np
    import tensorflow as tf

    from rnn_templates.sentences import END_ID, START_ID, detokenize
    from rnn_templates.topologies import seq2seq_inference_models

    encoder, step = seq2seq_inference_models(model.get_layer("translation_core"))
    vectorizer = model.get_layer("source_vectorizer")
    trim = model.get_layer("trim_padding")
    translations = []
    for text in texts:
        ids = np.asarray(trim(vectorizer(tf.constant([text]))))
        memory, mask, *states = encoder.predict(ids, verbose=0)
        token, emitted = START_ID, []
        for _ in range(artifacts["max_output_length"]):
            logits, *states = step.predict([np.array([[token]]), memory, mask, *states],
                                           verbose=0)
            token = int(logits[0, -1].argmax())
            emitted.append(token)
            if token == END_ID:
                break
        translations.append(detokenize(
            tf.constant([emitted]), artifacts["target_vocabulary"], level=artifacts["level"],
            spaced_punctuation=artifacts["spaced_punctuation"]).numpy()[0].decode("utf-8"))
    return translations


def peer_recipe(sources, targets, test_sources, seconds: float) -> tuple[list[str], dict]:
    """The keras-io character-level lstm_seq2seq, trained for ``seconds``; greedy translations."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    targets = ["\t" + t + "\n" for t in targets]
    source_chars = sorted({c for s in sources for c in s})
    target_chars = sorted({c for t in targets for c in t})
    source_index = {c: i for i, c in enumerate(source_chars)}
    target_index = {c: i for i, c in enumerate(target_chars)}
    source_length = max(len(s) for s in sources)
    target_length = max(len(t) for t in targets)

    def encode(texts, index, length):
        # Character ids; one-hot encoding happens in the input pipeline
        # (the recipe builds the same one-hot arrays up front).
        array = np.zeros((len(texts), length), dtype="int32")
        for row, text in enumerate(texts):
            ids = [index[c] for c in text[:length] if c in index]
            array[row, : len(ids)] = ids
        return array

    source_ids = encode(sources, source_index, source_length)
    target_ids = encode(targets, target_index, target_length)
    lengths = np.array([len(t) for t in targets])
    # The recipe's arrays are zero beyond each text (no padding character).
    source_valid = (np.arange(source_length)[None, :] < np.array(
        [len(s) for s in sources])[:, None]).astype("float32")
    target_valid = (np.arange(target_length)[None, :] < lengths[:, None]).astype("float32")
    num_source, num_target = len(source_chars), len(target_chars)

    def one_hot(ids, valid, depth):
        return tf.one_hot(ids, depth) * valid[..., None]

    def example(s, sv, t, tv):
        decoder_in = one_hot(t, tv, num_target)
        decoder_out = tf.concat([decoder_in[1:], tf.zeros([1, num_target])], axis=0)
        return (one_hot(s, sv, num_source), decoder_in), decoder_out

    count = len(sources)
    split = int(count * 0.8)
    parts = (source_ids, source_valid, target_ids, target_valid)
    train = tf.data.Dataset.from_tensor_slices(tuple(p[:split] for p in parts)).shuffle(
        split, seed=0).map(example).batch(64).prefetch(2)
    validation = tf.data.Dataset.from_tensor_slices(tuple(p[split:] for p in parts)).map(
        example).batch(64)

    encoder_inputs = keras.Input((None, num_source))
    _, state_h, state_c = keras.layers.LSTM(PEER_UNITS, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input((None, num_target))
    decoder_lstm = keras.layers.LSTM(PEER_UNITS, return_sequences=True, return_state=True)
    decoded, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_dense = keras.layers.Dense(num_target, activation="softmax")
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoded))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    budget = time_budget(seconds)
    started, cpu = time.perf_counter(), time.process_time()
    history = model.fit(train, validation_data=validation, epochs=1000, callbacks=[budget],
                        verbose=2)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu

    # Inference models, as in the recipe.
    encoder_model = keras.Model(encoder_inputs, [state_h, state_c])
    state_inputs = [keras.Input((PEER_UNITS,)), keras.Input((PEER_UNITS,))]
    step_out, step_h, step_c = decoder_lstm(decoder_inputs, initial_state=state_inputs)
    decoder_model = keras.Model([decoder_inputs, *state_inputs],
                                [decoder_dense(step_out), step_h, step_c])
    reverse = np.array(target_chars)
    end = target_index["\n"]

    def source_one_hot(texts):
        ids = encode(texts, source_index, source_length)
        valid = (np.arange(source_length)[None, :] < np.array(
            [min(len(t), source_length) for t in texts])[:, None]).astype("float32")
        return np.asarray(one_hot(ids, valid, num_source))

    def decode_batch(texts):
        h, c = (np.asarray(x) for x in encoder_model(source_one_hot(texts)))
        token = np.zeros((len(texts), 1, num_target), dtype="float32")
        token[:, 0, target_index["\t"]] = 1.0
        done = np.zeros(len(texts), dtype=bool)
        out = [[] for _ in texts]
        for _ in range(target_length):
            probabilities, h, c = (np.asarray(x) for x in decoder_model([token, h, c]))
            chosen = probabilities[:, -1].argmax(axis=-1)
            for row, index in enumerate(chosen):
                if not done[row]:
                    if index == end:
                        done[row] = True
                    else:
                        out[row].append(reverse[index])
            if done.all():
                break
            token = np.zeros_like(token)
            token[np.arange(len(texts)), 0, chosen] = 1.0
        return ["".join(chars) for chars in out]

    def decode_sequence(text):
        # The recipe's loop: one sentence, one predict call per character.
        h, c = encoder_model.predict(source_one_hot([text]), verbose=0)
        token = np.zeros((1, 1, num_target), dtype="float32")
        token[0, 0, target_index["\t"]] = 1.0
        chars = []
        for _ in range(target_length):
            probabilities, h, c = decoder_model.predict([token, h, c], verbose=0)
            index = int(probabilities[0, -1].argmax())
            if index == end:
                break
            chars.append(reverse[index])
            token = np.zeros((1, 1, num_target), dtype="float32")
            token[0, 0, index] = 1.0
        return "".join(chars)

    translations = []
    for start in range(0, len(test_sources), 500):
        translations += decode_batch(list(test_sources[start:start + 500]))
    agree = sum(decode_sequence(t) == translations[i]
                for i, t in enumerate(test_sources[:20]))
    facts = {"epochs_started": len(history.history["loss"]),
             "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "final_val_loss": round(
                 float(history.history.get("val_loss", [float("nan")])[-1]), 4),
             "decode_sequence_agrees_with_batched_on_first_20": int(agree),
             "source_characters": num_source, "target_characters": num_target}
    return translations, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="fra.txt (English<TAB>French<TAB>attribution)")
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--held-out", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-minutes", type=float, default=10.0,
                        help="training budget of each model, in CPU minutes of its process")
    parser.add_argument("--part", choices=("ours", "peer", "ensemble", "report", "all"),
                        default="all",
                        help="ours and peer may run as two processes at once; ensemble scores "
                             "the models kept in --members DIR...; report merges")
    parser.add_argument("--members", type=Path, nargs="+", metavar="DIR",
                        help="--part ensemble: folders of --keep-model, trained with different "
                             "seeds on the same split (--set seed=N --set split_seed=S)")
    parser.add_argument("--split-seed", type=int, default=42,
                        help="--part ensemble: the members' split seed (the config's "
                             "split_seed, or its seed when split_seed is -1)")
    parser.add_argument("--output", type=Path, default=RESULTS / "translation_fra")
    parser.add_argument("--keep-model", type=Path, metavar="DIR",
                        help="--part ours: also save the trained model there (a new folder)")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="--part ours: time and score the model kept by --keep-model "
                             "instead of training again")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="--part ours: change one of the settings in OURS (repeatable); "
                             "the results record the settings used")
    args = parser.parse_args(argv)
    if args.keep_model is not None and args.keep_model.exists():
        sys.exit(f"{args.keep_model}: already exists; --keep-model writes a new folder")
    if not args.data.is_file():
        sys.exit(f"{args.data}: file not found; pass the path of fra.txt")
    parts = {"ours": args.output.with_name(args.output.name + "_ours.json"),
             "peer": args.output.with_name(args.output.name + "_peer.json")}

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    train_src, train_tgt, test_src, test_tgt = read_split(args.data, args.pairs, args.held_out,
                                                          args.seed)
    test_src, test_tgt = list(test_src), list(test_tgt)
    budget = args.cpu_minutes * 60
    if args.part in ("ours", "all"):
        from apps.translation.config import TranslationConfig
        from rnn_templates.config import load_config, parse_overrides

        settings = {**OURS, **parse_overrides(args.set)}
        load_config(TranslationConfig, None, settings)  # a wrong key or value stops here
        result = run_ours(train_src, train_tgt, test_src, test_tgt, budget,
                          keep=args.keep_model, kept=args.model, settings=settings)
        result["protocol"] = {"data": str(args.data.resolve()), "pairs": args.pairs,
                              "held_out": args.held_out, "seed": args.seed,
                              "training_pairs": len(train_src),
                              "cpu_minutes": result["ours"]["training"].get("cpu_minutes",
                                                                            args.cpu_minutes)}
        write_text_atomic(parts["ours"], json.dumps(result, indent=2, ensure_ascii=False))
    if args.part == "ensemble":
        if not args.members or len(args.members) < 2:
            sys.exit("--part ensemble needs --members DIR DIR [DIR...]")
        result = run_ensemble(train_src, train_tgt, test_src, test_tgt, args.members,
                              args.split_seed)
        write_text_atomic(args.output.with_name(args.output.name + "_ensemble.json"),
                          json.dumps(result, indent=2, ensure_ascii=False))
    if args.part in ("peer", "all"):
        translations, facts = peer_recipe(list(train_src), list(train_tgt), test_src, budget)
        peer = {**scores(translations, test_tgt), **facts, "machine": _machine(),
                "samples": translations[:12]}
        write_text_atomic(parts["peer"], json.dumps(peer, indent=2, ensure_ascii=False))
    if args.part in ("report", "all"):
        result = json.loads(parts["ours"].read_text(encoding="utf-8"))
        if parts["peer"].is_file():
            peer = json.loads(parts["peer"].read_text(encoding="utf-8"))
            result["keras_io_char_lstm_seq2seq"] = peer
            result["samples"] = [{**row, "keras_io": text} for row, text in
                                 zip(result["samples"], peer.pop("samples"), strict=False)]
        result["protocol"]["seen_sources"] = seen_sources(train_src, train_tgt, test_src,
                                                          test_tgt)
        ensemble = args.output.with_name(args.output.name + "_ensemble.json")
        if ensemble.is_file():
            result["ensemble"] = json.loads(ensemble.read_text(encoding="utf-8"))
        write_text_atomic(args.output.with_suffix(".json"),
                          json.dumps(result, indent=2, ensure_ascii=False))
        write_text_atomic(args.output.with_suffix(".md"), markdown(result))
        print(markdown(result))
    return 0


def _machine() -> dict:
    info = machine_info()
    info["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    return info


def run_ours(train_src, train_tgt, test_src, test_tgt, budget: float,
             keep: Path | None = None, kept: Path | None = None,
             settings: dict | None = None) -> dict:
    from apps.translation.app import translate
    from rnn_templates.app import load_keras_model

    settings = settings or OURS
    result = {"machine": _machine(), "ours": {"settings": settings}}
    if kept is not None:  # a model trained by an earlier run of this protocol
        model = load_keras_model(kept / "model.keras")
        artifacts = json.loads((kept / "artifacts.json").read_text(encoding="utf-8"))
        training = json.loads((kept / "training.json").read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory() as work:
            model, artifacts, training = train_ours(train_src, train_tgt, budget,
                                                    Path(work) / "ours", settings)
        training = {**training, "cpu_minutes": budget / 60}
        if keep is not None:
            keep.mkdir(parents=True)
            model.save(keep / "model.keras")
            for name, value in (("artifacts", artifacts), ("training", training)):
                write_text_atomic(keep / f"{name}.json", json.dumps(value, ensure_ascii=False))
    result["ours"]["training"] = training
    searches = {"greedy": {}, "beam": {"beam_width": 4},
                "full": {"beam_width": 4, "stop_early": False}}
    for options in searches.values():
        translate(model, artifacts, test_src[:8], **options)  # trace, outside the timing
    # 500 decoder rows per call: 500 sentences greedily, 125 with beam search. Alternating,
    # the best of each kept: the machine is shared.
    seconds: dict[str, float] = {}
    translations: dict[str, list[str]] = {}
    for _ in range(DECODE_REPEATS):
        for name, options in searches.items():
            started = time.perf_counter()
            translations[name] = translate(model, artifacts, test_src, batch_size=500, **options)
            seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - started)
    greedy, beam, full = translations["greedy"], translations["beam"], translations["full"]
    greedy_seconds, beam_seconds, full_seconds = (seconds["greedy"], seconds["beam"],
                                                  seconds["full"])
    result["ours"]["greedy"] = {**scores(greedy, test_tgt), "seconds": round(greedy_seconds, 2)}
    result["ours"]["beam4"] = {**scores(beam, test_tgt), "seconds": round(beam_seconds, 2)}
    # Held-out sources that are also training sources (with other translations) apart.
    known = set(map(str, train_src))
    for name, keep in (("seen", True), ("unseen", False)):
        rows = [i for i, source in enumerate(test_src) if (str(source) in known) == keep]
        result["ours"][f"beam4_{name}_sources"] = {
            "sentences": len(rows),
            **scores([beam[i] for i in rows], [test_tgt[i] for i in rows])}
    started = time.perf_counter()
    looped = keras_io_loop(model, artifacts, test_src[:SPEED_SENTENCES])
    loop_seconds = time.perf_counter() - started
    greedy_rate = len(test_src) / greedy_seconds
    loop_rate = SPEED_SENTENCES / loop_seconds
    result["speed"] = {
        "timed": ("on the model kept by an earlier run, in a fresh process" if kept is not None
                  else "in the training process, after training"),
        "batched_greedy_sentences_per_second": round(greedy_rate, 1),
        "keras_io_loop_sentences_per_second": round(loop_rate, 2),
        "keras_io_loop_sentences": SPEED_SENTENCES,
        "greedy_speedup": round(greedy_rate / loop_rate, 1),
        "loop_agrees_with_batched_greedy": int(sum(
            a == b for a, b in zip(looped, greedy[:SPEED_SENTENCES], strict=True))),
        "beam4_time_over_greedy": round(beam_seconds / greedy_seconds, 2),
        "beam4_until_every_beam_ends_time_over_greedy": round(full_seconds / greedy_seconds, 2),
        "beam4_same_translations_either_way": int(sum(
            a == b for a, b in zip(beam, full, strict=True))),
    }
    result["samples"] = [{"source": s, "reference": r, "greedy": g, "beam4": b}
                         for s, r, g, b in zip(test_src[:12], test_tgt[:12], greedy[:12],
                                               beam[:12], strict=True)]
    return result


def run_ensemble(train_src, train_tgt, test_src, test_tgt, members: list[Path],
                 split_seed: int) -> dict:
    """Models kept by ``--keep-model`` (other seeds, one split) decoding as one ensemble.

    Each member alone and the ensemble are scored on the members' validation
    pairs (the split is rebuilt from ``split_seed`` as the app builds it, and
    checked against each member's recorded training size and validation
    BLEU), then on the held-out pairs.
    """
    from apps.translation.app import translate
    from rnn_templates.app import load_keras_model
    from rnn_templates.data.splits import random_split

    models, artifacts, trainings = [], [], []
    for folder in members:
        models.append(load_keras_model(folder / "model.keras"))
        artifacts.append(json.loads((folder / "artifacts.json").read_text(encoding="utf-8")))
        trainings.append(json.loads((folder / "training.json").read_text(encoding="utf-8")))
    part = random_split(len(train_src), {"validation": OURS["validation_fraction"]},
                        split_seed, source="training pairs", unit="pairs")["validation"]
    validation_src = [str(train_src[i]) for i in part]
    validation_tgt = [str(train_tgt[i]) for i in part]
    result: dict = {"machine": _machine(), "split_seed": split_seed, "members": []}
    for folder, model, its_artifacts, training in zip(members, models, artifacts, trainings,
                                                      strict=True):
        if training["train_examples"] != len(train_src) - len(part):
            sys.exit(f"{folder}: trained on {training['train_examples']} pairs, not "
                     f"{len(train_src) - len(part)}: another split or protocol")
        alone = scores(translate(model, its_artifacts, validation_src), validation_tgt)
        result["members"].append({
            "folder": str(folder), "kept_epoch": training["kept_epoch"],
            "cpu_seconds": training.get("cpu_seconds"),
            "hyperparameters": training.get("hyperparameters"),
            "recorded_validation_bleu": training.get("validation", {}).get("val_bleu"),
            "validation_greedy": alone,
            "beam4": scores(translate(model, its_artifacts, test_src, beam_width=4,
                                      batch_size=500), test_tgt)})
    translations = {}
    for name, options in (("greedy", {}), ("beam4", {"beam_width": 4})):
        result[f"validation_{name}"] = scores(
            translate(models, artifacts, validation_src, batch_size=500, **options),
            validation_tgt)
        started = time.perf_counter()
        translations[name] = translate(models, artifacts, test_src, batch_size=500, **options)
        result[name] = {**scores(translations[name], test_tgt),
                        "seconds": round(time.perf_counter() - started, 2)}
    known = set(map(str, train_src))
    for name, keep in (("seen", True), ("unseen", False)):
        rows = [i for i, source in enumerate(test_src) if (str(source) in known) == keep]
        result[f"beam4_{name}_sources"] = {
            "sentences": len(rows),
            **scores([translations["beam4"][i] for i in rows], [test_tgt[i] for i in rows])}
    result["samples"] = translations["beam4"][:12]
    return result


def ensemble_markdown(ensemble: dict) -> list[str]:
    count = len(ensemble["members"])
    lines = [
        "", f"## An ensemble of {count} models (the mean of their next-word probabilities)", "",
        "Each trained as ours with its own seed on the same training and validation pairs; "
        "validation BLEU is greedy, on the pairs early stopping watched.", "",
        "| model | training CPU time | kept epoch | validation BLEU | BLEU beam 4 | chrF beam 4 |",
        "|---|---|---|---|---|---|",
    ]
    for number, member in enumerate(ensemble["members"], start=1):
        lines.append(f"| member {number} alone | {member['cpu_seconds']:.0f} s | "
                     f"{member['kept_epoch']} | {member['validation_greedy']['bleu']:.2f} | "
                     f"{member['beam4']['bleu']:.2f} | {member['beam4']['chrf']:.2f} |")
    total = sum(member["cpu_seconds"] for member in ensemble["members"])
    lines.append(f"| **ensemble**, beam 4 | {total:.0f} s in all | | "
                 f"{ensemble['validation_greedy']['bleu']:.2f} | "
                 f"**{ensemble['beam4']['bleu']:.2f}** | {ensemble['beam4']['chrf']:.2f} |")
    lines.append(f"| ensemble, greedy | | | | {ensemble['greedy']['bleu']:.2f} | "
                 f"{ensemble['greedy']['chrf']:.2f} |")
    lines += ["", f"Held-out sources also seen in training: "
              f"{ensemble['beam4_seen_sources']['bleu']:.2f} BLEU (beam 4, "
              f"{ensemble['beam4_seen_sources']['sentences']:,} sentences); the others "
              f"{ensemble['beam4_unseen_sources']['bleu']:.2f}. Beam search over the ensemble "
              f"took {ensemble['beam4']['seconds']:.1f} s for the held-out set."]
    return lines


def markdown(result: dict) -> str:
    ours, speed = result["ours"], result["speed"]
    info = result["machine"]
    lines = [
        "# English to French, Tatoeba/Anki `fra.txt`",
        "",
        f"First {result['protocol']['pairs']:,} pairs, shuffled with seed "
        f"{result['protocol']['seed']}, last {result['protocol']['held_out']:,} held out; "
        "sacreBLEU 13a BLEU and chrF against one reference. "
        f"{info['date']}, TensorFlow {info['tensorflow']}, Keras {info['keras']}, "
        f"CPU cores used: {info['cpu_affinity']}. Each model trains for the same CPU time "
        "of its process (the core is shared, so wall times vary with the load).",
        "",
        "| model | training CPU time | wall time | epochs | BLEU | chrF |",
        "|---|---|---|---|---|---|",
        f"| ours, greedy | {ours['training']['cpu_seconds']:.0f} s | "
        f"{ours['training']['wall_seconds']:.0f} s | "
        f"{ours['training']['epochs_run']} | {ours['greedy']['bleu']:.2f} | "
        f"{ours['greedy']['chrf']:.2f} |",
        f"| ours, beam 4 | same model | | | **{ours['beam4']['bleu']:.2f}** | "
        f"{ours['beam4']['chrf']:.2f} |",
    ]
    peer = result.get("keras_io_char_lstm_seq2seq")
    if peer:
        lines.append(f"| keras-io char lstm_seq2seq (greedy) | {peer['cpu_seconds']:.0f} s | "
                     f"{peer['wall_seconds']:.0f} s | {peer['epochs_started']} | "
                     f"{peer['bleu']:.2f} | {peer['chrf']:.2f} |")
    seen = result["protocol"].get("seen_sources")
    if seen:
        lines += ["", (
            f"Of the {result['protocol']['held_out']:,} held-out English sentences, "
            f"{seen['held_out_sources_in_training']:,} also occur in the training pairs, "
            f"{seen['same_pair_in_training']} of them with the same French sentence. Giving "
            "back their most "
            "frequent training translation scores "
            f"{seen['training_translation_bleu']:.2f} BLEU on them: against one reference, "
            "another person's translation of the very same sentence scores about that.")]
        if "beam4_seen_sources" in ours:
            lines[-1] += (
                f" Ours (beam 4) scores {ours['beam4_seen_sources']['bleu']:.2f} BLEU on them "
                f"and {ours['beam4_unseen_sources']['bleu']:.2f} on the other "
                f"{ours['beam4_unseen_sources']['sentences']:,}.")
    lines += [
        "",
        f"Speed over the {result['protocol']['held_out']:,} held-out sentences: batched greedy "
        f"{speed['batched_greedy_sentences_per_second']} sentences/s, the keras-io "
        f"`decode_sequence` loop on the same model {speed['keras_io_loop_sentences_per_second']} "
        f"sentences/s (on {speed['keras_io_loop_sentences']} of them; "
        f"{speed['loop_agrees_with_batched_greedy']} identical translations): "
        f"**{speed['greedy_speedup']}x**. Beam search (width 4) takes "
        f"**{speed['beam4_time_over_greedy']}x** the time of greedy"
        + (f" ({speed['beam4_until_every_beam_ends_time_over_greedy']}x run until every beam "
           f"has ended instead of stopping once the best beam is final; "
           f"{speed['beam4_same_translations_either_way']:,} of the "
           f"{result['protocol']['held_out']:,} translations the same)"
           if "beam4_until_every_beam_ends_time_over_greedy" in speed else "") + "."
        + (f" Timed {speed['timed']}." if "timed" in speed else ""),
        "",
        "| source | reference | ours (beam 4) |" + (" keras-io |" if peer else ""),
        "|---|---|---|" + ("---|" if peer else ""),
    ]
    for row in result["samples"]:
        cells = [row["source"], row["reference"], row["beam4"]]
        if peer:
            cells.append(row.get("keras_io", ""))
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if "ensemble" in result:
        lines += ensemble_markdown(result["ensemble"])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
