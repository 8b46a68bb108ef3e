# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench docs clean venv

venv: $(STAMP)

# The venv holds the pinned test tools and the project itself, installed editable,
# so the `cog-auth-s3` command on its PATH runs this checkout's cog_auth_s3.py.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "==> Building $(VENV): the pinned requirements-dev.txt and this project (editable); about a minute the first time"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@echo "==> $(VENV) is ready"
	touch $(STAMP)

# The README's walk-through, every command as written, in a fresh copy of this checkout against
# a fresh local_aws: it fails on the first command that fails.
demo: $(STAMP)
	$(PY) scripts/walkthrough.py

# Two workers per core, at least 4: many tests wait out the tool's own bounded waits (10 s locks, Cognito
# timeouts), and a second worker per core runs meanwhile (on 2 cores: 6.8 min instead of 11.6). Whole files per
# worker (--dist loadfile), so each module's own deployments and local_aws are built once; every worker starts
# a shared local_aws of its own.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(4, 2 * (os.cpu_count() or 1)))")
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 tests

bench: $(STAMP)
	$(PY) bench/run.py

# Refresh every output shown in README.md and docs/ from one real run against local_aws.
docs: $(STAMP)
	$(PY) scripts/docs_examples.py

clean:
	rm -rf $(VENV) walk .pytest_cache *.egg-info build
