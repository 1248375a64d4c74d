# Fengshan EWS. `make demo` and `make test` work on a fresh Debian 12 / Raspberry Pi OS machine as root.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mosquitto mosquitto-clients influxdb socat espeak-ng fonts-noto-cjk sox
APT_PACKAGES += shellcheck
# pdftotext/pdfinfo: the report test reads the PDF's text layer back
APT_PACKAGES += poppler-utils
PYTEST_ARGS ?=

.PHONY: demo test lint bench deps venv clean

deps: ## Debian packages the hub, the demo and the tests run (installed only when missing)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Debian starts these as system services on install; the project runs its own instances.
	@-systemctl disable --now mosquitto influxdb >/dev/null 2>&1 || true

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,dev]"
	touch $@

venv: $(VENV)/.installed

demo: deps venv ## play a compressed typhoon storm over three Fengshan hazard points
	$(VENV)/bin/ews demo

test: deps venv ## the whole test suite against real mosquitto, influxd and pseudo-terminals
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy edge hub ews bench

bench: deps venv
	$(PY) -m bench.engine

bench-e2e: deps venv ## end to end through mosquitto, the hub and influxd, beside Node-RED (npm: /tmp/ews-nodered)
	$(PY) -m bench.e2e

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
