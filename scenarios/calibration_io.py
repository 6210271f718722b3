"""Calibration plumbing: running candidates, the calibrated file's record, the fit's report.

:class:`Evaluator` runs one config on a fixed list of seeds (common random
numbers), in worker processes, and returns each seed's target summary
(``scenarios.targets.summarise``) and yearly table; :func:`with_values` makes
the config of a candidate point. :func:`record_header` writes the header of
the calibrated config (``conf/calibration/baseline.yaml``), whose record line
:func:`read_record` reads back. :func:`comparison_table` and :func:`plot_fit`
show a result against the report's figures. The fit itself (parameters, loss,
search, command line) is ``scenarios.calibrate``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.parameters import set_value
from scenarios.targets import (
    INFORMATION_GROUPS,
    PLATFORM_HIGH_RATE,
    PLATFORM_SPREAD_MIN,
    PRICE_YEAR,
    Targets,
    load_targets,
    mean_summary,
    summarise,
    target_rows,
)
from sim.config import CONF_DIR, SimConfig
from sim.validation import load_config

RECORD_PREFIX = "# calibration-record: "
OUTPUT_DIR = CONF_DIR.parent / "outputs" / "calibration"
"""Where fits and identification checks write unless told otherwise."""
"""Start of the header line holding the record (loss, seeds, scale, date) as JSON."""


def with_values(base: SimConfig, values: dict[str, float]) -> SimConfig:
    """A copy of ``base`` with ``values`` set, validated."""
    cfg = copy.deepcopy(base)
    for key, value in values.items():
        set_value(cfg, key, float(value))
    return load_config(cfg)


def _run_one(args: tuple[SimConfig, int]) -> tuple[dict[str, float], pd.DataFrame]:
    from sim.run import simulate

    cfg, seed = args
    cfg = copy.deepcopy(cfg)
    cfg.seed = seed
    cfg.progress = False
    cfg.plots = False
    tables = simulate(cfg)
    yearly = tables["market_yearly"]
    return summarise(yearly, load_targets(), tables["types_yearly"]), yearly


LAUNCHERS = ("local", "joblib", "ray")
"""Where evaluations run: local processes, joblib's loky workers, or Ray tasks (a cluster)."""


class Evaluator:
    """Runs a config over fixed seeds (common random numbers), in parallel.

    ``launcher`` is ``local`` (a process pool), ``joblib`` (loky workers, the
    engine of Hydra's joblib launcher) or ``ray`` (remote tasks on the Ray
    cluster ``RAY_ADDRESS`` names, else a local one; needs the ``ray`` extra).
    Every launcher returns the same numbers: each seed's run is deterministic.
    """

    def __init__(
        self, seeds: Sequence[int], jobs: int | None = None, launcher: str = "local"
    ) -> None:
        if launcher not in LAUNCHERS:
            raise ValueError(f"launcher {launcher!r}: must be one of {', '.join(LAUNCHERS)}")
        self.seeds = list(seeds)
        self.launcher = launcher
        self.jobs = max(1, min(jobs or os.cpu_count() or 1, len(self.seeds)))
        self._pool = None
        if launcher == "local" and self.jobs > 1:
            self._pool = ProcessPoolExecutor(self.jobs)
        elif launcher == "ray":
            self._remote = _ray_task()

    def run(self, cfg: SimConfig) -> tuple[list[dict[str, float]], list[pd.DataFrame]]:
        """Per-seed target summaries and yearly tables of ``cfg``."""
        args = [(cfg, s) for s in self.seeds]
        if self.launcher == "joblib":
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=self.jobs)(delayed(_run_one)(a) for a in args)
        elif self.launcher == "ray":
            import ray

            results = ray.get([self._remote.remote(a) for a in args])
        elif self._pool:
            results = list(self._pool.map(_run_one, args))
        else:
            results = list(map(_run_one, args))
        return [r[0] for r in results], [r[1] for r in results]

    def close(self) -> None:
        """Shut the worker processes down."""
        if self._pool:
            self._pool.shutdown()


def _ray_task():
    """``_run_one`` as a Ray task, Ray started (or joined) first."""
    try:
        import ray
    except ImportError as exc:
        raise SystemExit(
            "--launcher ray needs Ray: pip install '.[ray]' (then RAY_ADDRESS=host:port to"
            " use a cluster)"
        ) from exc
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False)
    return ray.remote(_run_one)


def comparison_table(summaries: list[dict[str, float]], targets: Targets) -> str:
    """Target vs simulated (mean, min, max over seeds), one row per target."""
    mean = mean_summary(summaries)
    rows = ["target                                         report   simulated   seed range   ok"]
    for key, target, tol in target_rows(targets):
        values = [s[key] for s in summaries]
        ok = "yes" if abs(mean[key] - target) <= tol else "NO"
        if key.startswith(INFORMATION_GROUPS):
            ok += " (info)"
        rows.append(
            f"{key:45s} {target:7.4f}   {mean[key]:8.4f}   "
            f"{min(values):.4f}-{max(values):.4f}   {ok}"
        )
    a, b = targets.hhi_rising
    ok = "yes" if mean[f"hhi_{b}"] > mean[f"hhi_{a}"] else "NO"
    rows.append(
        f"{'hhi ' + str(a) + ' -> ' + str(b):45s}  rising   "
        f"{mean[f'hhi_{a}']:.0f} -> {mean[f'hhi_{b}']:.0f}   {ok}"
    )
    if "platform_rate_p75" in mean:
        for lender_type, (low, high) in targets.price_band.items():
            key = f"rate_{lender_type}"
            ok = "yes" if low <= mean[key] <= high else "NO"
            rows.append(
                f"{key + ' ' + str(PRICE_YEAR):45s} {low:.3f}-{high:.3f} {mean[key]:8.4f}   {ok}"
            )
        spread = mean["rate_online_platform"] - mean["rate_bank"]
        ok = "yes" if spread >= PLATFORM_SPREAD_MIN else "NO"
        rows.append(
            f"{'platform - bank rate':45s} >= {PLATFORM_SPREAD_MIN:.3f} {spread:8.4f}   {ok}"
        )
        p75 = mean["platform_rate_p75"]
        ok = "yes" if p75 >= PLATFORM_HIGH_RATE else "NO"
        rows.append(f"{'platform rate p75':45s} >= {PLATFORM_HIGH_RATE:.3f} {p75:8.4f}   {ok}")
    return "\n".join(rows)


def plot_fit(yearly: list[pd.DataFrame], targets: Targets, path: Path) -> Path:
    """Simulated mean and band over seeds against the report's points; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [y.set_index("year") for y in yearly]
    years = frames[0].index.to_numpy()

    def band(column: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = np.array([f[column].to_numpy() for f in frames]) * scale
        return values.mean(axis=0), values.min(axis=0), values.max(axis=0)

    def lending_index(f: pd.DataFrame) -> np.ndarray:
        return (f["lending"] / f["lending"].iloc[0]).to_numpy()

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0, 0], "online_share", 100.0, targets.online_share, "Online share of new lending, %"),
        (axes[0, 1], "avg_rate", 100.0, targets.avg_rate, "Average loan rate, %"),
    ]
    for ax, column, scale, points, title in panels:
        mean, low, high = band(column, scale)
        ax.fill_between(years, low, high, alpha=0.25, label="simulated, seed range")
        ax.plot(years, mean, label="simulated, seed mean")
        ax.plot(list(points), [v * scale for v in points.values()], "ko", label="report")
        ax.set_title(title)
        ax.legend(fontsize=8)
    ax = axes[1, 0]
    values = np.array([lending_index(f) for f in frames])
    ax.fill_between(years, values.min(axis=0), values.max(axis=0), alpha=0.25)
    ax.plot(years, values.mean(axis=0), label="simulated new lending")
    first, last = targets.growth_years
    ax.plot([first, last], [1.0, targets.lending_growth], "ko", label="report market size")
    served_mean, _, _ = band("served_share")
    ax2 = ax.twinx()
    ax2.plot(years, served_mean * 100.0, "g--", label="served share, %")
    ax2.plot(list(targets.served_share), [v * 100 for v in targets.served_share.values()], "gs")
    ax.set_title(f"Lending, index {first} = 1 (served share dashed)")
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1, 1]
    groups = {
        "bank": ["share_bank"],
        "credit_cooperative": ["share_credit_cooperative"],
        "online_platform_and_policy_lender": ["share_online_platform", "share_policy_lender"],
    }
    for group, columns in groups.items():
        values = np.array([f[columns].sum(axis=1).to_numpy() for f in frames]) * 100
        line = ax.plot(years, values.mean(axis=0), label=group.replace("_", " "))[0]
        ax.fill_between(
            years, values.min(axis=0), values.max(axis=0), alpha=0.2, color=line.get_color()
        )
        ax.plot([first], [targets.type_share[group] * 100], "o", color=line.get_color())
    ax.set_title("Type shares of outstanding, % (report: end 2023, dots)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def record_header(record: dict[str, Any], table: str) -> list[str]:
    """The comment lines opening a calibrated config: provenance, the record, the fit's table."""
    return [
        "# @package _global_",
        "# Calibrated values of the model's free behavioural parameters, written by",
        "# `python -m scenarios.calibrate` (do not edit by hand: re-run it). The baseline",
        "# scenario (conf/scenario/baseline.yaml) includes this file; every other scenario",
        "# includes the baseline. Targets: scenarios/data/ (the report's figures).",
        f"# Loss {record['loss']:.4f} over seeds {record['seeds']} with"
        f" {record['n_borrowers']} borrowers, {record['evaluations']} evaluations,"
        f" {record['date']}.",
        "# Re-check: python -m scenarios.calibrate --check",
        *(f"# Note: {line}" for line in record.get("note", "").splitlines() if line),
        RECORD_PREFIX + json.dumps(record, sort_keys=True),
        "#",
        "# target vs simulated (seed mean) at the calibration scale:",
        *("#   " + line for line in table.splitlines()),
    ]


def read_record(path: Path) -> dict[str, Any]:
    """The record (loss, seeds, scale, date) in a calibration file's header."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(RECORD_PREFIX):
            return json.loads(line[len(RECORD_PREFIX) :])
    raise ValueError(f"{path}: no '{RECORD_PREFIX.strip()}' line")
