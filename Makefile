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

.PHONY: help install lock demo test test-full lint clean train-sentiment tune-sentiment \
	eval-sentiment export-sentiment predict-sentiment

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

test: $(STAMP) ## fast tests (under 10 minutes on 2 cores)
	$(BIN)/python -m pytest -q

test-full: $(STAMP) ## every test, including the slow ones
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: $(STAMP) ## ruff
	$(BIN)/ruff check rnn_templates apps tests benchmarks

train-sentiment: $(STAMP) ## train the sentiment model (ARGS="--set key=value --data FILE ...")
	$(BIN)/rnnt sentiment train --run-dir $(RUNS)/sentiment/latest --overwrite $(ARGS)

tune-sentiment: $(STAMP) ## hyperparameter search (resumable), then retrain and export the best
	$(BIN)/rnnt sentiment tune --run-dir $(RUNS)/sentiment/tuned --overwrite $(ARGS)

eval-sentiment: $(STAMP) ## metrics and plots of runs/sentiment/latest on its held-out split
	$(BIN)/rnnt sentiment evaluate --run-dir $(RUNS)/sentiment/latest $(ARGS)

export-sentiment: $(STAMP) ## SavedModel of runs/sentiment/latest, checked in a fresh process
	$(BIN)/rnnt sentiment export --run-dir $(RUNS)/sentiment/latest --check $(ARGS)

predict-sentiment: $(STAMP) ## classify INPUT="some text" (or ARGS="--input FILE") with the export
	$(BIN)/rnnt sentiment predict --model $(RUNS)/sentiment/latest/saved_model \
		$(if $(value INPUT),$(call quote,$(value INPUT))) $(ARGS)

clean: ## remove runs/ and caches (keeps .venv)
	rm -rf $(RUNS) .pytest_cache .ruff_cache
