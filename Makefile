# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test unit lint bench reliability reliability-long clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null; } || \
	  { echo "make: install python3-venv (apt-get install python3-venv) and run again" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# Starts the local cs and ko wikis and the Conduit sandbox, runs one status-sync cycle
# with config/demo.yaml, prints the URLs to open in a browser and the table it wrote.
# Ports 8470-8472 when free, else free ones; or set AMBASSADOR_DEMO_CONDUIT_PORT,
# AMBASSADOR_DEMO_CS_PORT, AMBASSADOR_DEMO_KO_PORT. `make demo DEMO_ARGS=--serve` keeps them up.
demo: $(STAMP)
	$(PY) -m sandbox.demo $(DEMO_ARGS)

# Everything: import layering, unit, contract and end-to-end tests (the suite starts
# MediaWiki and the Conduit sandbox itself).
test: $(STAMP) lint
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit tests/contract

lint: $(STAMP)
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

# Fault, crash and concurrency campaigns against the local servers (fixed seeds).
reliability: $(STAMP)
	$(PY) -m tests.reliability

# The same campaigns scaled up (at least 100 SIGKILLs per job, 20 % faults; fixed seeds, under an hour).
reliability-long: $(STAMP)
	$(PY) -m tests.reliability --long
