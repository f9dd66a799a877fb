# logtune: `make repro` runs the whole pipeline on the embedded default; `make test` runs the tests.
# Both create the virtualenv on first use. Nothing here reaches a network but the package registries.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# No hub downloads, caches inside the repo, DVC analytics off: the run is offline and self-contained.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HOME := $(CURDIR)/.cache/hf
export DVC_NO_ANALYTICS := 1
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/site-cache
export TOKENIZERS_PARALLELISM := false
export WANDB_DISABLED := true
# Same kernels on every x86 machine with AVX2+ (see src/logtune/__init__.py): the default's numbers do not move between machines.
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= AVX2
export ONEDNN_MAX_CPU_ISA ?= AVX2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install repro test test-fast bench plots clean

install: $(VENV)/.installed

# torch is pinned and installed first: the CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The gate stage always succeeds (a reject is a result); the check after it prints the verdict and fails
# `make repro` on a reject (exit 1) or a decision that does not match dvc.lock (exit 2), as CI does.
repro: install
	$(BIN)/dvc repro
	$(BIN)/logtune gate --check

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

bench: install
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python benchmarks/pii_bench.py
	$(BIN)/python benchmarks/export_bench.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/packing_bench.py
	$(BIN)/python benchmarks/serve_bench.py

# Loss and learning-rate curves of the last run, rendered offline (vega vendored in plots/): open dvc_plots/index.html
plots: install
	$(BIN)/dvc plots show -o dvc_plots

clean:
	rm -rf data models dvclive dvc_plots .dvc/tmp .dvc/site-cache .pytest_cache
