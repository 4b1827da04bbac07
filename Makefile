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

.PHONY: setup system venv engine litellm models up test lint format unit integration bench bench-litellm bench-streams bench-ab bench-proxy-load bench-containers bench-api bench-compare bench-hostile bench-speech smoke-models eval train-router faults fuzz clean load soak sim ui-screenshot

setup: system venv engine litellm models  ## the venvs, espeak-ng and the tiny models; reruns are no-ops

system:
	bash scripts/setup-system.sh

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --quiet -e '.[dev,speech,litellm]' 2>&1 | $(QUIET_PIP)
	touch $(STAMP)

engine:
	bash scripts/setup-engine.sh 2>&1 | $(QUIET_PIP)

litellm:  ## LiteLLM's proxy in a venv of its own: the tests put it in front of modelyard
	bash scripts/setup-litellm.sh

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
	$(BIN)/pytest -v -rs --durations=20

bench: setup
	$(BIN)/python bench/skeleton.py
	$(BIN)/python bench/swap.py
	$(BIN)/python bench/sched_real.py
	$(BIN)/python bench/speech.py
	$(BIN)/python bench/containers.py

ui-screenshot: setup  ## docs/img/ui-swap.png: the status page during a real swap on the CPU profile (~2 min)
	$(BIN)/python scripts/ui-screenshot.py

bench-ab: setup  ## proxy-added latency here and in OTHER (another checkout), side by side
	@test -n "$(OTHER)" || { echo 'usage: make bench-ab OTHER=path/to/other/checkout'; exit 2; }
	$(BIN)/python bench/proxy_ab.py --other $(OTHER)

bench-proxy-load: setup  ## the proxy's hot path under load: added latency at 1/8/32 clients, CPU per request, RSS (OTHER=checkout to compare, WORKERS=1,2)
	$(BIN)/python bench/proxy_load.py --workers $(or $(WORKERS),1) $(if $(OTHER),--other $(OTHER))

bench-api: setup  ## proxy-added latency per API: chat, embeddings, a streamed Responses request
	$(BIN)/python bench/api_surface.py

bench-compare: setup  ## the same requests direct, via modelyard, LiteLLM and nginx, in one run (~15 min; COMPARE_ARGS=--quick): tables, JSON, plots in docs/img
	bash scripts/setup-bench.sh
	$(BIN)/python bench/compare.py $(COMPARE_ARGS)
	"$${MODELYARD_HOME:-$$HOME/.cache/modelyard}/plot-venv/bin/python" bench/plots.py

bench-litellm: setup  ## LiteLLM's cost to modelyard and modelyard's over LiteLLM: start time and local added latency with and without the extra, the remote path against litellm.acompletion (~3.5 min; builds MODELYARD_HOME/bare-venv once)
	$(BIN)/python bench/litellm_overhead.py $(LITELLM_ARGS)

bench-containers: setup  ## a container's start and stop: bare `docker run` against the supervisor's, side by side
	$(BIN)/python bench/containers.py

bench-streams: setup  ## 200 streams held open through the proxy at once: completed, refused by design, failed; RSS, fds
	$(BIN)/python bench/streams_open.py

bench-hostile: setup  ## hostile inputs (2 GB body, 50 GB upload, 40-hour FLAC, 16k video): time to 4xx, RSS
	$(BIN)/python bench/hostile.py

bench-speech: setup  ## speech costs: STT real-time factor, TTS per audio second, via the proxy
	$(BIN)/python bench/speech.py

sim: venv  ## swap policies side by side on simulated traces (virtual clock, seconds): swaps, p50/p99 wait, serving share, predicted waits
	$(BIN)/python bench/sim.py

smoke-models: setup  ## each tiny multimodal/speech vLLM server alone: ready time, requests, RSS
	$(BIN)/python bench/smoke_models.py

faults: setup  ## the fault suite as a table: fault x outcome x served-by, fallback success
	$(BIN)/python bench/faults.py

load: setup  ## the realistic mix against a real stack, headless locust (LOAD_TIME=3m, LOAD_USERS=6): latency per entry, RSS, CPU per 1,000 req, fallbacks
	$(BIN)/python -m loadtests.run

soak: setup  ## the mix for SOAK_MINUTES (30) with faults on a schedule; exits 1 on >= 0.1% errors or memory/FD growth
	$(BIN)/python -m loadtests.soak

fuzz: venv  ## schemathesis (17,000+ inputs, ~28 min) and the malformed-body corpus on a real stack of fakes
	$(BIN)/python -m fuzz.run

eval: venv  ## classifier accuracy per intent and language, confusion, calibration, p50/p99 for each split (eval/README.md)
	$(BIN)/python eval/evaluate.py

train-router: venv  ## retrain the classifier's learned stage from eval/ into proxy/classify/models (reproducible)
	$(BIN)/python eval/train.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
