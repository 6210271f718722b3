"""A sweep directory read for the Sweeps page: summary, comparison, figures, discovery.

A sweep directory is what a multirun leaves (``sweep_jobs.csv``, ``comparison.csv``,
``summary.md``, figures; see the README's "Sweeps"). Files whose name holds
``discover`` (at the top or in a ``discover*`` folder) are the discovery
results of the scenario tools, shown where present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

MARKERS = ("sweep_jobs.csv", "comparison.csv", "summary.md")
"""A directory holding any of these is a sweep directory."""

NOT_PARAMETERS = (
    "point",
    "metric",
    "baseline",
    "first_year",
    "last_year",
    "n_seeds",
    "missing_seeds",
    "mean",
    "p05",
    "p95",
    "change_mean",
    "change_p05",
    "change_p95",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "n_pairs",
)
"""Columns of ``comparison.csv`` that are not a swept parameter."""

_MAX_DEPTH = 4


def is_sweep_dir(directory: Path) -> bool:
    """Whether ``directory`` holds a sweep's aggregate or comparison files."""
    return any((Path(directory) / name).is_file() for name in MARKERS)


def find_sweeps(root: Path) -> list[Path]:
    """Sweep directories under ``root`` (itself included), newest first; job folders skipped."""
    root = Path(root)
    found: list[Path] = []

    def visit(directory: Path, depth: int) -> None:
        if is_sweep_dir(directory):
            found.append(directory)
            return
        if depth >= _MAX_DEPTH:
            return
        for child in sorted(p for p in directory.iterdir() if p.is_dir()):
            visit(child, depth + 1)

    if root.is_dir():
        visit(root, 0)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


@dataclass(frozen=True)
class Sweep:
    """What the Sweeps page shows of one directory."""

    directory: Path
    summary: str
    comparison: pd.DataFrame | None
    jobs: pd.DataFrame | None
    figures: list[Path] = field(default_factory=list)
    discovery: list[Path] = field(default_factory=list)

    @property
    def parameters(self) -> list[str]:
        """The swept parameters (columns of the comparison that identify a point)."""
        if self.comparison is None:
            return []
        return [c for c in self.comparison.columns if c not in NOT_PARAMETERS]


def _csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path) if path.is_file() else None
    except (OSError, ValueError):
        return None


def discovery_files(directory: Path) -> list[Path]:
    """Discovery results: files named ``*discover*`` at the top or in ``discover*`` folders."""
    directory = Path(directory)
    top = [p for p in directory.iterdir() if p.is_file() and "discover" in p.name.lower()]
    nested = [
        p
        for folder in directory.iterdir()
        if folder.is_dir() and folder.name.lower().startswith("discover")
        for p in folder.rglob("*")
        if p.is_file()
    ]
    return sorted(top) + sorted(nested)


def load_sweep(directory: Path) -> Sweep:
    """Read a sweep directory (missing parts are empty).

    Raises:
        FileNotFoundError: ``directory`` is not a sweep directory.
    """
    directory = Path(directory)
    if not directory.is_dir() or not is_sweep_dir(directory):
        names = ", ".join(MARKERS)
        raise FileNotFoundError(f"{directory}: not a sweep directory (none of {names})")
    summary_path = directory / "summary.md"
    summary = summary_path.read_text(encoding="utf-8") if summary_path.is_file() else ""
    discovery = discovery_files(directory)
    figures = sorted(p for p in directory.glob("*.png") if p not in discovery)
    return Sweep(
        directory=directory,
        summary=summary,
        comparison=_csv(directory / "comparison.csv"),
        jobs=_csv(directory / "sweep_jobs.csv"),
        figures=figures,
        discovery=discovery,
    )


def filter_points(
    comparison: pd.DataFrame, chosen: dict[str, list[str]], metrics: list[str] | None = None
) -> pd.DataFrame:
    """Rows of ``comparison`` whose parameters take a chosen value (as text) and metric."""
    keep = pd.Series(True, index=comparison.index)
    for column, values in chosen.items():
        if values:
            keep &= comparison[column].astype(str).isin(values)
    if metrics:
        keep &= comparison["metric"].isin(metrics)
    return comparison[keep]
