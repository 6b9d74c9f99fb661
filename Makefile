# One entry point for people and CI. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test test-any-order screenshots lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)
	$(PY) manage.py compiletranslations  # .po -> .mo, pure Python: no gettext needed

# The literal path itself: runserver migrates SQLite (and compiles any stale .mo) as it
# starts (playground/startup.py), so nothing else runs first.
run: install
	$(PY) manage.py runserver

lint: install
	$(PY) -m ruff check henaserver playground tests bench
	$(PY) -m mypy henaserver

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The whole suite again, last test first (pytest-reverse): a test that passes only
# because another ran before it (a setting, a module global, a process or a row left
# behind) fails here. CI runs it after `make test`.
test-any-order: install
	$(PY) -m pytest --reverse $(PYTEST_ARGS)

# Refresh the README's pictures, docs/img/*.png: the browser tests that take them, told
# to save there (every other run saves to build/screenshots/, which git ignores).
screenshots: install
	PLAYGROUND_SCREENSHOTS=docs $(PY) -m pytest -m screenshots tests/e2e $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py
	$(PY) bench/parse_cost.py
	$(PY) bench/sandbox_start.py
	$(PY) bench/live_latency.py
	$(PY) bench/live_latency_redis.py  # needs redis-server and PostgreSQL (docs/deploy.md)
	$(PY) bench/flood.py
	$(PY) bench/upload_memory.py
	$(PY) bench/slow_clients.py
	$(PY) bench/out_of_descriptors.py
	$(PY) bench/capture_memory.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build
