# The two commands of the README (demo, test) and the operator's stack (up).
# Everything installs itself into .venv on first use; nothing is needed but python3 >= 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test up install lint histories chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python starter.py demo

test: $(STAMP)
	$(BIN)/python -m pytest

up: $(STAMP)
	$(BIN)/python starter.py up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict domain

# Fault tests only (worker kill -9, PostgreSQL outages); prints faults, programs, events expected/found,
# lost and duplicated. They also run in `make test`.
chaos: $(STAMP)
	$(BIN)/python -m pytest -q -m faults tests/faults

histories: $(STAMP)
	$(BIN)/python -m tests.histories.record

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
