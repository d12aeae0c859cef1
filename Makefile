# Two commands for a newcomer: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The hybrid intent model's extra (sentence embeddings). torch==2.13.0 first: a CPU build, where a
# bare dependency would pull the registry's newest build with several GB of CUDA packages.
EMBED_STAMP := $(VENV)/.embeddings

$(EMBED_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,embeddings]"
	touch $(EMBED_STAMP)

# A real OpenID provider (node's oidc-provider) for the secure-chat sign-in tests.
OIDC_PROVIDER := tools/oidc-provider
OIDC_NODE_STAMP := $(OIDC_PROVIDER)/node_modules/.package-lock.json

$(OIDC_NODE_STAMP): $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --loglevel=error

demo: $(STAMP)
	$(BIN)/haven demo

test: $(STAMP) $(EMBED_STAMP) $(OIDC_NODE_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(OIDC_PROVIDER)/node_modules
