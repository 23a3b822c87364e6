# make run: the app on http://127.0.0.1:8000 with an SQLite database (a demo login on first run),
#   its web server, task worker and reconciler started together from the Procfile (Ctrl-C stops them).
# make serve: the production configuration locally (gunicorn, collected static files, worker and
#   reconciler) on http://127.0.0.1:$PORT (default 8000).
# make test: the whole suite (SQLite; PostgreSQL when DATABASE_URL points at one).
# make bench: the reconciler's API requests, and the Registries section against the admin
#   (gunicorn and PostgreSQL; BENCH_DATABASE_URL names the database it recreates).
# make fuzz: the property tests of create, edit and Test connection with 2,000 inputs each
#   (8,000 in all); any answer but a page, a field error or a 404 fails it.
# make lock: regenerate requirements.lock and requirements-dev.lock (every dependency, direct and
#   transitive, pinned with hashes) from requirements.txt and requirements-dev.txt.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

PORT ?= 8000
export PORT
# The Procfile's commands (python, gunicorn) come from the virtualenv; JSON logs stay one object a line.
PROCESSES := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start $(if $(filter json,$(LOG_FORMAT)),--no-prefix)

.PHONY: run serve test lint bench fuzz venv dev-venv lock

# The lock's resolver, pinned so that every `make lock` resolves the same way.
UV_VERSION := 0.13.9
LOCK_PYTHON := 3.11

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs only what the locks name, each file checked against its hash. A lock names every
# dependency already (resolved with requirements-overrides.txt), so pip resolves nothing itself.
venv: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock

dev-venv: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock

lock: $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
		--override requirements-overrides.txt --custom-compile-command "make lock" \
		requirements.txt -o requirements.lock
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
		--override requirements-overrides.txt --custom-compile-command "make lock" \
		requirements-dev.txt -o requirements-dev.lock

run: venv
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py bootstrap_demo
	DEBUG=$${DEBUG:-true} GUNICORN_BIND=127.0.0.1:$(PORT) GUNICORN_WORKERS=1 GUNICORN_RELOAD=true \
		$(PROCESSES) web worker reconciler

# Production settings, except plain HTTP on 127.0.0.1; keys are generated once into .serve/env.
serve: venv .serve/env
	set -a && . ./.serve/env && set +a && \
	export DEBUG=false STATIC_MANIFEST=true SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false \
		CSRF_COOKIE_SECURE=false SECURE_HSTS_SECONDS=0 ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
		HEARTBEAT_DIR="$(CURDIR)/.serve/heartbeat" GUNICORN_BIND="127.0.0.1:$(PORT)" && \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0 && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py bootstrap_demo && \
	$(PROCESSES)

.serve/env:
	mkdir -p .serve
	printf 'SECRET_KEY="$${SECRET_KEY:-%s}"\nCRYPTOGRAPHY_KEY="$${CRYPTOGRAPHY_KEY:-%s}"\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@

test: dev-venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz: dev-venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -p no:cacheprovider tests/test_properties.py \
		--hypothesis-show-statistics $(PYTEST_ARGS)

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: dev-venv
	$(BIN)/python benchmarks/reconcile_requests.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/delivery_poll.py
	$(BIN)/python benchmarks/registries_page.py
	$(BIN)/python benchmarks/pullhealth_pass.py
