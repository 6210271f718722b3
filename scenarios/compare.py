"""``python -m scenarios.compare``: the comparison lives in :mod:`scenarios.sweep.compare`."""

from scenarios.sweep.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
