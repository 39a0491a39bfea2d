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

export PATH := $(CURDIR)/$(NODE_PREFIX)/node_modules/.bin:$(PATH)

.PHONY: demo test test-fast test-jupyterhub5 lint system-packages proxy

demo: $(VENV)/.installed proxy
	$(VENV)/bin/python demo/run.py

test: $(VENV)/.installed proxy system-packages lint
	$(VENV)/bin/pytest -ra
	$(MAKE) test-jupyterhub5

# The tests that need no real component (hub, proxy, browser, Prometheus, PostgreSQL).
test-fast: $(VENV)/.installed
	$(VENV)/bin/pytest -q -m "not integration" -p no:cacheprovider

# The smoke test again on the newest JupyterHub 5.x.
test-jupyterhub5: $(VENV_JH5)/.installed proxy
	$(VENV_JH5)/bin/pytest -ra -m smoke -p no:cacheprovider tests/service/test_service_hub.py

# ruff, mypy and the layering contracts (pyproject.toml's [tool.importlinter])
lint: $(VENV)/.installed
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

proxy: $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy

$(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy:
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --loglevel=error \
		configurable-http-proxy@5

system-packages:
	@missing=""; for package in $(APT_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
