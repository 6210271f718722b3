"""The Python API: one run or a whole sweep from a script or a notebook.

    from sim import api

    base = api.run(seed=1, n_borrowers=20_000)                  # the baseline, in memory
    tight = api.run(scenario="tightening", seed=1, n_borrowers=20_000)
    base.market_yearly[["year", "hhi", "avg_rate"]]             # a pandas DataFrame
    api.run("regulation.rate_cap_apr=0.18", out_dir="outputs/api/cap18")  # files too

    sweep = api.sweep(params={"regulation.rate_cap_apr": [0.12, 0.24]}, seeds=range(3),
                      n_borrowers=20_000, launcher="joblib")
    sweep.yearly.groupby(["regulation.rate_cap_apr", "year"])["hhi"].mean()

Every override is written as on the command line (``key=value``, Hydra's
syntax), so whatever ``lendsim`` accepts, :func:`run` and :func:`sweep` accept.
A config that breaks a rule raises :class:`sim.validation.ConfigError` (its
``problems`` list every one) before any work starts. :func:`run` simulates in
this process; :func:`sweep` runs ``python -m sim`` as a multirun in a child
process (any launcher, the same aggregation, resume and comparison as the
command line) and reads the sweep's tables back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import OmegaConf

from sim.config import SimConfig
from sim.output.atomic import atomic_write_text
from sim.output.progress import ProgressFn
from sim.output.result import config_hash
from sim.run import lever_changes, run_simulation, simulate
from sim.validation import compose

__all__ = ["RunResult", "SweepResult", "run", "sweep"]


@dataclass
class RunResult:
    """One run: its tables, the configuration it ran and, if written, its files.

    Attributes:
        tables: Every table by name (``market_yearly``, ``market_monthly``,
            ``lenders_yearly``, ``types_yearly``, ``regulation_monthly``).
        config: The validated configuration (:class:`sim.config.SimConfig`).
        config_hash: The short hash ``result.json`` and sweeps use to identify it.
        overrides: The overrides it was composed from.
        lever_changes: The dated lever changes applied (month, lever, from, to).
        out_dir: The run directory, or None when nothing was written.
        paths: Each file written, by name (empty when nothing was written).
    """

    tables: dict[str, pd.DataFrame]
    config: SimConfig
    config_hash: str
    overrides: list[str]
    lever_changes: list[dict[str, Any]]
    out_dir: Path | None = None
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        """A table by name: ``result["lenders_yearly"]``."""
        return self.tables[name]

    @property
    def market_yearly(self) -> pd.DataFrame:
        """One row per year: lending, shares, concentration, rates, exits."""
        return self.tables["market_yearly"]

    @property
    def market_monthly(self) -> pd.DataFrame:
        """One row per month, the same columns as ``market_yearly`` by month."""
        return self.tables["market_monthly"]

    @property
    def lenders_yearly(self) -> pd.DataFrame:
        """One row per lender and year."""
        return self.tables["lenders_yearly"]

    @property
    def types_yearly(self) -> pd.DataFrame:
        """One row per lender type and year."""
        return self.tables["types_yearly"]

    @property
    def regulation_monthly(self) -> pd.DataFrame:
        """One row per month: every lever in force."""
        return self.tables["regulation_monthly"]


def _overrides(
    overrides: Iterable[str], scenario: str | None, seed: int | None, n_borrowers: int | None
) -> list[str]:
    """The command-line overrides of a call, its keyword shortcuts first."""
    out = [] if scenario is None else [f"scenario={scenario}"]
    out += [] if seed is None else [f"seed={seed}"]
    out += [] if n_borrowers is None else [f"market.n_borrowers={n_borrowers}"]
    return out + [str(o) for o in overrides]


def run(
    *overrides: str,
    scenario: str | None = None,
    seed: int | None = None,
    n_borrowers: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    on_month: ProgressFn | None = None,
) -> RunResult:
    """Run one simulation; return its tables and configuration.

    Args:
        *overrides: Hydra overrides as on the command line
            (``"regulation.rate_cap_apr=0.18"``,
            ``'regulation.timeline=[{date: "2027-01", rate_cap_apr: 0.10}]'``).
        scenario: A scenario of ``conf/scenario/`` (default ``baseline``).
        seed: The seed (default 0).
        n_borrowers: Simulated borrowers (default ``market.n_borrowers``, 100,000).
        out_dir: Write the run directory here (tables as CSV and Parquet, plots
            unless ``plots=false``, ``result.json``, the resolved config and the
            overrides in ``.hydra/``); by default nothing is written.
        progress: Draw the progress bar by month (on a terminal only).
        on_month: Called as ``on_month(done, total, month)`` after every simulated
            month; an exception it raises stops the run there.

    Raises:
        sim.validation.ConfigError: The configuration breaks a rule (before any work).
    """
    texts = _overrides(overrides, scenario, seed, n_borrowers)
    cfg = compose(*texts)
    if out_dir is None:
        tables = simulate(cfg, progress=progress, on_month=on_month)
        changes = [c.as_record() for c in lever_changes(cfg)]
        return RunResult(tables, cfg, config_hash(cfg), texts, changes)
    directory = Path(out_dir)
    hydra_dir = directory / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)  # as the command line leaves it, for comparison
    atomic_write_text(hydra_dir / "overrides.yaml", yaml.safe_dump(texts))
    atomic_write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    result = run_simulation(cfg, directory, progress=progress, on_month=on_month)
    tables = {
        name.removesuffix(".parquet"): pd.read_parquet(directory / name)
        for name in result["files"]
        if name.endswith(".parquet")
    }
    paths = {name: directory / name for name in [*result["files"], "result.json"]}
    return RunResult(
        tables, cfg, result["config_hash"], texts, result["lever_changes"], directory, paths
    )


@dataclass
class SweepResult:
    """A finished sweep: its directory and its aggregated tables.

    Attributes:
        sweep_dir: The multirun's directory.
        yearly: One row per complete job and year (``sweep_yearly.parquet``).
        lenders: One row per complete job, lender and year (``sweep_lenders.parquet``).
        jobs: One row per job with its parameters, seed and status (``sweep_jobs.csv``).
        comparison: The comparison against the baseline point (``comparison.csv``),
            or None when the sweep was not compared.
        monthly: One row per complete job and month, the parameters as columns
            (``sweep_monthly.parquet``), or None when the sweep wrote none.
    """

    sweep_dir: Path
    yearly: pd.DataFrame
    lenders: pd.DataFrame
    jobs: pd.DataFrame
    comparison: pd.DataFrame | None
    monthly: pd.DataFrame | None = None


def _values(values: Any) -> str:
    """A sweep's values as Hydra's comma list (a string is passed through: ``range(0,5)``)."""
    if isinstance(values, str):
        return values
    return ",".join(str(v) for v in values)


def sweep(
    *overrides: str,
    sweep: str | None = None,
    params: Mapping[str, Sequence[Any] | str] | None = None,
    seeds: Iterable[int] | str | None = None,
    scenario: str | None = None,
    n_borrowers: int | None = None,
    launcher: str | None = None,
    out_dir: str | Path | None = None,
    baseline: str | None = None,
) -> SweepResult:
    """Run a sweep as the command line does (``python -m sim -m ...``); return its tables.

    Args:
        *overrides: Overrides applied to every job (or swept, written ``key=a,b``).
        sweep: A sweep file of ``conf/sweep/`` (``rate_cap`` ...); ``params`` and
            ``seeds`` then add to or replace its own.
        params: Each swept key and its values, e.g.
            ``{"regulation.rate_cap_apr": [0.12, 0.24]}``; every combination runs.
        seeds: The seeds each point runs on (common random numbers).
        scenario: The scenario every job starts from.
        n_borrowers: Simulated borrowers per job.
        launcher: ``joblib``, ``ray``, ``submitit_local``, ``submitit_slurm``
            (default: one job after another).
        out_dir: The sweep directory (default ``outputs/sweeps/DATE/TIME_api``
            under the current directory); running again into it resumes.
        baseline: Overrides naming the baseline point of the comparison
            (``"regulation.rate_cap_apr=0.24"``; default the sweep file's, else
            the first point).

    Raises:
        sim.validation.ConfigError: The first point's configuration breaks a rule.
        RuntimeError: The sweep stopped (its error output is in the message).
    """
    swept = {key: _values(values) for key, values in (params or {}).items()}
    if seeds is not None:
        swept["seed"] = _values(seeds)
    fixed = _overrides(overrides, scenario, None, n_borrowers)
    first = [f"{key}={text.split(',')[0]}" for key, text in swept.items() if "(" not in text]
    compose(*([f"sweep={sweep}"] if sweep else []), *fixed, *first)  # refuse bad input first
    if out_dir is None:
        out_dir = Path("outputs/sweeps") / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S_api")
    sweep_dir = Path(out_dir).resolve()
    args = [sys.executable, "-m", "sim", "--multirun"]
    args += [f"sweep={sweep}"] if sweep else []
    args += [*fixed, *(f"{key}={text}" for key, text in swept.items())]
    args += [] if launcher is None else [f"hydra/launcher={launcher}"]
    args += [] if baseline is None else [f"hydra.callbacks.sweep_aggregate.baseline='{baseline}'"]
    args.append(f"hydra.sweep.dir={sweep_dir}")
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (sweep_dir / "sweep_jobs.csv").is_file():
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-20:])
        raise RuntimeError(f"sweep into {sweep_dir} stopped (exit {proc.returncode}):\n{tail}")
    comparison = sweep_dir / "comparison.csv"
    monthly = sweep_dir / "sweep_monthly.parquet"
    return SweepResult(
        sweep_dir=sweep_dir,
        yearly=pd.read_parquet(sweep_dir / "sweep_yearly.parquet"),
        lenders=pd.read_parquet(sweep_dir / "sweep_lenders.parquet"),
        jobs=pd.read_csv(sweep_dir / "sweep_jobs.csv"),
        comparison=pd.read_csv(comparison) if comparison.is_file() else None,
        monthly=pd.read_parquet(monthly) if monthly.is_file() else None,
    )
