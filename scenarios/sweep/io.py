"""Reading sweeps and runs from disk: which jobs a sweep has, their status and tables.

A *sweep directory* is what ``python -m sim sweep=NAME`` (or any multirun)
writes: ``multirun.yaml`` and one subdirectory per job holding
``.hydra/overrides.yaml``, ``result.json`` and the run's tables. A *run
directory* is one job or one single run. The jobs a sweep should have are
recomputed from ``multirun.yaml`` exactly as Hydra's basic sweeper expands
them, so a job that never started is reported as ``missing``.

A job counts as done only when its ``result.json`` says ``complete``, every file
it lists still has its checksum, and its tables are readable; anything else
(``failed``, ``interrupted``, still ``running`` after a kill, no ``result.json``)
is listed with its error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.output.files import mismatched
from sim.output.result import process_alive, read_result

MARKET_TABLE = "market_yearly.csv"
LENDERS_TABLE = "lenders_yearly.csv"
MONTHLY_TABLE = "market_monthly.parquet"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@dataclass
class JobRecord:
    """One job of a sweep (or one run): its overrides, status and tables."""

    job: int
    overrides: list[str]
    directory: Path | None
    status: str = "missing"
    error: str = ""
    seed: int | None = None
    scenario: str | None = None
    config_hash: str | None = None
    yearly: pd.DataFrame | None = field(default=None, repr=False)
    lenders: pd.DataFrame | None = field(default=None, repr=False)
    monthly: pd.DataFrame | None = field(default=None, repr=False)


def override_key(text: str) -> tuple[str, str]:
    """``(key, value)`` of an override string; ``+``, ``++`` and ``~`` prefixes dropped."""
    key, _, value = text.partition("=")
    return key.lstrip("+~"), value


def is_parameter(key: str) -> bool:
    """True for overrides that describe the model (not Hydra's own settings)."""
    return not (key == "hydra" or key.startswith(("hydra.", "hydra/")))


def convert(value: str) -> int | float | str:
    """An override value as int or float when it reads as one, else the string unquoted."""
    text = value.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parameters(overrides: Iterable[str]) -> dict[str, str]:
    """Model parameters set by ``overrides``, as raw strings, in order (``seed`` included)."""
    out: dict[str, str] = {}
    for text in overrides:
        key, value = override_key(text)
        if is_parameter(key):
            out[key] = value
    return out


def expected_jobs(sweeper_params: Mapping[str, Any] | None, task_overrides: Sequence[str]) -> list:
    """Each job's override list, in job order, as Hydra's basic sweeper expands them.

    Args:
        sweeper_params: ``hydra.sweeper.params`` (key to sweep string).
        task_overrides: ``hydra.overrides.task``, the command line's overrides.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    arguments = [f"{key}={value}" for key, value in (sweeper_params or {}).items()]
    arguments.extend(str(text) for text in task_overrides)
    parsed = OverridesParser.create().parse_overrides(arguments)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


def expected_from_multirun_yaml(sweep_dir: Path) -> list[list[str]] | None:
    """The jobs ``sweep_dir/multirun.yaml`` describes, or None if it cannot say."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return None
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        hydra = config["hydra"]
        if hydra.get("sweeper", {}).get("_target_") != BASIC_SWEEPER:
            return None
        return expected_jobs(hydra["sweeper"].get("params"), hydra["overrides"]["task"])
    except Exception:
        return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def scan_job_dirs(sweep_dir: Path) -> list[tuple[int | None, list[str], Path]]:
    """Every job directory under ``sweep_dir``: ``(job number, overrides, path)``."""
    found = []
    for overrides_file in sorted(Path(sweep_dir).glob("**/.hydra/overrides.yaml")):
        directory = overrides_file.parent.parent
        overrides = _read_yaml(overrides_file) or []
        hydra_yaml = _read_yaml(overrides_file.parent / "hydra.yaml") or {}
        num = hydra_yaml.get("hydra", {}).get("job", {}).get("num")
        found.append(
            (num if isinstance(num, int) else None, [str(o) for o in overrides], directory)
        )
    return found


def load_job(
    job: int,
    overrides: list[str],
    directory: Path | None,
    lenders: bool = True,
    monthly: bool = False,
) -> JobRecord:
    """Read one job's status and (when complete) its tables (the monthly one if asked)."""
    record = JobRecord(job=job, overrides=list(overrides), directory=directory)
    seed = parameters(overrides).get("seed")
    if seed is not None and isinstance(convert(seed), int):
        record.seed = int(convert(seed))
    if directory is None or not Path(directory).is_dir():
        record.error = "job directory missing: the job never started"
        return record
    result = read_result(directory)
    if result is None:
        record.status, record.error = "missing", "no readable result.json"
        return record
    record.status = str(result.get("status", "unknown"))
    record.error = str(result.get("error") or "")
    if isinstance(result.get("seed"), int):
        record.seed = int(result["seed"])
    record.scenario = result.get("scenario")
    record.config_hash = result.get("config_hash")
    if record.status == "running":
        alive = process_alive(result.get("pid"), result.get("host"))
        record.error = record.error or (
            f"still 'running' but its process (pid {result.get('pid')}) is gone: it was killed"
            if alive is False
            else "still 'running': the job was killed or is not finished"
        )
    if record.status != "complete":
        return record
    sums = result.get("checksums")
    bad = mismatched(Path(directory), sums) if isinstance(sums, dict) else []
    if bad:
        record.status = "failed"
        record.error = f"{', '.join(bad)} missing or changed since the run (checksum)"
        return record
    try:
        record.yearly = pd.read_csv(Path(directory) / MARKET_TABLE)
        if lenders:
            record.lenders = pd.read_csv(Path(directory) / LENDERS_TABLE)
        if monthly and (Path(directory) / MONTHLY_TABLE).is_file():  # absent: no monthly rows
            record.monthly = pd.read_parquet(Path(directory) / MONTHLY_TABLE)
    except (OSError, ValueError) as exc:
        record.status, record.error = "failed", f"unreadable table: {exc}"
        record.yearly = record.lenders = record.monthly = None
    return record


def collect_sweep(
    sweep_dir: Path,
    expected: list[list[str]] | None = None,
    lenders: bool = True,
    monthly: bool = False,
) -> list[JobRecord]:
    """Every job of the sweep in ``sweep_dir``, in job order.

    Args:
        sweep_dir: The multirun's directory.
        expected: Each job's overrides in job order; by default read from
            ``multirun.yaml``. Without either, the job directories found are used.
        lenders: Also read each job's lender table.
        monthly: Also read each job's monthly market table.
    """
    sweep_dir = Path(sweep_dir)
    if expected is None:
        expected = expected_from_multirun_yaml(sweep_dir)
    found = scan_job_dirs(sweep_dir)
    if expected is None:
        ordered = sorted(
            found, key=lambda f: (f[0] is None, f[0] if f[0] is not None else 0, str(f[2]))
        )
        return [
            load_job(num if num is not None else i, overrides, path, lenders, monthly)
            for i, (num, overrides, path) in enumerate(ordered)
        ]
    by_overrides: dict[tuple[str, ...], Path] = {}
    by_number: dict[int, tuple[list[str], Path]] = {}
    for num, overrides, path in found:
        by_overrides.setdefault(tuple(overrides), path)
        if num is not None:
            by_number.setdefault(num, (overrides, path))
    records = []
    for i, overrides in enumerate(expected):
        path = by_overrides.get(tuple(overrides))
        if path is None and i in by_number and set(by_number[i][0]) == set(overrides):
            path = by_number[i][1]
        records.append(load_job(i, overrides, path, lenders, monthly))
    return records


def collect_run(run_dir: Path, job: int = 0, lenders: bool = True) -> JobRecord:
    """A single run directory as a one-job record (overrides from ``.hydra/overrides.yaml``)."""
    run_dir = Path(run_dir)
    overrides = _read_yaml(run_dir / ".hydra" / "overrides.yaml") or []
    return load_job(job, [str(o) for o in overrides], run_dir, lenders)


def is_run_dir(directory: Path) -> bool:
    """True if ``directory`` is one run (it has its own ``result.json``)."""
    return (Path(directory) / "result.json").is_file()


def collect(directory: Path, lenders: bool = True) -> list[JobRecord]:
    """The jobs of a sweep directory, or a run directory as one job."""
    if is_run_dir(directory):
        return [collect_run(directory, lenders=lenders)]
    return collect_sweep(directory, lenders=lenders)
