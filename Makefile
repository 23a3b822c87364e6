# make run: the app on http://127.0.0.1:8000 with an SQLite database (a demo login on first run).
# make test: the whole suite (SQLite; PostgreSQL when DATABASE_URL points at one).
# make bench: the reconciler's API requests, and the Registries section against the admin
#   (gunicorn and PostgreSQL; BENCH_DATABASE_URL names the database it recreates).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint bench venv dev-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

dev-venv: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

run: venv
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py bootstrap_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver 127.0.0.1:8000

test: dev-venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: dev-venv
	$(BIN)/python benchmarks/reconcile_requests.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/delivery_poll.py
	$(BIN)/python benchmarks/registries_page.py
	$(BIN)/python benchmarks/pullhealth_pass.py
