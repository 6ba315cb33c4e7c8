# keel's two commands:
#   make demo   set up keel and run its main job on embedded defaults (SQLite + ./.keel)
#   make test   set up everything the test suite needs and run all of it
# Both only need Python >= 3.11 (and make); they create ./.venv themselves. `make test`
# also builds ./.venv-core, keel with no extras at all (what `pip install .` gives a
# user), where tests/cli/test_core_install.py runs the CLI's error paths.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CORE_VENV ?= .venv-core
# Extras the full test suite needs (heavy ones included), and those the demo needs.
TEST_EXTRAS ?= dev,bench,data,training,torch,onnx,serving,monitoring,server,s3,redis
DEMO_EXTRAS ?= training,onnx

export OMP_WAIT_POLICY ?= PASSIVE
export MPLBACKEND ?= Agg
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test lint bench bench-serving bench-server clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[$(DEMO_EXTRAS)]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[$(TEST_EXTRAS)]"
	touch $@

# The core install, resolved and installed by uv (a dev dependency) from its cache: about
# 3 s when .venv was installed before on this machine, 9 s from nothing; pip takes 50-115 s
# here because it downloads every wheel again (docs/decisions.md, issue 9).
$(CORE_VENV)/.core-installed: pyproject.toml $(VENV)/.test-installed
	rm -rf $(CORE_VENV)
	$(VENV)/bin/uv venv --quiet --python $(PYTHON) $(CORE_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(CORE_VENV)/bin/python -e .
	touch $@

# keel's main job on embedded defaults: tracked training and comparison, then the
# lifecycle (dataset -> training -> registry -> gated promotion -> rollback -> audit -> lineage)
demo: $(VENV)/.demo-installed
	$(PY) examples/quickstart/train_iris.py
	$(PY) examples/07-registry/registry_demo.py

test: $(VENV)/.test-installed $(CORE_VENV)/.core-installed
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -p no:cacheprovider

lint: $(VENV)/.test-installed
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

bench: $(VENV)/.test-installed
	$(PY) benchmarks/tracking.py

# keel serve vs mlflow models serve vs MLServer (its own venv, made by the script); wrk drives them
bench-serving: $(VENV)/.test-installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) benchmarks/serving.py

# keel server vs an MLflow tracking server (and keel embedded), 1 and 8 clients (~5 minutes)
bench-server: $(VENV)/.test-installed
	$(PY) benchmarks/server.py

clean:
	rm -rf $(VENV) $(CORE_VENV) .keel .pytest_cache .mypy_cache .ruff_cache
