# The README's commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: demo test lint format migrations-check apicheck ci bench clean loadtest faultcheck audit

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

## make demo: install, migrate, seed the demo school, train the first model, run the web server and a Celery worker
demo: $(VENV)/.runtime
	$(PY) manage.py migrate --no-input
	$(PY) manage.py demo_seed
	$(PY) manage.py metatrain --if-none
	$(PY) manage.py demo_run --port $(PORT)

## make test: the whole suite (learner-model core first, without Django)
test: $(VENV)/.dev
	@if [ -d tests/learner_models/core ]; then \
		$(PY) -m pytest -p no:django -p no:cacheprovider -W ignore::pytest.PytestConfigWarning tests/learner_models/core -q; fi
	$(PY) -m pytest --ignore=tests/learner_models/core -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make apicheck: schemathesis over the REST API's whole schema against a seeded dev server (several minutes)
apicheck: $(VENV)/.dev
	PY=$(PY) SCHEMATHESIS=$(VENV)/bin/schemathesis scripts/apicheck.sh

migrations-check: $(VENV)/.runtime
	$(PY) manage.py makemigrations --check --dry-run

ci:
	bash .ci/run

## make loadtest: locust against gunicorn + PostgreSQL + Redis + Celery on loopback (docs/operations.md, "Load test")
USERS ?= 200
DURATION ?= 10m
loadtest: $(VENV)/.dev
	USERS=$(USERS) DURATION=$(DURATION) PY=$(PY) bash scripts/loadtest/run.sh

## make faultcheck: SIGKILL the database, then the Celery worker and broker mid-training, under load, on private
## PostgreSQL and Redis servers; checks no acknowledged answer is lost and the run completes once (docs/operations.md)
FAULT_ARGS ?=
faultcheck: $(VENV)/.dev
	$(PY) scripts/faultcheck/faultcheck.py $(FAULT_ARGS)

## make audit: known vulnerabilities in the pinned runtime dependencies (docs/operations.md, "Dependency audit")
audit: $(VENV)/.dev
	$(VENV)/bin/pip-audit --requirement requirements.txt --no-deps --disable-pip --progress-spinner off

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
