# Reading Room: one command to run, one to test. Both install what is missing.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Daphne fails a larger WebSocket message with 1009 (reading/sockets.py; the same setting).
WEBSOCKET_MAX_BINARY_BYTES ?= 1048576
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run install frontend chromium test test-fast test-scaleout lint lint-js format bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Python packages (pinned by constraints.txt), editable install of the project.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[ml,dev]"
	touch $@

install: $(VENV)/.installed frontend

# The viewer bundle, built from package.json + package-lock.json when the frontend exists.
frontend:
	@if [ -f frontend/package.json ]; then \
	  if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
	    (cd frontend && npm ci --no-audit --no-fund); fi; \
	  (cd frontend && npm run build --silent); fi

# Debian's Chromium for the browser tests (never a Playwright browser download),
# espeak-ng, which speaks the dictation test's WAV, and DCMTK (storescu, findscu,
# movescu, getscu), the third-party DICOM client of the listener's tests, and nginx +
# openssl, which check the deploy/ configuration (`nginx -t`).
TEST_DEBS := chromium espeak-ng dcmtk nginx-light openssl
chromium:
	@command -v chromium >/dev/null && command -v espeak-ng >/dev/null && command -v findscu >/dev/null \
	  && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } && command -v openssl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(TEST_DEBS); \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(TEST_DEBS); fi; }

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Reading Room on http://$(HOST):$(PORT)/ ; DICOM C-STORE on port $${DICOM_PORT:-11112} (Ctrl-C stops all)"
	@# The supervisor restarts whichever process exits (logged) and stops all on Ctrl-C.
	@$(BIN)/python scripts/supervise.py \
	  "huey=$(BIN)/python manage.py run_huey --quiet" \
	  "dicom=$(BIN)/python manage.py dicom_listener" \
	  "web=$(BIN)/daphne -b $(HOST) -p $(PORT) --websocket-max-message-size $(WEBSOCKET_MAX_BINARY_BYTES) --websocket-max-frame-size $(WEBSOCKET_MAX_BINARY_BYTES) reading.asgi:application"

test: install chromium lint lint-js
	@start=$$(date +%s); $(BIN)/python -m pytest -q -m "not scaleout" $(PYTEST_ARGS); rc=$$?; \
	  echo "embedded pass: $$(( $$(date +%s) - start )) s"; exit $$rc
	$(MAKE) --no-print-directory test-scaleout

# The suite again on PostgreSQL + Redis (both must be running; CI sets
# REQUIRE_SCALEOUT=1). Each run gets its own test database and Redis prefix
# (reading/test_settings.py). The whole suite, the browser tests too: their Daphne
# serves this run's PostgreSQL database and shares its Redis channel layer.
# SCALEOUT_SELECT narrows it (SCALEOUT_SELECT='-m "not browser"' leaves them out).
SCALEOUT_SELECT ?=
test-scaleout: $(VENV)/.installed
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null \
	  && $(BIN)/python -c "import redis; redis.Redis.from_url('$(REDIS_TEST_URL)', socket_connect_timeout=3).ping()" 2>/dev/null; then \
	  start=$$(date +%s); \
	  DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/python -m pytest -q -p no:cacheprovider $(SCALEOUT_SELECT) $(PYTEST_ARGS); rc=$$?; \
	  echo "PostgreSQL + Redis pass: $$(( $$(date +%s) - start )) s"; exit $$rc; \
	elif [ "$$REQUIRE_SCALEOUT" = 1 ]; then echo "PostgreSQL/Redis not reachable but REQUIRE_SCALEOUT=1" >&2; exit 1; \
	else echo "PostgreSQL or Redis not reachable: scale-out tests not run"; fi

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not browser and not slow"

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The viewer's JavaScript: ESLint, and TypeScript's checker over the JSDoc types (no output).
lint-js: frontend
	cd frontend && npm run --silent lint && npm run --silent typecheck

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf data staticfiles static/viewer
