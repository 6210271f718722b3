"""The runs behind a page's Run: the policy, and the baseline if asked, on the same seeds.

Each run is the command line's run of the same overrides (:func:`sim.api.run`
into a run directory: tables as CSV and Parquet, ``result.json``, the resolved
config), in ``ROOT/runs/SCENARIO_seedN_HASH/``. A directory that already holds
a complete run of the same configuration and code, its files matching their
checksums, is reused instead of run again. Progress is reported by simulated
month over all runs; :class:`CancelledError` raised from the progress callback
stops the run between two months (its ``result.json`` then says ``failed``
with the cause, as any stopped run's does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim import api
from sim.calendar import parse_month
from sim.config import SimConfig
from sim.output.result import config_hash, reuse_problem

POLICY = "policy"
BASELINE = "baseline"


class CancelledError(Exception):
    """The page's Cancel button: the run stops after the month it is in."""


@dataclass(frozen=True)
class RunSpec:
    """One run to make: which point, its seed, overrides and validated config."""

    point: str
    seed: int
    overrides: tuple[str, ...]
    config: SimConfig

    @property
    def months(self) -> int:
        """Simulated months of the run."""
        market = self.config.market
        return parse_month(market.end) - parse_month(market.start) + 1

    def directory(self, root: Path) -> Path:
        """Where the run is written: by scenario, seed and config hash (so reusable)."""
        name = f"{self.config.scenario_name}_seed{self.seed}_{config_hash(self.config)}"
        return Path(root) / "runs" / name


@dataclass(frozen=True)
class Done:
    """A finished run: its spec and directory."""

    spec: RunSpec
    directory: Path


Progress = Callable[[int, int], None]
"""``progress(months_done, months_total)`` over all runs of a batch."""


def execute(
    specs: Sequence[RunSpec],
    root: Path,
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[Done]:
    """Run (or reuse) every spec in order; stop with :class:`CancelledError` when told to.

    Args:
        specs: The runs, e.g. from :func:`explore.form` overrides with a seed each.
        root: The explorer's output directory.
        progress: Told the months done so far over all runs, after each month.
        keep_going: Asked after each month; False stops the batch (raises
            :class:`CancelledError`).
    """
    total = sum(spec.months for spec in specs)
    before = 0
    done: list[Done] = []
    for spec in specs:
        directory = spec.directory(root)
        if reuse_problem(directory, config_hash(spec.config)) is not None:

            def on_month(months: int, _total: int, _month: int, offset: int = before) -> None:
                if not keep_going():
                    raise CancelledError("cancelled from the explorer")
                if progress is not None:
                    progress(offset + months, total)

            api.run(*spec.overrides, out_dir=directory, on_month=on_month)
        before += spec.months
        if progress is not None:
            progress(before, total)
        done.append(Done(spec, directory))
    return done
