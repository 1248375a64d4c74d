# Fengshan EWS. `make demo` and `make test` work on a fresh Debian 12 / Raspberry Pi OS machine as root.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mosquitto mosquitto-clients influxdb socat espeak-ng fonts-noto-cjk sox
# python3 -m venv needs ensurepip, which Debian ships apart from python3 (python3-venv)
APT_PACKAGES += python3-venv
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

# Native (mypyc) rule engine, compiled in place when a hub/rules source changes; see docs/performance.md.
# A failed build (no C compiler or headers: make deps installs them) only warns and leaves the pure-Python
# engine, which gives the same alerts, slower, so `make test` and `make demo` still run. NATIVE=0 skips it.
# The hub checks at import that the build matches the sources and otherwise runs the .py files.
APT_PACKAGES += gcc python3-dev
NATIVE ?= 1
NATIVE_MANIFEST := hub/rules/_native_build.json
.PHONY: native native-clean
native: venv ## compile the rule engine with mypyc (about a minute; only when its sources changed)
ifneq ($(NATIVE),0)
native: $(NATIVE_MANIFEST)
endif
$(NATIVE_MANIFEST): $(wildcard hub/rules/*.py) edge/wire.py ews/nativebuild.py | venv
	@$(PY) -m ews.cli native build || echo "make: native engine not built; the pure-Python engine runs (same alerts, slower)"
test demo bench bench-e2e: native
native-clean: ## remove the compiled engine; the pure-Python engine runs
	rm -rf hub/rules/*.so hub/rules/$(notdir $(NATIVE_MANIFEST)) build/native
clean: native-clean
