"""The vectorised borrowers and the per-agent Mesa reference give the same market.

``benchmarks.per_agent.PerAgentModel`` steps every borrower as a
``mesa.Agent`` (servicing, deciding to apply, search, choice, screening and
take-up in Python per agent); ``agents.borrowers.BorrowerPopulation`` does the
same with numpy over all borrowers at once. Their random streams differ, so
runs agree only in distribution: we compare means across seeds, and across
repeated clearings of one month's market. Servicing the same loans involves no
chance and agrees to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from agents.lenders import LENDER_TYPES
from agents.loan_table import NO_LENDER
from benchmarks.per_agent import PerAgentModel
from sim.clearing import UNMET_REASONS, Applicants, Matches, clear, unmet_reason
from sim.model import MarketModel
from sim.output.tables import lenders_yearly, market_yearly, types_yearly
from tests.conftest import compose_config

SEEDS = range(1, 9)  # 8 seeds per implementation
N_BORROWERS = 2000
METRICS = ("hhi", *(f"share_{t}" for t in LENDER_TYPES))
TOLERANCE_SE = 4.0  # allowed gap in mean, in standard errors of the difference
FLOOR = {"hhi": 25.0}  # absolute floor of the tolerance (HHI points); shares: 0.005
FLOOR_SHARE = 0.005
PRICE_FLOORS = {
    "avg_rate": 0.001,
    **{f"rate_{t}": 0.001 for t in LENDER_TYPES},
    "served_share": FLOOR_SHARE,
    "online_share": FLOOR_SHARE,
    **{f"unmet_share_{r}": FLOOR_SHARE for r in UNMET_REASONS},
}
"""Prices, take-up and rationing by year, with the floor of each tolerance (rates
annual, 0.001 = 10 basis points; shares of lending or demand)."""


def _yearly(seed: int, model_cls: type[MarketModel]) -> pd.DataFrame:
    """The yearly market table, with each type's volume-weighted new-loan rate
    ``rate_{type}`` (empty where it lent nothing) and the share of demand unmet
    for each reason ``unmet_share_{reason}``.
    """
    cfg = compose_config(f"market.n_borrowers={N_BORROWERS}", f"seed={seed}")
    model = model_cls(cfg)
    recorder = model.run()
    types = model.book.type_code.copy()
    yearly = market_yearly(recorder, types)
    by_type = types_yearly(lenders_yearly(recorder, types), yearly["year"].tolist())
    rates = by_type.pivot(index="year", columns="lender_type", values="rate")
    for lender_type in LENDER_TYPES:
        yearly[f"rate_{lender_type}"] = rates[lender_type].to_numpy()
    for reason in UNMET_REASONS:
        yearly[f"unmet_share_{reason}"] = yearly[f"unmet_{reason}"] / yearly["demand"]
    return yearly


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


def _gap_and_allowed(
    a: np.ndarray, b: np.ndarray, floor: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Gap between the means over axis 0 and the gap allowed, per column.

    Allowed: ``TOLERANCE_SE`` standard errors of the difference of means
    (Welch), at least ``floor``. Empty entries (NaN) are left out: a column
    empty on both sides agrees, one empty on one side only fails.
    """
    both_empty = np.isnan(a).all(axis=0) & np.isnan(b).all(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty or single-entry columns
        se = np.sqrt(
            np.nanvar(a, axis=0, ddof=1) / np.isfinite(a).sum(axis=0)
            + np.nanvar(b, axis=0, ddof=1) / np.isfinite(b).sum(axis=0)
        )
        gap = np.abs(np.nanmean(a, axis=0) - np.nanmean(b, axis=0))
    return np.where(both_empty, 0.0, gap), np.fmax(TOLERANCE_SE * se, floor)


def _assert_same_yearly_means(runs: dict, metric: str, floor: np.ndarray | float) -> None:
    """Each year, both implementations' means of ``metric`` over the seeds agree."""
    a = _stack(runs["vectorised"], metric)
    b = _stack(runs["per_agent"], metric)
    gap, allowed = _gap_and_allowed(a, b, floor)
    years = runs["vectorised"][0]["year"].tolist()
    report = {
        y: (round(float(g), 4), round(float(t), 4))
        for y, g, t in zip(years, gap, allowed, strict=True)
    }
    assert (gap <= allowed).all(), f"{metric}: year: (gap, allowed) {report}"


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
    _assert_same_yearly_means(runs, metric, FLOOR.get(metric, FLOOR_SHARE))


def test_same_lending_and_defaults(runs):
    """Demand, lending and the NPL ratio (the borrower-side flows) agree in mean across seeds.

    Same 4-standard-error rule as the shares; lending and demand in relative
    terms (floor 1 % of the mean), the NPL ratio with a floor of 0.002.
    """
    for metric, floor in (("demand", 0.01), ("lending", 0.01), ("npl_ratio", 0.002)):
        a = _stack(runs["vectorised"], metric)
        scale = np.abs(a.mean(axis=0)) if metric != "npl_ratio" else 1.0
        _assert_same_yearly_means(runs, metric, floor * scale)


@pytest.mark.parametrize("metric", PRICE_FLOORS)
def test_same_prices_and_take_up(runs, metric):
    """New-loan rates (overall and by lender type), the served and online shares and
    the share of demand unmet for each reason agree in mean across seeds.

    Same 4-standard-error rule, floors in ``PRICE_FLOORS``. These carry the
    borrower-side rules the shares barely show: take-up at the reservation rate
    (``unmet_share_priced_out``), search by risk class (``unmet_share_risk_screening``,
    the platforms' rate) and the weight of the rate online (``online_share``).
    Their 91 comparisons fail together by chance about 0.5 % of the time.
    """
    _assert_same_yearly_means(runs, metric, PRICE_FLOORS[metric])


CLEARINGS = 256  # repetitions of one month's clearing per implementation
CLEARING_BORROWERS = 20_000
CLEARING_MONTHS = 30  # months run before the month cleared
CLEARING_FLOOR = 1e-4  # floor of the tolerance (shares, annual rates)
BUSINESS_DISCOUNT = 0.01  # rate cut on business loans by every other lender, annual


def _clearing_figures(app: Applicants, m: Matches, types: np.ndarray) -> dict[str, float]:
    """One clearing's outcome: shares of applicants by outcome, and the loans' terms."""
    won = m.lender != NO_LENDER
    reason = np.where(won, -1, unmet_reason(m.refusals))
    co_lent = won & (m.own_share < 1.0)
    loan_type = np.where(won, types[np.where(won, m.lender, 0)], -1)
    return {
        "served": won.mean(),
        "lent_of_need": m.amount[won].sum() / app.need.sum(),
        "rate": m.rate[won].mean(),
        "rate_business": m.rate[won & app.business].mean(),
        "online": m.online[won].mean(),
        "pd_served": app.pd[won].mean(),
        "served_thin_file": (won & app.thin_file).mean(),
        "co_lent": co_lent.mean(),
        "partner_rate": m.partner_rate[co_lent].mean(),
        "facilitation_margin": (m.rate - m.partner_rate)[co_lent].mean(),
        "capacity_bound": m.capacity_bound.mean(),
        **{f"unmet_{r}": (reason == k).mean() for k, r in enumerate(UNMET_REASONS)},
        **{f"served_by_{t}": (loan_type == k).mean() for k, t in enumerate(LENDER_TYPES)},
    }


def test_same_clearing_of_one_month():
    """Cleared again and again on the same applicants and offers, both match alike in mean.

    One month after 30 (20,000 borrowers, half the lenders cutting business
    rates): the shares served (all, thin files), lent, unmet for each reason and
    served by each lender type, and the mean rate (all loans, business loans),
    online share, PD served, partner rate and facilitation margin of co-lent
    loans over 256 clearings each, by the same 4-standard-error rule (floor
    0.0001). Every rule of search, ranking, screening, pricing, take-up and
    capacity shows in these figures.
    """
    cfg = compose_config(f"market.n_borrowers={CLEARING_BORROWERS}", "seed=3")
    model = PerAgentModel(cfg)
    for _ in range(CLEARING_MONTHS):
        model.step()
    market, book, pop = model.market, model.book, model.population
    book.business_discount[:] = BUSINESS_DISCOUNT * (np.arange(book.n) % 2)
    app = market.applicants()
    offers = market.offers(model.regulator.lending_limits())
    terms = market.terms()
    assert app.business.any() and (offers.own_share < 1.0).any()
    figures = {"vectorised": [], "per_agent": []}
    for k in range(CLEARINGS):
        vec = clear(app, offers, terms, pop.weight, np.random.default_rng(10_000 + k))
        ref = pop.clear(app, offers, terms, pop.weight, np.random.default_rng(20_000 + k))
        figures["vectorised"].append(_clearing_figures(app, vec, book.type_code))
        figures["per_agent"].append(_clearing_figures(app, ref, book.type_code))
    a = pd.DataFrame(figures["vectorised"])
    b = pd.DataFrame(figures["per_agent"])
    gap, allowed = _gap_and_allowed(a.to_numpy(), b.to_numpy(), CLEARING_FLOOR)
    report = {
        name: (round(float(g), 5), round(float(t), 5))
        for name, g, t in zip(a.columns, gap, allowed, strict=True)
        if not g <= t
    }
    assert not report, f"figure: (gap, allowed) {report}"


def test_same_population_and_start():
    """For one seed both start from the same borrowers, lenders and initial loan book."""
    cfg = compose_config(f"market.n_borrowers={N_BORROWERS}", "seed=5")
    vec = MarketModel(cfg)
    per_agent = PerAgentModel(cfg)
    for name in ("segment", "region", "pd", "reservation", "lender", "balance", "months_left"):
        assert np.array_equal(getattr(vec.population, name), getattr(per_agent.population, name))
    assert np.array_equal(vec.book.equity, per_agent.book.equity)
    n = vec.book.n
    for got, want in zip(
        per_agent.population.outstanding_by(n), vec.population.outstanding_by(n), strict=True
    ):
        assert np.allclose(got, want, rtol=1e-12)
    assert len(per_agent.agents) == len(vec.agents) + N_BORROWERS  # borrowers are Mesa agents


def test_same_servicing_of_the_same_loans():
    """Booked the same new loans, half co-lent, both populations service them alike.

    Effective PDs and coverage agree exactly, each loan's monthly hazard to
    rounding; without prepayment a month's servicing has no chance in it (a
    loan's defaults are its hazard's fraction of the balance), so interest (the
    partner's rate on its part, the rest to the originator), principal, new NPLs
    by funder, defaults by originator and what the pricing expected agree to rounding.
    """
    cfg = compose_config(f"market.n_borrowers={N_BORROWERS}", "seed=5")
    vec, per_agent = MarketModel(cfg), PerAgentModel(cfg)
    pops = (vec.population, per_agent.population)
    n = vec.book.n
    rng = np.random.default_rng(0)
    idx = rng.permutation(np.flatnonzero(vec.population.lender == NO_LENDER))[:300]
    lender = rng.integers(0, n, idx.size)
    co_lent = rng.random(idx.size) < 0.5
    funder = np.where(co_lent, (lender + 1) % n, NO_LENDER)
    own = np.where(co_lent, 0.3, 1.0)
    amount = rng.uniform(1e4, 1e5, idx.size)
    rate = rng.uniform(0.05, 0.2, idx.size)
    partner_rate = rate - rng.uniform(0.0, 0.05, idx.size)
    online = rng.random(idx.size) < 0.5
    coverage, discipline = 0.5, 0.3
    assert np.array_equal(*(p.covered(idx, coverage) for p in pops))
    pd_now = [p.effective_pd(idx, coverage, discipline) for p in pops]
    assert np.array_equal(*pd_now)
    assert (pd_now[0] < vec.population.pd[idx]).any()  # some covered thin files
    for p, pd_ in zip(pops, pd_now, strict=True):
        p.book(idx, lender, funder, own, amount, rate, online, pd_, partner_rate=partner_rate)
    has_loan = vec.population.lender != NO_LENDER
    assert np.array_equal(has_loan, per_agent.population.lender != NO_LENDER)
    hazard = np.array([a.hazard for a in per_agent.population.agents])
    assert np.allclose(
        hazard[has_loan], vec.population.loans.full("hazard", N_BORROWERS)[has_loan], rtol=1e-12
    )
    flows = [p.service(n, np.ones(n), 0.0, np.random.default_rng(1)) for p in pops]
    for name in (
        "interest",
        "principal",
        "new_npl",
        "defaulted",
        "expected_defaults",
    ):
        assert np.allclose(getattr(flows[1], name), getattr(flows[0], name), rtol=1e-10), name
    assert flows[0].new_npl.sum() > 0  # the loans did default, in part
    assert flows[1].matured == flows[0].matured
