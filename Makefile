# One entry point for people and CI. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)
	$(PY) manage.py compiletranslations  # .po -> .mo, pure Python: no gettext needed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver

lint: install
	$(PY) -m ruff check henaserver playground tests bench
	$(PY) -m mypy henaserver

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py
	$(PY) bench/sandbox_start.py
	$(PY) bench/live_latency.py
	$(PY) bench/flood.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
