# Two entry points for a fresh machine: `make run` (baseline scenario) and `make test`.
# Both create a python3.12 virtual environment in .venv on first use: `make run`
# installs the runtime dependencies only, `make test` adds every extra the tests use.
# Modules are byte-compiled on first import, not at install (--no-compile: half the install time).
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,notebook,ray,slurm,sensitivity,analysis

.PHONY: run test lint bench explore clean-venv

$(VENV)/.created:
	@if python3.12 --version >/dev/null 2>&1; then py=python3.12; \
	else v=$$(pyenv versions --bare 2>/dev/null | grep '^3\.12' | tail -1); \
	     if [ -n "$$v" ]; then py="env PYENV_VERSION=$$v python3.12"; \
	     else echo "python3.12 not found: install Python 3.12 (Mesa 3.5 needs it)" >&2; exit 1; fi; fi; \
	$$py -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed-runtime: pyproject.toml $(VENV)/.created  ## the model, its tables and plots
	$(PY) -m pip install --quiet --no-compile -e .
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created  ## everything the test suite needs
	$(PY) -m pip install --quiet --no-compile -e '.[$(EXTRAS)]'
	touch $@ $(VENV)/.installed-runtime

run: $(VENV)/.installed-runtime  ## the baseline scenario, tables and plots in outputs/runs/
	$(VENV)/bin/lendsim $(ARGS)

test: $(VENV)/.installed  ## the whole test suite
	$(PY) -m pytest $(ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

bench: $(VENV)/.installed-runtime  ## speed and memory figures, see README "How big a run can be"
	$(PY) benchmarks/run_benchmark.py $(ARGS)

explore: $(VENV)/.installed-runtime  ## the explorer in the browser, http://localhost:8765
	$(VENV)/bin/lendsim-explore $(ARGS)

clean-venv:
	rm -rf $(VENV)
