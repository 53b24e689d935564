# afterorder: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:10])" 2>/dev/null)

.PHONY: install demo test lint typecheck unit bench bench-import clean test-deps amp-validator fuzz

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

# First the Debian packages the tests need (scripts/test-deps.sh: installs them as root, else stops
# naming them), the AMP validator from npm (scripts/amp-validator.sh, into .cache/node), then the
# Python; every skip's reason is in pytest's summary (-rfEs in pyproject.toml).
test: test-deps amp-validator install lint typecheck
	$(BIN)/pytest -q

# The API sweep and the webhook property tests at length: random (not the seeded CI run), many more
# examples per operation; FUZZ_EXAMPLES=N to change how many.
FUZZ_EXAMPLES ?= 300
fuzz: install
	AFTERORDER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AFTERORDER_FUZZ_RANDOM=1 $(BIN)/pytest -q -p no:cacheprovider \
		tests/e2e/test_api_sweep.py tests/integration/test_webhook_properties.py

test-deps:
	@bash scripts/test-deps.sh

amp-validator: test-deps
	@bash scripts/amp-validator.sh

bench: install
	@sh bench/install-smtp-tools.sh
	$(BIN)/python bench/run.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/import_orders.py

bench-import: install
	$(BIN)/python bench/import_orders.py

clean:
	rm -rf $(VENV) afterorder-data .cache .pytest_cache .mypy_cache .ruff_cache
