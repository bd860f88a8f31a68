# LabLens: `make run` opens the app, `make test` runs the whole suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint demo-models screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/benchmarks -s -q -p no:randomly

lint: $(STAMP)
	$(PY) -m ruff check .

# Rebuild the bundled demo models from freshly generated sample data (see README).
demo-models: $(STAMP)
	$(PY) -m app.demo_models

screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m app.screenshots docs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
