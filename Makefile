# Harmony: `make run` starts the demo school at http://127.0.0.1:8000, `make test` runs every test.
PYTHON := $(shell ./scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test install install-dev lint format migrations-check deploy-check bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No Python 3.12+ found."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt -e ./client
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	PY=$(BIN)/python HOST=$(HOST) ./scripts/run-dev

test: install-dev
	@./scripts/ensure-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

# `check --deploy` under production settings, with throwaway secrets that only this check sees.
deploy-check: install
	HARMONY_ENVIRONMENT=production DEBUG=false ALLOWED_HOSTS=harmony.example \
	SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	FIELD_ENCRYPTION_KEYS=ci:$$($(BIN)/python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())') \
	BLIND_INDEX_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))') \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} EMAIL_URL=smtp+tls://harmony:secret@mail.harmony.example:587 \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
