"""``python -m scenarios.aggregate``: the aggregation lives in :mod:`scenarios.sweep.aggregate`."""

from scenarios.sweep.aggregate import main

if __name__ == "__main__":
    raise SystemExit(main())
