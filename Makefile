# rnn-templates: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# GPU=1 installs TensorFlow with CUDA instead of the CPU build.
EXTRAS := $(if $(GPU),gpu,cpu),dev
STAMP := $(VENV)/.installed-$(if $(GPU),gpu,cpu)
RUNS ?= runs
# Options passed to every app command, e.g. make train-sentiment ARGS="--set epochs=5"
ARGS ?=
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Shell-quotes a value taken literally ($, quotes and backticks stay as typed).
quote = '$(subst ','\'',$(1))'

.PHONY: help install lock demo test test-full test-backends lint clean train-sentiment tune-sentiment \
	eval-sentiment export-sentiment predict-sentiment \
	demo-music train-music tune-music eval-music export-music predict-music

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-20s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP) ## create .venv and install the tested versions (constraints.txt; GPU=1 for CUDA)

lock: ## after the tests pass on newer packages: pip install -U them, then record them here
	{ echo "# Tested versions: \`make install\` and CI install with \`-c constraints.txt\`."; \
	  echo "# Update on purpose with \`make lock\` after the tests pass on new versions."; \
	  $(BIN)/python -m pip freeze --exclude-editable | \
	    sed -n 's/^tensorflow[-_]cpu==/tensorflow==/p'; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

demo: $(STAMP) ## train, evaluate, export and query the sentiment model on the shipped corpus
	$(BIN)/rnnt sentiment train --run-dir $(RUNS)/sentiment/demo --overwrite $(ARGS)
	$(BIN)/rnnt sentiment evaluate --run-dir $(RUNS)/sentiment/demo
	$(BIN)/rnnt sentiment export --run-dir $(RUNS)/sentiment/demo --check
	$(BIN)/rnnt sentiment predict --model $(RUNS)/sentiment/demo/saved_model \
		"The battery is great, but the screen cracked within a week." \
		"Not bad at all: the staff were friendly and the room was spotless."

# Test files run in TEST_JOBS processes (pytest-xdist; one file's tests stay together).
TEST_JOBS ?= 2

test: $(STAMP) ## fast tests (under 10 minutes on 2 cores)
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

test-full: $(STAMP) test-backends ## every test, including the slow ones and test-backends
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile -m "slow or not slow"

# The library's backend-neutral tests (builders, cells, layers, sampling, TBPTT, forecasting
# topologies) again on Keras's JAX backend, and on PyTorch where torch is installed.
BACKEND_TESTS := tests/topologies tests/test_cells.py tests/test_layers.py \
	tests/test_decoding.py tests/test_tbptt.py tests/test_forecast_topology.py \
	tests/test_ensemble.py tests/test_quantiles.py tests/test_long_lag.py tests/test_sampling.py

test-backends: $(STAMP) ## the library's tests on the JAX (and, if installed, PyTorch) backend
	KERAS_BACKEND=jax JAX_PLATFORMS=cpu $(BIN)/python -m pytest -q -n $(TEST_JOBS) \
		--dist loadfile $(BACKEND_TESTS)
	if $(BIN)/python -c "import torch" 2>/dev/null; then \
		KERAS_BACKEND=torch CUDA_VISIBLE_DEVICES= $(BIN)/python -m pytest -q -n $(TEST_JOBS) \
			--dist loadfile $(BACKEND_TESTS); \
	else echo "torch is not installed: PyTorch backend tests skipped"; fi

lint: $(STAMP) ## ruff
	$(BIN)/ruff check rnn_templates apps tests benchmarks

train-sentiment: $(STAMP) ## train the sentiment model (ARGS="--set key=value --data FILE ...")
	$(BIN)/rnnt sentiment train --run-dir $(RUNS)/sentiment/latest --overwrite $(ARGS)

tune-sentiment: $(STAMP) ## hyperparameter search (resumable), then retrain and export the best
	$(BIN)/rnnt sentiment tune --run-dir $(RUNS)/sentiment/tuned --tuning-dir $(RUNS)/sentiment/tuning --overwrite $(ARGS)

eval-sentiment: $(STAMP) ## metrics and plots of runs/sentiment/latest on its held-out split
	$(BIN)/rnnt sentiment evaluate --run-dir $(RUNS)/sentiment/latest $(ARGS)

export-sentiment: $(STAMP) ## SavedModel of runs/sentiment/latest, checked in a fresh process
	$(BIN)/rnnt sentiment export --run-dir $(RUNS)/sentiment/latest --check $(ARGS)

predict-sentiment: $(STAMP) ## classify INPUT="some text" (or ARGS="--input FILE") with the export
	$(BIN)/rnnt sentiment predict --model $(RUNS)/sentiment/latest/saved_model \
		$(if $(value INPUT),$(call quote,$(value INPUT))) $(ARGS)

demo-music: $(STAMP) ## train briefly on the shipped chorales, export, write MIDI files and piano rolls
	$(BIN)/rnnt music train --run-dir $(RUNS)/music/demo --overwrite --set epochs=5 $(ARGS)
	$(BIN)/rnnt music export --run-dir $(RUNS)/music/demo --check
	$(BIN)/rnnt music predict --model $(RUNS)/music/demo/saved_model --steps 64 --seed 1 \
		--output-dir $(RUNS)/music/demo/generated "" "72 67 64 48; 74 67 62 43" \
		data/music/chorales/piece_000.csv

train-music: $(STAMP) ## train the music model (ARGS="--data FOLDER --set key=value ...")
	$(BIN)/rnnt music train --run-dir $(RUNS)/music/latest --overwrite $(ARGS)

tune-music: $(STAMP) ## hyperparameter search (resumable), then retrain and export the best
	$(BIN)/rnnt music tune --run-dir $(RUNS)/music/tuned --tuning-dir $(RUNS)/music/tuning --overwrite $(ARGS)

eval-music: $(STAMP) ## next-note accuracy and statistics of generated music on the held-out pieces
	$(BIN)/rnnt music evaluate --run-dir $(RUNS)/music/latest $(ARGS)

export-music: $(STAMP) ## the generator SavedModel of runs/music/latest, checked in a fresh process
	$(BIN)/rnnt music export --run-dir $(RUNS)/music/latest --check $(ARGS)

predict-music: $(STAMP) ## generate from SEED="72 67 64 48" (or a .mid file; ARGS="--steps 128 ...")
	$(BIN)/rnnt music predict --model $(RUNS)/music/latest/saved_model \
		--output-dir $(RUNS)/music/latest/generated $(call quote,$(value SEED)) $(ARGS)

.PHONY: demo-forecasting train-forecasting tune-forecasting eval-forecasting \
	export-forecasting predict-forecasting

demo-forecasting: $(STAMP) ## train on the shipped weekly CO2 series, backtest, export, forecast to CSV
	$(BIN)/rnnt forecasting train --run-dir $(RUNS)/forecasting/demo --overwrite $(ARGS)
	$(BIN)/rnnt forecasting evaluate --run-dir $(RUNS)/forecasting/demo
	$(BIN)/rnnt forecasting export --run-dir $(RUNS)/forecasting/demo --check
	$(BIN)/rnnt forecasting predict --model $(RUNS)/forecasting/demo/saved_model \
		data/forecasting/co2_weekly.csv --output $(RUNS)/forecasting/demo/forecast.csv

train-forecasting: $(STAMP) ## train a forecaster (ARGS="--data FILE --set horizon=48 ...")
	$(BIN)/rnnt forecasting train --run-dir $(RUNS)/forecasting/latest --overwrite $(ARGS)

tune-forecasting: $(STAMP) ## hyperparameter search (resumable), then retrain and export the best
	$(BIN)/rnnt forecasting tune --run-dir $(RUNS)/forecasting/tuned --tuning-dir $(RUNS)/forecasting/tuning --overwrite $(ARGS)

eval-forecasting: $(STAMP) ## backtest runs/forecasting/latest on its test split (or ARGS="--data FILE")
	$(BIN)/rnnt forecasting evaluate --run-dir $(RUNS)/forecasting/latest $(ARGS)

export-forecasting: $(STAMP) ## SavedModel of runs/forecasting/latest, checked in a fresh process
	$(BIN)/rnnt forecasting export --run-dir $(RUNS)/forecasting/latest --check $(ARGS)

predict-forecasting: $(STAMP) ## forecast from the end of INPUT=file.csv into runs/forecasting/latest/forecast.csv
	$(BIN)/rnnt forecasting predict --model $(RUNS)/forecasting/latest/saved_model \
		$(call quote,$(value INPUT)) --output $(RUNS)/forecasting/latest/forecast.csv --overwrite \
		$(ARGS)

.PHONY: demo-translation train-translation tune-translation eval-translation \
	export-translation predict-translation

demo-translation: $(STAMP) ## train on the shipped English-French pairs, evaluate, export, translate
	$(BIN)/rnnt translation train --run-dir $(RUNS)/translation/demo --overwrite \
		--set epochs=15 $(ARGS)
	$(BIN)/rnnt translation evaluate --run-dir $(RUNS)/translation/demo
	$(BIN)/rnnt translation export --run-dir $(RUNS)/translation/demo --check
	$(BIN)/rnnt translation predict --model $(RUNS)/translation/demo/saved_model \
		"My sister is going to buy a cake tomorrow." "Where are the keys?"

train-translation: $(STAMP) ## train a translator (ARGS="--data pairs.tsv --set key=value ...")
	$(BIN)/rnnt translation train --run-dir $(RUNS)/translation/latest --overwrite $(ARGS)

tune-translation: $(STAMP) ## hyperparameter search (resumable), then retrain and export the best
	$(BIN)/rnnt translation tune --run-dir $(RUNS)/translation/tuned --tuning-dir $(RUNS)/translation/tuning --overwrite $(ARGS)

eval-translation: $(STAMP) ## BLEU, chrF, samples and attention maps of runs/translation/latest
	$(BIN)/rnnt translation evaluate --run-dir $(RUNS)/translation/latest $(ARGS)

export-translation: $(STAMP) ## SavedModel (serve, greedy, beam) of runs/translation/latest, checked
	$(BIN)/rnnt translation export --run-dir $(RUNS)/translation/latest --check $(ARGS)

predict-translation: $(STAMP) ## translate INPUT="a sentence" (or ARGS="--input FILE") with the export
	$(BIN)/rnnt translation predict --model $(RUNS)/translation/latest/saved_model \
		$(if $(value INPUT),$(call quote,$(value INPUT))) $(ARGS)

clean: ## remove runs/ and caches (keeps .venv)
	rm -rf $(RUNS) .pytest_cache .ruff_cache
