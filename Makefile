# The README's two commands: `make demo` and `make test`. Each installs what it needs:
# a virtual environment with this package, configurable-http-proxy from npm, and (for the
# tests) Debian's chromium, prometheus, postgresql and poppler-utils.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_JH5 := .venv-jupyterhub5
NODE_PREFIX := .cache/node
APT_PACKAGES := chromium prometheus postgresql prometheus-alertmanager poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

#: The two test runs of `make test` (a test of the Makefile replaces them).
PYTEST ?= $(VENV)/bin/pytest
PYTEST_JH5 ?= $(VENV_JH5)/bin/pytest

export PATH := $(CURDIR)/$(NODE_PREFIX)/node_modules/.bin:$(PATH)

.DEFAULT_GOAL := demo
.PHONY: help demo test test-fast test-jupyterhub5 lint system-packages proxy

# `make help` lists the targets with a `## ` description.
help: ## List the targets
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-18s %s\n", $$1, $$2}'

demo: $(VENV)/.installed proxy ## Run the demo hub with the service (http://127.0.0.1:8000, admin / demo)
	$(VENV)/bin/python demo/run.py

# Both runs happen even when the first fails; the target fails if either did.
test: $(VENV)/.installed proxy system-packages lint ## Lint, the whole suite, then the smoke test on JupyterHub 5 (CI runs this)
	@main=0; jupyterhub5=0; \
	$(PYTEST) -ra || main=$$?; \
	$(MAKE) --no-print-directory test-jupyterhub5 || jupyterhub5=$$?; \
	if [ $$main -ne 0 ] || [ $$jupyterhub5 -ne 0 ]; then \
		echo "make test failed: the suite exited $$main, the JupyterHub 5 run $$jupyterhub5"; \
		exit 1; \
	fi

test-fast: $(VENV)/.installed ## The tests that start no process and no server (no hub, browser, database server)
	$(VENV)/bin/pytest -q -m "not integration" -p no:cacheprovider

test-jupyterhub5: $(VENV_JH5)/.installed proxy ## The smoke test again on the newest JupyterHub 5.x
	$(PYTEST_JH5) -ra -m smoke -p no:cacheprovider tests/service/test_service_hub.py

# ruff, mypy and the layering contracts (pyproject.toml's [tool.importlinter])
lint: $(VENV)/.installed ## ruff, mypy and the layering contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

$(VENV_JH5)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_JH5)
	$(VENV_JH5)/bin/pip install --quiet --upgrade pip
	$(VENV_JH5)/bin/pip install --quiet -e ".[test]" "jupyterhub>=5,<6"
	touch $@

proxy: $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy ## Install configurable-http-proxy from npm (.cache/node)

$(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy:
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --loglevel=error \
		configurable-http-proxy@5

system-packages: ## Install the Debian packages the tests use (chromium, prometheus, postgresql, ...)
	@missing=""; for package in $(APT_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
