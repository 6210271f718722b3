# Two entry points for a fresh machine: `make run` (baseline scenario) and `make test`.
# Both create a python3.12 virtual environment in .venv on first use.
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,ray,slurm,sensitivity

.PHONY: run test lint bench clean-venv

$(VENV)/.installed: pyproject.toml
	@if python3.12 --version >/dev/null 2>&1; then py=python3.12; \
	else v=$$(pyenv versions --bare 2>/dev/null | grep '^3\.12' | tail -1); \
	     if [ -n "$$v" ]; then py="env PYENV_VERSION=$$v python3.12"; \
	     else echo "python3.12 not found: install Python 3.12 (Mesa 3.5 needs it)" >&2; exit 1; fi; fi; \
	$$py -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

run: $(VENV)/.installed  ## the baseline scenario, tables and plots in outputs/runs/
	$(VENV)/bin/lendsim $(ARGS)

test: $(VENV)/.installed  ## the whole test suite
	$(PY) -m pytest $(ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

bench: $(VENV)/.installed  ## speed and memory figures, see README "How big a run can be"
	$(PY) benchmarks/run_benchmark.py $(ARGS)

clean-venv:
	rm -rf $(VENV)
