# afterorder: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:10])" 2>/dev/null)

.PHONY: install demo test lint typecheck unit bench bench-import clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 'afterorder needs Python 3.11 or newer')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/afterorder demo

lint: install
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

# Debian's Chromium for the dashboard's browser tests (root only; otherwise those tests say what is missing).
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; fi

test: install lint typecheck chromium
	$(BIN)/pytest -q

bench: install
	@sh bench/install-smtp-tools.sh
	$(BIN)/python bench/run.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/import_orders.py

bench-import: install
	$(BIN)/python bench/import_orders.py

clean:
	rm -rf $(VENV) afterorder-data .pytest_cache .mypy_cache .ruff_cache
