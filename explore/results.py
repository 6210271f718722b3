"""A batch of runs read back: tables by point and seed, the comparison, the downloads.

The yearly market table of every run is stacked with its ``point`` (the policy's
label, or ``baseline``) and ``seed``; the comparison is the sweeps' own
(:func:`scenarios.sweep.compare.comparison_table`): per point and metric the
last year's mean and 5-95 % band across seeds, and the difference from the
baseline paired by seed with a 95 % t-interval.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explore.runner import BASELINE, Done
from scenarios.sweep.compare import METRICS, comparison_table
from scenarios.sweep.figures import FORMATS, configs_hash
from sim.output.plots import figure_caption
from sim.output.result import config_hash
from sim.output.tables import TABLES

REFERENCE = "baseline"
"""The label of the baseline point."""


@dataclass(frozen=True)
class Results:
    """The tables of a batch, stacked over its runs.

    Attributes:
        runs: The runs, in the order they ran.
        labels: Each point's label (``policy`` -> what the policy changes).
        yearly: ``market_yearly`` of every run with ``point`` and ``seed``.
        types: ``types_yearly`` of every run with ``point`` and ``seed``.
        comparison: The comparison (with a baseline) or the per-point summary.
    """

    runs: tuple[Done, ...]
    labels: dict[str, str]
    yearly: pd.DataFrame
    types: pd.DataFrame
    comparison: pd.DataFrame

    @property
    def order(self) -> list[str]:
        """Point labels in the order they ran (the policy first)."""
        return list(dict.fromkeys(self.labels[d.spec.point] for d in self.runs))

    @property
    def has_baseline(self) -> bool:
        """Whether the baseline ran beside the policy."""
        return any(d.spec.point == BASELINE for d in self.runs)

    @property
    def key(self) -> str:
        """One hash for the batch (its runs' config hashes)."""
        return configs_hash([config_hash(d.spec.config) for d in self.runs])

    def caption(self) -> str:
        """What produced the figures: scenarios, seeds, the set's hash, the version."""
        scenarios = [d.spec.config.scenario_name for d in self.runs]
        seeds = [d.spec.seed for d in self.runs]
        return figure_caption(scenarios, seeds, f"set {self.key} ({len(self.runs)} runs)")


def policy_label(texts: Sequence[str], baseline_too: bool) -> str:
    """The policy point's label: its scenario and changed levers, short enough for a legend."""
    parts = [t.split("=", 1)[1] if t.startswith("scenario=") else t for t in texts]
    skip = ("plots=", "progress=", "market.n_borrowers=")
    parts = [p.removeprefix("regulation.") for p in parts if not p.startswith(skip)]
    label = ", ".join(parts)
    if label == REFERENCE and baseline_too:
        label = "baseline (as set)"
    return label if len(label) <= 70 else label[:67] + "..."


def _stack(runs: Sequence[Done], labels: dict[str, str], table: str) -> pd.DataFrame:
    frames = []
    for done in runs:
        frame = pd.read_parquet(done.directory / f"{table}.parquet")
        frames.append(frame.assign(point=labels[done.spec.point], seed=done.spec.seed))
    return pd.concat(frames, ignore_index=True)


def load(runs: Sequence[Done], policy: str) -> Results:
    """Read a batch's tables; ``policy`` is the policy point's label."""
    labels = {"policy": policy, BASELINE: REFERENCE}
    yearly = _stack(runs, labels, "market_yearly")
    types = _stack(runs, labels, "types_yearly")
    order = list(dict.fromkeys(labels[d.spec.point] for d in runs))
    points = pd.DataFrame({"point": order})
    base = REFERENCE if REFERENCE in order else order[0]
    seeds = sorted({d.spec.seed for d in runs})
    table = comparison_table(yearly, points, [], base, seeds, METRICS)
    return Results(tuple(runs), labels, yearly, types, table)


def cell(metric: str, value: float, signed: bool = False) -> str:
    """A value as the comparison writes it (``1,234``, ``12.3%``), ``n/a`` when missing."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = FORMATS[metric].format(value)
    return "+" + text if signed and not text.startswith("-") else text


def headline_rows(results: Results) -> list[dict[str, str]]:
    """The results table: per metric, each point's last-year mean and band, and the difference.

    The difference column is the policy minus the baseline, paired by seed, with
    its 95 % interval (empty without a baseline).
    """
    table = results.comparison.set_index(["point", "metric"])
    order = results.order
    policy = order[0]
    last = int(results.comparison["last_year"].iloc[0])
    rows = []
    for metric in METRICS:
        row = {"metric": metric, "year": str(last)}
        for point in order:
            r = table.loc[(point, metric)]
            band = f" [{cell(metric, r['p05'])}, {cell(metric, r['p95'])}]"
            row[point] = cell(metric, r["mean"]) + (band if r["n_seeds"] > 1 else "")
        if results.has_baseline and policy != REFERENCE:
            r = table.loc[(policy, metric)]
            low, high = cell(metric, r["diff_ci_low"], True), cell(metric, r["diff_ci_high"], True)
            ci = f" [{low}, {high}]" if np.isfinite(r["diff_ci_low"]) else ""
            row["difference"] = cell(metric, r["diff_mean"], True) + ci
            row["pairs"] = str(int(r["n_pairs"]))
        rows.append(row)
    return rows


def tables_zip(results: Results) -> bytes:
    """Every run's tables (CSV and Parquet) and ``result.json``, and the comparison, zipped.

    Paths in the archive: ``POINT/seedN/TABLE`` (POINT ``policy`` or ``baseline``)
    and ``comparison.csv``.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for done in results.runs:
            folder = f"{done.spec.point}/seed{done.spec.seed}"
            for name in [*TABLES, "result.json"]:
                path = Path(done.directory) / name
                if path.is_file():
                    archive.write(path, f"{folder}/{name}")
        archive.writestr("comparison.csv", results.comparison.to_csv(index=False))
    return buffer.getvalue()
