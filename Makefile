# The two commands a user needs: `make demo` and `make test`. Each creates or reuses .venv,
# installs the CPU PyTorch wheel first (an unpinned torch would pull a multi-GB CUDA build),
# then gankit, then runs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.gankit-installed

.PHONY: demo test test-slow bench lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[tensorboard,dev]'
	@touch $@

install: $(STAMP)

## Train DCGAN on the built-in MNIST digits (about 4 minutes on 2 CPU cores), then write samples.
demo: $(STAMP)
	$(BIN)/gankit train dcgan --data mnist --config configs/mnist-demo.yaml --out runs/demo --overwrite
	$(BIN)/gankit sample runs/demo -n 100 --out runs/demo/samples-final.png
	$(BIN)/gankit evaluate runs/demo -n 5000
	@echo "demo done: look at runs/demo/samples-final.png, runs/demo/curves.png, runs/demo/metrics.jsonl and runs/demo/eval/"

## The default test suite (a few minutes); long runs are marked `slow`.
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

## Measured results in docs/benchmarks.md come from these scripts.
bench: $(STAMP)
	$(BIN)/python scripts/bench_throughput.py --doc docs/benchmarks.md
	$(BIN)/python scripts/bench_modes.py --doc docs/benchmarks.md
	$(BIN)/python scripts/bench_conditional.py --doc docs/benchmarks.md
	$(BIN)/python scripts/bench_ssl.py --doc docs/benchmarks.md

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
