"""One long table across a sweep's jobs, written at the end of every multirun.

When a multirun ends (whatever the launcher), the Hydra callback
:class:`scenarios.sweep.callback.SweepAggregator` (registered in
``conf/hydra/default.yaml``) calls :func:`aggregate`, which reads every job
directory and writes into the sweep directory

* ``sweep_yearly.parquet`` and ``sweep_yearly.csv``: one row per complete job
  and year: ``job``, the overridden parameters (one column each), ``scenario``,
  ``seed``, ``year`` and every column of the job's ``market_yearly.csv``;
* ``sweep_lenders.parquet``: the same for ``lenders_yearly.csv``;
* ``sweep_monthly.parquet``: the same for ``market_monthly``, one row per
  complete job and month, the parameters as columns;
* ``sweep_jobs.csv``: one row per job with its status;
* ``failed.csv``: each job that is not complete (failed, interrupted, still
  running after a kill, or never started) with its error;

then, unless ``compare: false``, the callback writes the comparison of
:mod:`scenarios.sweep.compare`. Rows are ordered by job number, then year (then
lender), and job numbers come from the sweeper, so the tables are
byte-identical whichever launcher ran the jobs.

The aggregate files are written as a set (:func:`publish_aggregates`): the
previous set is removed first, the new one is written into a staging
directory and moved into place only when every file is written, and
``aggregate.json`` lists them with their SHA-256. An aggregation that fails
leaves no aggregate file at all, never stale ones beside fresh ones.

Re-aggregate by hand: ``python -m scenarios.sweep.aggregate SWEEP_DIR`` (or
``python -m scenarios.aggregate SWEEP_DIR``).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.sweep.io import JobRecord, collect_sweep, convert, parameters
from sim.output.atomic import write_csv, write_json, write_parquet
from sim.output.files import checksums, clear_outputs, publish, staging, withdraw

log = logging.getLogger(__name__)

ID_COLUMNS = ("job", "scenario", "seed")
MANIFEST = "aggregate.json"
AGGREGATE_FILES = (
    "sweep_yearly.parquet",
    "sweep_yearly.csv",
    "sweep_lenders.parquet",
    "sweep_monthly.parquet",
    "sweep_jobs.csv",
    "failed.csv",
    "comparison.csv",
    "comparison_yearly.csv",
    "exceedance.csv",
    "summary.md",
    "concentration.png",
    "type_shares.png",
    "dose_response.png",
    "heatmap.png",
)
"""Every file aggregation and comparison can write into a sweep directory."""


def parameter_columns(records: Sequence[JobRecord]) -> list[str]:
    """Every parameter any job overrides (``seed`` excepted), in order of first appearance."""
    keys: dict[str, None] = {}
    for record in records:
        for key in parameters(record.overrides):
            if key not in ("seed", *ID_COLUMNS):
                keys.setdefault(key, None)
    return list(keys)


def _column(raw: list[str | None]) -> pd.Series:
    """Override values of one parameter: numbers if every value reads as one, else strings."""
    values = [None if v is None else convert(v) for v in raw]
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return pd.Series(values, dtype="int64")
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, int | float) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series([None if v is None else str(v) for v in values], dtype="object")


def jobs_table(records: Sequence[JobRecord]) -> pd.DataFrame:
    """One row per job: number, parameters, scenario, seed, status, error, directory name."""
    keys = parameter_columns(records)
    data: dict[str, Any] = {"job": pd.Series([r.job for r in records], dtype="int64")}
    for key in keys:
        data[key] = _column([parameters(r.overrides).get(key) for r in records])
    data["scenario"] = pd.Series([r.scenario for r in records], dtype="object")
    data["seed"] = pd.Series([r.seed for r in records], dtype="Int64")
    data["status"] = [r.status for r in records]
    data["error"] = [r.error for r in records]
    data["config_hash"] = pd.Series([r.config_hash for r in records], dtype="object")
    data["directory"] = [r.directory.name if r.directory is not None else "" for r in records]
    return pd.DataFrame(data).sort_values("job", kind="stable").reset_index(drop=True)


def _long(records: Sequence[JobRecord], jobs: pd.DataFrame, attr: str, order: list[str]):
    """Stack one table of every complete job, with the job's identifying columns in front."""
    id_columns = [
        c for c in jobs.columns if c not in ("status", "error", "config_hash", "directory")
    ]
    frames = []
    by_job = jobs.set_index("job", drop=False)
    for record in sorted(records, key=lambda r: r.job):
        table = getattr(record, attr)
        if record.status != "complete" or table is None:
            continue
        ident = by_job.loc[[record.job] * len(table), id_columns].reset_index(drop=True)
        frames.append(pd.concat([ident, table.reset_index(drop=True)], axis=1))
    if not frames:
        return pd.DataFrame(columns=id_columns)
    out = pd.concat(frames, ignore_index=True)
    sort_by = ["job", *[c for c in order if c in out.columns]]
    return out.sort_values(sort_by, kind="stable").reset_index(drop=True)


def combine(records: Sequence[JobRecord]) -> dict[str, pd.DataFrame]:
    """The sweep's tables from its jobs (pure: no files read or written).

    Returns:
        ``yearly`` (every market_yearly row), ``lenders`` (every lenders_yearly
        row), ``monthly`` (every market_monthly row, empty unless the records
        hold them), ``jobs`` (one row per job) and ``failed`` (jobs not complete).
    """
    jobs = jobs_table(records)
    failed = jobs.loc[jobs["status"] != "complete"].drop(columns=["config_hash"])
    return {
        "yearly": _long(records, jobs, "yearly", ["year"]),
        "lenders": _long(records, jobs, "lenders", ["year", "lender_id"]),
        "monthly": _long(records, jobs, "monthly", ["month"]),
        "jobs": jobs,
        "failed": failed.reset_index(drop=True),
    }


def write_tables(tables: dict[str, pd.DataFrame], sweep_dir: Path) -> list[Path]:
    """Write the sweep's tables into ``sweep_dir`` atomically; return the paths."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_parquet(tables["yearly"], sweep_dir / "sweep_yearly.parquet"),
        write_csv(tables["yearly"], sweep_dir / "sweep_yearly.csv"),
        write_parquet(tables["lenders"], sweep_dir / "sweep_lenders.parquet"),
        write_parquet(tables["monthly"], sweep_dir / "sweep_monthly.parquet"),
        write_csv(tables["jobs"], sweep_dir / "sweep_jobs.csv"),
        write_csv(tables["failed"], sweep_dir / "failed.csv"),
    ]


def publish_aggregates(sweep_dir: Path, write: Callable[[Path], list[Path]]) -> list[str]:
    """Replace the sweep's aggregate files by those ``write(staging_dir)`` writes, as a set.

    Returns:
        The names published, in the order written.
    """
    sweep_dir = Path(sweep_dir)
    listed = _manifest_files(sweep_dir)
    clear_outputs(sweep_dir, [MANIFEST, *AGGREGATE_FILES, *listed])
    moved: list[str] = []
    try:
        with staging(sweep_dir) as staged:
            names = list(dict.fromkeys(path.name for path in write(staged)))
            sums = checksums(staged, names)
            publish(staged, sweep_dir, names, moved)
        write_json({"files": names, "checksums": sums}, sweep_dir / MANIFEST)
    except BaseException:
        withdraw(sweep_dir, moved)
        raise
    return names


def _manifest_files(sweep_dir: Path) -> list[str]:
    """The files the last published set listed."""
    try:
        files = json.loads((sweep_dir / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(f) for f in files if isinstance(f, str) and "/" not in f]


def aggregate(
    sweep_dir: Path, expected: list[list[str]] | None = None, out_dir: Path | None = None
) -> dict[str, pd.DataFrame]:
    """Read the sweep in ``sweep_dir``, write its tables into ``out_dir`` (default: there)."""
    records = collect_sweep(Path(sweep_dir), expected, monthly=True)
    tables = combine(records)
    write_tables(tables, Path(out_dir) if out_dir is not None else Path(sweep_dir))
    n_failed = len(tables["failed"])
    log.info(
        "Aggregated %d jobs (%d complete, %d not) into %s",
        len(records),
        len(records) - n_failed,
        n_failed,
        sweep_dir,
    )
    for row in tables["failed"].itertuples():
        log.warning("job %d %s: %s", row.job, row.status, row.error)
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m scenarios.sweep.aggregate SWEEP_DIR [...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for sweep_dir in args.sweep_dirs:
        out: dict[str, dict[str, pd.DataFrame]] = {}

        def write(staged: Path, sweep_dir: Path = sweep_dir, out: dict = out) -> list[Path]:
            out["tables"] = aggregate(sweep_dir, out_dir=staged)
            return sorted(staged.iterdir())

        publish_aggregates(sweep_dir, write)
        tables = out["tables"]
        print(f"{sweep_dir}: {len(tables['jobs'])} jobs, {len(tables['failed'])} not complete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
