# voxfarm: two commands on a fresh machine.
#   make demo   create .venv, install, start the embedded stack, render a sample, stop it
#   make test   create .venv, install with test extras, run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# -qq: pip >= 26.3 forwards the build backend's notices (setuptools' "Editable installation ...
# folders with the same name as your package" for this flat layout) at warning level; errors
# still print, and a newcomer's first run stays quiet
PIP    := $(BIN)/python -m pip
PIPQ   := $(PIP) install -qq

.PHONY: demo test test-faults bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIPQ) --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(PIPQ) -e ".[api,worker]"
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIPQ) -e ".[all,test]"
	touch $(VENV)/.base $@

demo: $(VENV)/.base
	$(BIN)/python scripts/demo.py

test: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-faults: $(VENV)/.test
	$(BIN)/python -m pytest -q -m faults tests/faults

clean:
	rm -rf $(VENV) var out .pytest_cache
