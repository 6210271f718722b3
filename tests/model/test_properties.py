"""Property-based tests: random valid configurations never break an invariant.

Hypothesis draws whole configurations at small scale (1,500-3,000 borrowers,
2024-01 to at most 2025-06, so most runs cross a January and its yearly
step): lender counts (zero for some types, sometimes one lender in all),
segment mixes, rate caps, capital rules, co-lending rules, default shocks,
dated regulation changes and behaviour. Each is run through
:func:`sim.run.simulate` with the accounting checked every month
(:mod:`tests.invariants`). The profile is derandomized and keeps no example
database, so CI replays the same examples every time.
"""

from __future__ import annotations

import copy
import functools

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agents.lenders import LENDER_TYPES
from sim.calendar import format_month, parse_month
from sim.config import SEGMENTS, DefaultShock, SimConfig
from sim.validation import ConfigError, load_config, validate
from tests.conftest import compose_config
from tests.model.invariants import check_tables, simulate_checked

N_RUNS = 200  # random valid configurations simulated
N_VALIDATED = 300  # random valid configurations only validated (cheap)
N_BROKEN = 150  # random valid configurations with one field broken

PROFILE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


@functools.cache
def _base() -> SimConfig:
    return compose_config("market.n_borrowers=2000", "market.end=2025-06")


def _unit(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _mix(draw: st.DrawFn, n: int, allow_zero: bool = True) -> list[float]:
    """Non-negative weights summing to 1 (some zero when allowed), at least one positive."""
    weight = st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]) if allow_zero else _unit(0.05, 5.0)
    raw = draw(st.lists(weight, min_size=n, max_size=n))
    if sum(raw) == 0:
        raw[draw(st.integers(0, n - 1))] = 1.0
    total = sum(raw)
    return [w / total for w in raw]


TIMELINE_LEVERS = {
    "rate_cap_apr": _unit(0.01, 0.6),
    "co_lending_min_own_share": _unit(),
    "co_lending_total_cap": _unit(),
    "single_borrower_limit": _unit(0.001, 1.0),
    "inspection_probability": _unit(0.0, 0.5),
    "acquisitions_allowed": st.booleans(),
    "local_only_lending": st.booleans(),
    "financing_support": _unit(),
    "credit_data_coverage": _unit(),
    **{f"min_capital_ratio.{t}": _unit(0.0, 0.6) for t in LENDER_TYPES},
    **{f"max_leverage.{t}": _unit(0.5, 30.0) for t in LENDER_TYPES},
}


@st.composite
def valid_configs(draw: st.DrawFn) -> SimConfig:
    """A random configuration that passes validation, at test scale."""
    cfg = copy.deepcopy(_base())
    cfg.seed = draw(st.integers(0, 2**32 - 1))
    m = cfg.market
    m.n_borrowers = draw(st.integers(1500, 3000))
    m.end = draw(st.sampled_from(["2024-12", "2025-01", "2025-06"]))
    months = list(range(parse_month(m.start), parse_month(m.end) + 1))
    m.n_regions = draw(st.integers(1, 31))
    m.demand_growth = draw(st.sampled_from([0.0, 0.17]) | _unit(-0.9, 1.0))  # plausible: <= 1
    m.recovery_rate = draw(_unit())
    m.writeoff_months = draw(st.integers(1, 12))
    m.prepayment_rate = draw(_unit(0.0, 0.2))
    for name, share in zip(SEGMENTS, _mix(draw, len(SEGMENTS)), strict=True):
        seg = m.segments[name]
        seg.share = share
        seg.loan_mean_cny = draw(_unit(1e3, 5e5))
        seg.loan_sigma = draw(_unit(0.0, 1.5))
        seg.term_months = draw(st.integers(1, 36))
        seg.pd_mean = draw(_unit(0.002, 0.4))
        seg.pd_sigma = draw(_unit(0.0, 1.5))
        seg.thin_file_share = draw(_unit())
        seg.digital_affinity = draw(_unit())
        seg.apply_rate = draw(_unit(0.0, 0.1))
        seg.initial_loan_share = draw(st.just(0.0) | _unit(0.01, 0.6))
        seg.business = draw(st.booleans())
    populated = [m.segments[s] for s in SEGMENTS if m.segments[s].share > 0]
    if all(seg.initial_loan_share == 0 for seg in populated):
        populated[0].initial_loan_share = 0.15
    m.default_shocks = []
    for _ in range(draw(st.integers(0, 2))):
        m.default_shocks.append(
            DefaultShock(
                start=format_month(draw(st.sampled_from(months))),
                months=draw(st.integers(1, 12)),
                multiplier=draw(st.sampled_from([0.0, 3.0, 1000.0]) | _unit(0.0, 50.0)),
                lender_type=draw(st.none() | st.sampled_from(LENDER_TYPES)),
            )
        )

    counts = {t: draw(st.sampled_from([0, 0, 1, 2, 3, 5, 8, 20])) for t in LENDER_TYPES}
    if sum(counts.values()) == 0:
        counts[draw(st.sampled_from(LENDER_TYPES))] = 1
    weights = {t: draw(_unit(0.05, 1.0)) if counts[t] else 0.0 for t in LENDER_TYPES}
    total = sum(weights.values())
    for t in LENDER_TYPES:
        lt = cfg.lenders[t]
        lt.count = counts[t]
        lt.initial_share = weights[t] / total
        lt.size_sigma = draw(_unit(0.0, 2.0))
        lt.funding_spread = draw(_unit(-0.03, 0.07))
        lt.operating_cost = draw(_unit(0.0, 0.05))
        lt.technology = draw(_unit())
        lt.technology_spread = draw(_unit(0.0, 0.3))
        lt.national_fraction = draw(_unit())
        lt.regions_served = draw(st.integers(1, m.n_regions))
        lt.online_capability = draw(_unit())
        lt.risk_appetite = draw(_unit(0.005, 0.5))
        lt.markup = draw(_unit(0.0, 0.1))
        lt.capital_ratio = draw(_unit(0.01, 0.6))
        lt.entry_rate = draw(st.just(0.0) | _unit(0.0, 5.0))
        lt.brand = draw(_unit(0.05, 3.0))

    reg = cfg.regulation
    reg.rate_cap_apr = draw(st.sampled_from([0.24, 0.36]) | _unit(0.01, 0.6))
    for t in LENDER_TYPES:
        reg.min_capital_ratio[t] = draw(_unit(0.0, 0.6))
        reg.max_leverage[t] = draw(_unit(0.5, 30.0))
    reg.co_lending_min_own_share = draw(_unit())
    reg.co_lending_partner_cap = draw(_unit(0.0, 2.0))
    reg.co_lending_total_cap = draw(_unit())
    reg.online_consumer_loan_cap_cny = draw(_unit(1e3, 1e7))
    reg.online_business_loan_cap_cny = draw(_unit(1e3, 1e7))
    reg.platform_individual_loan_cap_cny = draw(_unit(1e3, 1e7))
    reg.single_borrower_limit = draw(_unit(0.001, 1.0))
    reg.online_entry_capital_cny = draw(_unit(5e6, 5e9))
    reg.cross_province_capital_cny = reg.online_entry_capital_cny + draw(_unit(0.0, 1e10))
    reg.local_only_lending = draw(st.booleans())
    reg.inspection_probability = draw(_unit(0.0, 0.5))
    reg.inspection_penalty = draw(_unit(0.0, 0.5))
    reg.acquisitions_allowed = draw(st.booleans())
    for name in ("financing_support", "tech_subsidy", "credit_data_coverage"):
        setattr(reg, name, {2024: draw(_unit()), 2025: draw(_unit())})
    reg.timeline = []
    changed: set[tuple[str, str]] = set()  # one value per lever and month
    for _ in range(draw(st.integers(0, 3))):
        levers = draw(st.lists(st.sampled_from(sorted(TIMELINE_LEVERS)), min_size=1, max_size=3))
        change = {"date": format_month(draw(st.sampled_from(months)))}
        levers = [lever for lever in levers if (change["date"], lever) not in changed]
        if not levers:
            continue
        changed.update((change["date"], lever) for lever in levers)
        change.update({lever: draw(TIMELINE_LEVERS[lever]) for lever in levers})
        reg.timeline.append(change)

    b = cfg.behaviour
    b.search_size = draw(st.integers(1, 6))
    b.rate_sensitivity = draw(_unit(0.0, 2.0))
    b.online_preference = draw(_unit(0.0, 5.0))
    b.digital_trend = draw(_unit(0.0, 0.2))
    b.screening_noise = draw(_unit(0.0, 2.0))
    b.data_sharing_effect = draw(_unit())
    b.markup_speed = draw(_unit(0.0, 0.5))
    b.markup_floor = draw(_unit(0.0, 0.05))
    b.markup_ceiling = b.markup_floor + draw(_unit(0.0, 0.15))
    b.tech_investment = draw(_unit())
    b.tech_efficiency = draw(_unit())
    b.tech_scale_cost = draw(_unit(0.0, 1e9))
    b.tech_depreciation = draw(_unit())
    b.online_growth = draw(_unit())
    b.compliance_slack = draw(_unit(0.0, 1.0))
    b.deterrence_scale = draw(_unit(0.0, 100.0))
    b.acquisition_rate = draw(_unit())
    b.exit_months = draw(st.integers(1, 12))
    b.funding_subsidy_max = draw(_unit(0.0, 0.05))
    b.provision_rate = draw(_unit(0.0, 0.1))
    return cfg


@settings(PROFILE, max_examples=N_VALIDATED)
@given(cfg=valid_configs())
def test_generated_configs_are_valid(cfg):
    """The validator accepts every configuration the generator calls valid (no false alarms),
    and validation is a pure check: load_config returns the very object, unchanged.
    """
    assert validate(cfg) == []
    before = copy.deepcopy(cfg)
    assert load_config(cfg) is cfg
    assert cfg == before


@settings(PROFILE, max_examples=N_RUNS)
@given(cfg=valid_configs())
def test_random_valid_configs_keep_every_invariant(cfg):
    """Any valid configuration runs to its last month without an exception, with these kept.

    * every lender's balance sheet balances (cash + loans - provisions == debt + equity) and
      its booked loans and NPLs equal the borrowers' balances it funds, every month;
    * no negative balance (cash, loans, NPLs, provisions, debt, borrowers' balances);
    * no infinity anywhere, and empty cells only where the quantity is undefined (its
      denominator is zero: concentration with nothing outstanding or nothing lent, a rate with
      no lending, an NPL or capital ratio with no book);
    * every set of shares lies in [0, 1] and sums to 1 when anything is outstanding (0 when not);
    * 10,000 / n <= HHI <= 10,000 with n lenders holding positive balances, and HHI equals
      10,000 x the sum of the lenders' squared shares;
    * a month in which no lender is active lends nothing.
    """
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    yearly = tables["market_yearly"]
    event(f"lent: {bool((yearly['lending'] > 0).any())}")
    event(f"exits or acquisitions: {bool((yearly['exits'] + yearly['acquisitions']).sum() > 0)}")
    event(f"entries: {bool(yearly['entries'].sum() > 0)}")
    event(f"every lender gone at some point: {min(model.n_active_monthly) == 0}")
    event(f"nothing outstanding at some point: {min(model.n_positive) == 0}")
    event(f"co-lending: {bool((model.population.own_share < 1).any())}")


_BREAKS = [
    ("market.n_borrowers", lambda c: setattr(c.market, "n_borrowers", 0)),
    ("market.end", lambda c: setattr(c.market, "end", c.market.start)),
    ("market.segments.sme.share", lambda c: setattr(c.market.segments["sme"], "share", 1.5)),
    (
        "market.segments.*.share",
        lambda c: setattr(c.market.segments["sme"], "share", c.market.segments["sme"].share + 0.1),
    ),
    ("lenders.bank.count", lambda c: setattr(c.lenders["bank"], "count", -1)),
    ("regulation.rate_cap_apr", lambda c: setattr(c.regulation, "rate_cap_apr", 0.0)),
    (
        "regulation.co_lending_min_own_share",
        lambda c: setattr(c.regulation, "co_lending_min_own_share", 1.01),
    ),
    (
        "regulation.min_capital_ratio.bank",
        lambda c: c.regulation.min_capital_ratio.__setitem__("bank", -0.1),
    ),
    ("behaviour.search_size", lambda c: setattr(c.behaviour, "search_size", 0)),
    (
        "regulation.timeline[0].date",
        lambda c: c.regulation.timeline.insert(0, {"date": "2099-01", "rate_cap_apr": 0.2}),
    ),
    (
        "regulation.timeline[0].interest_cap",
        lambda c: c.regulation.timeline.insert(0, {"date": c.market.start, "interest_cap": 0.2}),
    ),
    ("market.default_shocks", lambda c: c.market.default_shocks.append(None)),
]


@settings(PROFILE, max_examples=N_BROKEN)
@given(cfg=valid_configs(), which=st.integers(0, len(_BREAKS) - 1))
def test_one_broken_field_is_named(cfg, which):
    """Breaking any one field of a random valid configuration makes load_config refuse it, and
    some line of the error names that field's full key.
    """
    key, breaks = _BREAKS[which]
    breaks(cfg)
    try:
        load_config(cfg)
    except ConfigError as exc:
        assert any(line.startswith(key) for line in exc.problems), (key, exc.problems)
    except Exception as exc:  # pragma: no cover - reported as a failure below
        raise AssertionError(f"{key}: {type(exc).__name__} instead of ConfigError") from exc
    else:
        raise AssertionError(f"{key}: accepted")
