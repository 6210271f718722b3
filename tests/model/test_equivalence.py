"""The vectorised borrowers and the per-agent Mesa reference give the same market.

``benchmarks.per_agent.PerAgentModel`` steps every borrower as a
``mesa.Agent`` (servicing, deciding to apply, search, choice and screening in
Python per agent); ``agents.borrowers.BorrowerPopulation`` does the same with
numpy over all borrowers at once. Their random streams differ, so runs agree
only in distribution: we compare means across seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.lenders import LENDER_TYPES
from benchmarks.per_agent import PerAgentModel
from sim.model import MarketModel
from sim.output.tables import market_yearly
from tests.conftest import compose_config

SEEDS = range(1, 9)  # 8 seeds per implementation
N_BORROWERS = 2000
METRICS = ("hhi", *(f"share_{t}" for t in LENDER_TYPES))
TOLERANCE_SE = 4.0  # allowed gap in mean, in standard errors of the difference
FLOOR = {"hhi": 25.0}  # absolute floor of the tolerance (HHI points); shares: 0.005
FLOOR_SHARE = 0.005


def _yearly(seed: int, model_cls: type[MarketModel]) -> pd.DataFrame:
    cfg = compose_config(f"market.n_borrowers={N_BORROWERS}", f"seed={seed}")
    model = model_cls(cfg)
    recorder = model.run()
    return market_yearly(recorder, model.book.type_code.copy())


@pytest.fixture(scope="module")
def runs() -> dict[str, list[pd.DataFrame]]:
    """Yearly market tables of both implementations for the same 8 seeds."""
    return {
        "vectorised": [_yearly(seed, MarketModel) for seed in SEEDS],
        "per_agent": [_yearly(seed, PerAgentModel) for seed in SEEDS],
    }


def _stack(tables: list[pd.DataFrame], metric: str) -> np.ndarray:
    """``[seed, year]`` matrix of one yearly metric."""
    return np.array([t[metric].to_numpy(dtype=float) for t in tables])


@pytest.mark.parametrize("metric", METRICS)
def test_same_yearly_means_across_seeds(runs, metric):
    """Yearly HHI and type shares (on outstanding balance) have the same mean across seeds.

    Tolerance: for each year, the two implementations' means over 8 seeds
    (2,000 borrowers, 2024-2030) may differ by at most 4 standard errors of
    the difference of means (Welch: ``sqrt(sd_a**2 / 8 + sd_b**2 / 8)``, from
    the between-seed standard deviations), or by a floor of 25 HHI points /
    0.005 of share when the seeds barely vary. At 4 SE a true equality fails a
    given year with probability about 6e-5 (normal approximation), so the 35
    comparisons together fail by chance well under 1 % of the time; a real
    difference in behaviour (e.g. a different application rate or choice
    rule) moves the means by many SE. The runs are seeded, so the outcome is
    deterministic.
    """
    a = _stack(runs["vectorised"], metric)
    b = _stack(runs["per_agent"], metric)
    k = len(SEEDS)
    se = np.sqrt(a.var(axis=0, ddof=1) / k + b.var(axis=0, ddof=1) / k)
    allowed = np.maximum(TOLERANCE_SE * se, FLOOR.get(metric, FLOOR_SHARE))
    gap = np.abs(a.mean(axis=0) - b.mean(axis=0))
    years = runs["vectorised"][0]["year"].tolist()
    report = {
        y: (round(float(g), 4), round(float(t), 4))
        for y, g, t in zip(years, gap, allowed, strict=True)
    }
    assert (gap <= allowed).all(), f"{metric}: year: (gap, allowed) {report}"


def test_same_lending_and_defaults(runs):
    """Demand, lending and the NPL ratio (the borrower-side flows) agree in mean across seeds.

    Same 4-standard-error rule as the shares; lending and demand in relative
    terms (floor 1 % of the mean), the NPL ratio with a floor of 0.002.
    """
    for metric, floor in (("demand", 0.01), ("lending", 0.01), ("npl_ratio", 0.002)):
        a = _stack(runs["vectorised"], metric)
        b = _stack(runs["per_agent"], metric)
        k = len(SEEDS)
        se = np.sqrt(a.var(axis=0, ddof=1) / k + b.var(axis=0, ddof=1) / k)
        scale = np.abs(a.mean(axis=0)) if metric != "npl_ratio" else 1.0
        allowed = np.maximum(TOLERANCE_SE * se, floor * scale)
        gap = np.abs(a.mean(axis=0) - b.mean(axis=0))
        assert (gap <= allowed).all(), f"{metric}: gap {gap}, allowed {allowed}"


def test_same_population_and_start():
    """For one seed both start from the same borrowers, lenders and initial loan book."""
    cfg = compose_config(f"market.n_borrowers={N_BORROWERS}", "seed=5")
    vec = MarketModel(cfg)
    per_agent = PerAgentModel(cfg)
    for name in ("segment", "region", "pd", "lender", "balance", "months_left"):
        assert np.array_equal(getattr(vec.population, name), getattr(per_agent.population, name))
    assert np.array_equal(vec.book.equity, per_agent.book.equity)
    n = vec.book.n
    for got, want in zip(
        per_agent.population.outstanding_by(n), vec.population.outstanding_by(n), strict=True
    ):
        assert np.allclose(got, want, rtol=1e-12)
    assert len(per_agent.agents) == len(vec.agents) + N_BORROWERS  # borrowers are Mesa agents
