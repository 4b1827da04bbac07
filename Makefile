# modelyard: `make up` runs the stack on this machine, `make test` checks it.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# This machine's pip prints a warning per package for an absent local index; keep logs readable.
# (pipefail keeps pip's own failure; only grep's "nothing left to print" is forgiven)
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup system venv engine models up test lint format unit integration bench bench-ab bench-containers bench-api bench-hostile bench-speech smoke-models eval faults fuzz clean

setup: system venv engine models  ## both venvs, espeak-ng and the tiny models; reruns are no-ops

system:
	bash scripts/setup-system.sh

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --quiet -e '.[dev,speech]' 2>&1 | $(QUIET_PIP)
	touch $(STAMP)

engine:
	bash scripts/setup-engine.sh 2>&1 | $(QUIET_PIP)

models: venv engine
	$(BIN)/modelyard models --config profiles/cpu.yaml

up: setup
	$(BIN)/modelyard up

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: venv
	$(BIN)/pytest tests/unit tests/component -q

integration: setup
	$(BIN)/pytest tests/integration -v -rs

test: setup lint
	$(BIN)/pytest -v -rs

bench: setup
	$(BIN)/python bench/skeleton.py
	$(BIN)/python bench/swap.py
	$(BIN)/python bench/speech.py
	$(BIN)/python bench/containers.py

bench-ab: setup  ## proxy-added latency here and in OTHER (another checkout), side by side
	@test -n "$(OTHER)" || { echo 'usage: make bench-ab OTHER=path/to/other/checkout'; exit 2; }
	$(BIN)/python bench/proxy_ab.py --other $(OTHER)

bench-api: setup  ## proxy-added latency per API: chat, embeddings, a streamed Responses request
	$(BIN)/python bench/api_surface.py

bench-containers: setup  ## a container's start and stop: bare `docker run` against the supervisor's, side by side
	$(BIN)/python bench/containers.py

bench-hostile: setup  ## hostile inputs (2 GB body, 50 GB upload, 40-hour FLAC, 16k video): time to 4xx, RSS
	$(BIN)/python bench/hostile.py

bench-speech: setup  ## speech costs: STT real-time factor, TTS per audio second, via the proxy
	$(BIN)/python bench/speech.py

smoke-models: setup  ## each tiny multimodal/speech vLLM server alone: ready time, requests, RSS
	$(BIN)/python bench/smoke_models.py

faults: setup  ## the fault suite as a table: fault x outcome x served-by, fallback success
	$(BIN)/python bench/faults.py

fuzz: venv  ## schemathesis (17,000+ inputs, ~28 min) and the malformed-body corpus on a real stack of fakes
	$(BIN)/python -m fuzz.run

eval: venv  ## classifier accuracy and latency on the labelled requests (eval/README.md)
	$(BIN)/python eval/evaluate.py --split test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
