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

# The npm tools the browser tests use (axe-core, the accessibility audit), exactly as
# package-lock.json pins them; never served to learners.
NPM_STAMP := node_modules/.installed
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)
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

# Every benchmark runs even when one misses its goal (it exits non-zero and says which);
# the target fails at the end, naming them. live_latency_redis needs redis-server and
# PostgreSQL (docs/deploy.md).
BENCHES := run_all parse_cost sandbox_start live_latency live_latency_redis flood \
           upload_memory slow_clients out_of_descriptors capture_memory

bench: install
	@missed=""; for name in $(BENCHES); do \
	  echo "== bench/$$name.py"; $(PY) bench/$$name.py || missed="$$missed $$name"; \
	done; \
	if [ -n "$$missed" ]; then echo "bench: goals missed or failed in:$$missed"; exit 1; fi

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache build
