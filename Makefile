# The two commands for newcomers: `make run` and `make test`. Every target builds what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LLAMA_SERVER := $(BIN)/llama-server
CLI    := $(BIN)/support-agent

.PHONY: run test index models install lint browser postgres egress-check bench-quality bench-privacy bench-latency \
	bench-engines bench-retrieval bench-doc2query bench-load llama-server

run: index
	$(CLI) serve

test: models browser postgres
	$(BIN)/python -m pytest

index: models
	$(CLI) index

# Idempotent: checks each model's SHA-256 and fetches only what is missing or corrupt.
models: $(STAMP)
	$(CLI) models fetch

install: $(STAMP)

# Debian's chromium for the page test (Playwright drives it; it never downloads a browser of its own).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) \
	  || echo "warning: could not install Debian's chromium; the browser test will be skipped"

# Debian's PostgreSQL server binaries for the scale-out store test (it starts a throwaway server itself).
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq postgresql) \
	  || echo "warning: could not install Debian's postgresql; the PostgreSQL store tests will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check agent ui tests bench
	$(BIN)/ruff format --check agent ui tests bench

# Zero-egress proof: a syscall trace of index, ask, simulate and a served chat, and every request the
# chat page makes in headless Chromium; prints the hosts contacted (expected: none but the app).
egress-check: models browser
	$(BIN)/python -m pytest -q -s tests/test_egress.py tests/test_ui.py -k "write_only or chromium"

# Ours vs the naive quickstart RAG on eval/dev.jsonl and every 20th XQuAD question (../shared/eval/xquad),
# same chat model, one run (over an hour on 2 cores; --only ours for a quicker look).
bench-quality: models
	$(BIN)/python bench/quality.py

# How long customers wait through the served page at 1, 4, 8 and 20 at once, ours vs naive, one run
# (about half an hour on 2 cores); writes bench/out/latency.json.
bench-latency: index
	$(BIN)/python bench/latency.py

# One model in this process vs llama-server with parallel slots, same page and customers (~15 min).
bench-engines: index llama-server
	$(BIN)/python bench/engines.py

# llama.cpp's own server for bench-engines, built from the llama.cpp sources that the installed
# llama-cpp-python vendors; ~10 min once, then taken from ~/.cache/support-agent.
llama-server: $(LLAMA_SERVER)
$(LLAMA_SERVER): | $(STAMP)
	bash scripts/build-llama-server.sh $(BIN)/python $@

# Retrieval and the covered / not-covered rule on the demo dev set and XQuAD (../shared/eval/xquad).
bench-retrieval: models
	$(BIN)/python bench/retrieval.py

# Questions generated per article by the chat model, as a third ranking (~5 min for the demo help
# center; add ARGS="--xquad ../shared/eval/xquad" for XQuAD, 1.5–2 h); writes bench/out/doc2query.json.
bench-doc2query: models
	$(BIN)/python bench/doc2query.py $(ARGS)

# 20 customers chatting for 3 minutes against the served app with the small model: errors, lost turns,
# rate limits, memory; writes bench/out/load.json.
bench-load: models
	$(BIN)/python bench/load.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: the CPU build is on this machine; anything else pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile scripts/install-llama-cpp.sh scripts/llama-build-env.sh | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	bash scripts/install-llama-cpp.sh $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@# Gradio writes a random salt into its own package folder on first use; do it now, not while serving.
	$(BIN)/python -c "import gradio.utils; gradio.utils.get_hash_seed()"
	touch $@

# What redaction and sealed storage cost per chat turn vs plaintext, one run (seconds).
bench-privacy: $(STAMP)
	$(BIN)/python bench/privacy_overhead.py
