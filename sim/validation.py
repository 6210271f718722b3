"""Check a composed configuration before any work starts.

Every problem is reported at once, one line each, naming the full key, the
value and what is allowed. :func:`load_config` turns a Hydra ``DictConfig``
into a validated :class:`~sim.config.SimConfig` or raises :class:`ConfigError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.lenders import LENDER_TYPES
from sim.budget import budget_problems
from sim.calendar import parse_month
from sim.checks import (
    check_flag,
    check_keys,
    check_month,
    check_range,
    check_sum,
    is_number,
    unknown_key_problems,
)
from sim.config import (
    CONF_DIR,
    SEGMENTS,
    BehaviourConfig,
    DefaultShock,
    LenderTypeConfig,
    MarketConfig,
    RegulationConfig,
    SegmentConfig,
    SimConfig,
)
from sim.plausible import plausibility
from sim.regulator import regulation_at

log = logging.getLogger(__name__)

MIN_ENTRY_CAPITAL_CNY = 5e6  # 2008 CBRC/PBoC small-loan company guidance: 5m CNY registered capital
SCENARIO_NAME = re.compile(r"(?!\.{1,2}$)[^/\\\x00-\x1f]{1,100}")
PATH_LEVERS = (
    "financing_support",
    "tech_subsidy",
    "credit_data_coverage",
    "inclusive_lending_target",
)
TYPE_LEVERS = ("min_capital_ratio", "max_leverage")


class ConfigError(ValueError):
    """A configuration that breaks one or more rules; ``problems`` lists them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        """Rebuilt from its list of problems (a worker process sends it back whole)."""
        return type(self), (self.problems,)


def _market_problems(cfg: SimConfig) -> list[str]:
    m = cfg.market
    out = check_month("market.start", m.start, None, None)
    out += check_month("market.end", m.end, None, None)
    if not out and parse_month(m.start) >= parse_month(m.end):
        out.append(f"market.end = {m.end!r}: must be after market.start = {m.start!r}")
    out += check_range("market.n_borrowers", m.n_borrowers, 1, 100_000_000, integer=True)
    out += check_range("market.real_borrowers", m.real_borrowers, 0, 2e9, lo_open=True)
    out += check_range("market.real_outstanding_cny", m.real_outstanding_cny, 0, 1e15, lo_open=True)
    out += check_range("market.n_regions", m.n_regions, 1, 1000, integer=True)
    out += check_range("market.demand_growth", m.demand_growth, -1, 10, lo_open=True)
    out += check_range("market.recovery_rate", m.recovery_rate, 0, 1)
    out += check_range("market.writeoff_months", m.writeoff_months, 1, 120, integer=True)
    out += check_range("market.prepayment_rate", m.prepayment_rate, 0, 1)
    out += check_keys("market.segments", m.segments, SEGMENTS)
    for name, seg in m.segments.items():
        key = f"market.segments.{name}"
        out += check_range(f"{key}.share", seg.share, 0, 1)
        out += check_range(f"{key}.loan_mean_cny", seg.loan_mean_cny, 0, 1e10, lo_open=True)
        out += check_range(f"{key}.loan_sigma", seg.loan_sigma, 0, 5)
        out += check_range(f"{key}.term_months", seg.term_months, 1, 360, integer=True)
        out += check_range(f"{key}.pd_mean", seg.pd_mean, 0, 1, lo_open=True, hi_open=True)
        out += check_range(f"{key}.pd_sigma", seg.pd_sigma, 0, 5)
        out += check_range(f"{key}.reservation_rate", seg.reservation_rate, 0, 10, lo_open=True)
        out += check_range(f"{key}.reservation_sigma", seg.reservation_sigma, 0, 5)
        out += check_range(f"{key}.thin_file_share", seg.thin_file_share, 0, 1)
        out += check_range(f"{key}.digital_affinity", seg.digital_affinity, 0, 1)
        out += check_range(f"{key}.apply_rate", seg.apply_rate, 0, 1)
        out += check_range(f"{key}.initial_loan_share", seg.initial_loan_share, 0, 1)
        out += check_flag(f"{key}.business", seg.business)
    out += check_sum("market.segments.*.share", (s.share for s in m.segments.values()))
    initial = [
        s.share * s.initial_loan_share
        for s in m.segments.values()
        if is_number(s.share) and is_number(s.initial_loan_share)
    ]
    if initial and len(initial) == len(m.segments) and max(initial) <= 0:
        out.append(
            "market.segments.*.initial_loan_share: 0 in every segment with borrowers; lenders "
            "are sized from the initial book, so at least one populated segment needs a share "
            "above 0"
        )
    out += check_range("market.risk_need_correlation", m.risk_need_correlation, -1, 1)
    out += _yearly_path_problems("market.lpr", m.lpr, lambda k, v: check_range(k, v, -0.05, 1))
    out += _yearly_path_problems(
        "market.default_cycle", m.default_cycle, lambda k, v: check_range(k, v, 0, 1000), False
    )
    run = _run_months(cfg)
    for i, shock in enumerate(m.default_shocks):
        key = f"market.default_shocks[{i}]"
        out += check_month(f"{key}.start", shock.start, *run)
        out += check_range(f"{key}.months", shock.months, 1, 1200, integer=True)
        out += check_range(f"{key}.multiplier", shock.multiplier, 0, 1000)
        if shock.lender_type is not None and shock.lender_type not in LENDER_TYPES:
            out.append(
                f"{key}.lender_type = {shock.lender_type!r}: allowed null or one of "
                + ", ".join(LENDER_TYPES)
            )
    return out


def _yearly_path_problems(
    key: str,
    path: Mapping[int, float],
    check_value: Callable[[str, Any], list[str]],
    required: bool = True,
) -> list[str]:
    """Problems with a path of values by year (years 1900-2200, each value by ``check_value``)."""
    out = [f"{key}: empty; give a value for at least one year"] if required and not path else []
    for year, value in path.items():
        out += check_range(f"{key}.{year}", year, 1900, 2200, integer=True)
        out += check_value(f"{key}.{year}", value)
    return out


def _run_months(cfg: SimConfig) -> tuple[int | None, int | None]:
    try:
        return parse_month(cfg.market.start), parse_month(cfg.market.end)
    except ValueError:
        return None, None


def _lender_problems(cfg: SimConfig) -> list[str]:
    out = check_keys("lenders", cfg.lenders, LENDER_TYPES)
    total = 0
    counts_valid = True
    for name, lt in cfg.lenders.items():
        key = f"lenders.{name}"
        count_problems = check_range(f"{key}.count", lt.count, 0, 100_000, integer=True)
        out += count_problems
        counts_valid = counts_valid and not count_problems
        total += lt.count if isinstance(lt.count, int) else 0
        out += check_range(f"{key}.initial_share", lt.initial_share, 0, 1)
        if lt.count == 0 and is_number(lt.initial_share) and lt.initial_share > 0:
            out.append(f"{key}.initial_share = {lt.initial_share!r}: must be 0 when count is 0")
        if lt.count and is_number(lt.initial_share) and lt.initial_share == 0:
            out.append(f"{key}.initial_share = 0: must be above 0 when count is above 0")
        out += check_range(f"{key}.size_sigma", lt.size_sigma, 0, 5)
        out += check_range(f"{key}.funding_spread", lt.funding_spread, -1, 1)
        out += check_range(f"{key}.fixed_cost_cny", lt.fixed_cost_cny, 0, 1e13)
        out += check_range(f"{key}.institutions", lt.institutions, 1, 10_000_000, integer=True)
        out += check_range(f"{key}.cost_of_equity", lt.cost_of_equity, 0, 1)
        out += check_range(f"{key}.operating_cost", lt.operating_cost, 0, 1)
        out += check_range(f"{key}.technology", lt.technology, 0, 1)
        out += check_range(f"{key}.technology_spread", lt.technology_spread, 0, 1)
        out += check_range(f"{key}.national_fraction", lt.national_fraction, 0, 1)
        n_regions = cfg.market.n_regions
        if check_range("", n_regions, 1, 1000, integer=True):
            n_regions = 1000  # market.n_regions is reported on its own
        out += check_range(f"{key}.regions_served", lt.regions_served, 1, n_regions, integer=True)
        out += check_range(f"{key}.online_capability", lt.online_capability, 0, 1)
        out += check_range(f"{key}.risk_appetite", lt.risk_appetite, 0, 1, lo_open=True)
        out += check_range(f"{key}.markup", lt.markup, 0, 1)
        out += check_range(f"{key}.capital_ratio", lt.capital_ratio, 0, 1, lo_open=True)
        out += check_range(f"{key}.capital_buffer", lt.capital_buffer, 1, 100)
        out += check_range(f"{key}.dividend_payout", lt.dividend_payout, 0, 1)
        out += check_range(f"{key}.initial_own_share", lt.initial_own_share, 0, 1, lo_open=True)
        out += check_range(f"{key}.entry_rate", lt.entry_rate, 0, 1000)
        out += check_range(f"{key}.brand", lt.brand, 0, 100, lo_open=True)
    if total < 1 and counts_valid and cfg.lenders:
        out.append("lenders.*.count: the counts sum to 0; at least one lender is required")
    out += check_sum("lenders.*.initial_share", (lt.initial_share for lt in cfg.lenders.values()))
    return out


def _lever_checks() -> dict[str, Callable[[str, Any], list[str]]]:
    """One check per scalar regulation lever, keyed by its name."""

    def rng(lo: float, hi: float, **kw: bool) -> Callable[[str, Any], list[str]]:
        return lambda key, value: check_range(key, value, lo, hi, **kw)

    flag = check_flag

    return {
        "rate_cap_apr": rng(0, 1, lo_open=True),  # above 1 (100 % APR) no cap binds
        "co_lending_min_own_share": rng(0, 1),
        "co_lending_partner_cap": rng(0, 100),
        "co_lending_total_cap": rng(0, 1),
        "online_consumer_loan_cap_cny": rng(0, 1e12, lo_open=True),
        "online_business_loan_cap_cny": rng(0, 1e12, lo_open=True),
        "platform_individual_loan_cap_cny": rng(0, 1e12, lo_open=True),
        "single_borrower_limit": rng(0, 1, lo_open=True),
        # entrants scale as (1e9 / capital) ** 0.5, unbounded as capital -> 0; the floor is
        # the 2008 CBRC/PBoC guidance's 5m CNY minimum registered capital of a small-loan company
        "online_entry_capital_cny": rng(MIN_ENTRY_CAPITAL_CNY, 1e13),
        "cross_province_capital_cny": rng(MIN_ENTRY_CAPITAL_CNY, 1e13),
        "local_only_lending": flag,
        "licence_capital_binds_incumbents": flag,
        "inspection_probability": rng(0, 1),
        "inspection_penalty": rng(0, 1),
        "acquisitions_allowed": flag,
        "merger_review_hhi": rng(0, 10_000),
        "merger_review_delta": rng(0, 10_000),
        "state_capital_budget_cny": rng(0, 1e14),
        "inclusive_lending_target": rng(0, 10),
        "min_capital_ratio": rng(0, 1),
        "max_leverage": rng(0, 1000, lo_open=True),
        "financing_support": rng(0, 1),
        "tech_subsidy": rng(0, 1),
        "credit_data_coverage": rng(0, 1),
    }


LEVER_CHECKS = _lever_checks()
SCALAR_LEVERS = tuple(
    f.name
    for f in fields(RegulationConfig)
    if f.name not in (*PATH_LEVERS, *TYPE_LEVERS, "timeline")
)


def lever_problems(key: str, lever: str, value: Any) -> list[str]:
    """Problems with one lever value; ``lever`` may be dotted (``max_leverage.bank``)."""
    name, _, sub = lever.partition(".")
    if name in SCALAR_LEVERS and not sub:
        return LEVER_CHECKS[name](key, value)
    if name in TYPE_LEVERS and sub in LENDER_TYPES:
        return LEVER_CHECKS[name](key, value)
    if name in PATH_LEVERS and not sub:
        return LEVER_CHECKS[name](key, value)
    allowed = [*SCALAR_LEVERS, *PATH_LEVERS]
    allowed += [f"{t}.{lt}" for t in TYPE_LEVERS for lt in LENDER_TYPES]
    return [f"{key}: unknown regulation lever {lever!r}; allowed: {', '.join(allowed)}"]


def _regulation_problems(cfg: SimConfig) -> list[str]:
    reg = cfg.regulation
    out: list[str] = []
    for name in SCALAR_LEVERS:
        out += LEVER_CHECKS[name](f"regulation.{name}", getattr(reg, name))
    for name in TYPE_LEVERS:
        mapping = getattr(reg, name)
        out += check_keys(f"regulation.{name}", mapping, LENDER_TYPES)
        for lt, value in mapping.items():
            out += LEVER_CHECKS[name](f"regulation.{name}.{lt}", value)
    for name in PATH_LEVERS:
        out += _yearly_path_problems(f"regulation.{name}", getattr(reg, name), LEVER_CHECKS[name])
    if (
        is_number(reg.online_entry_capital_cny)
        and is_number(reg.cross_province_capital_cny)
        and reg.cross_province_capital_cny < reg.online_entry_capital_cny
    ):
        out.append(
            f"regulation.cross_province_capital_cny = {reg.cross_province_capital_cny!r}: "
            "must be at least regulation.online_entry_capital_cny"
        )
    run = _run_months(cfg)
    timeline: list[str] = []
    for i, change in enumerate(reg.timeline):
        key = f"regulation.timeline[{i}]"
        if not isinstance(change, Mapping) or "date" not in change:
            timeline.append(
                f"{key} = {change!r}: must be a mapping with a 'date' (YYYY-MM) and levers"
            )
            continue
        timeline += check_month(f"{key}.date", change["date"], *run)
        levers = [k for k in change if k != "date"]
        if not levers:
            timeline.append(f"{key}: names no lever to change besides its date")
        for lever in levers:
            timeline += lever_problems(f"{key}.{lever}", str(lever), change[lever])
    if not timeline:
        timeline += _timeline_clash_problems(reg)
    if not timeline and not out:
        timeline += _timeline_order_problems(reg)
    return out + timeline


def _timeline_clash_problems(reg: RegulationConfig) -> list[str]:
    """Two dated changes of the same lever in the same month: which wins would be an accident."""
    seen: dict[tuple[int, str], int] = {}
    out = []
    for i, change in enumerate(reg.timeline):
        month = parse_month(change["date"])
        for lever in (str(k) for k in change if k != "date"):
            first = seen.setdefault((month, lever), i)
            if first != i:
                out.append(
                    f"regulation.timeline[{i}].{lever}: regulation.timeline[{first}] already "
                    f"changes {lever} in {change['date']}; which one wins would depend on their "
                    "order: give one value per lever and month"
                )
    return out


def _timeline_order_problems(reg: RegulationConfig) -> list[str]:
    """Cross-lever rules that must also hold after each dated change."""
    out = []
    for i, change in enumerate(reg.timeline):
        in_force = regulation_at(reg, parse_month(change["date"]))
        if in_force.cross_province_capital_cny < in_force.online_entry_capital_cny:
            out.append(
                f"regulation.timeline[{i}]: from {change['date']} "
                f"regulation.cross_province_capital_cny = {in_force.cross_province_capital_cny!r}"
                f" would be below regulation.online_entry_capital_cny = "
                f"{in_force.online_entry_capital_cny!r}; it must be at least that"
            )
    return out


def _behaviour_problems(cfg: SimConfig) -> list[str]:
    b = cfg.behaviour
    out = check_range("behaviour.search_size", b.search_size, 1, 50, integer=True)
    out += check_range("behaviour.rate_sensitivity", b.rate_sensitivity, 0, 100)
    out += check_range("behaviour.online_preference", b.online_preference, 0, 100)
    out += check_range("behaviour.digital_trend", b.digital_trend, 0, 1)
    out += check_range("behaviour.screening_noise", b.screening_noise, 0, 10)
    out += check_range("behaviour.data_sharing_effect", b.data_sharing_effect, 0, 1)
    out += check_range("behaviour.markup_speed", b.markup_speed, 0, 1)
    out += check_range("behaviour.markup_floor", b.markup_floor, 0, 1)
    out += check_range("behaviour.markup_ceiling", b.markup_ceiling, 0, 1)
    floor, ceiling = b.markup_floor, b.markup_ceiling
    if is_number(floor) and is_number(ceiling) and floor > ceiling:
        out.append(
            f"behaviour.markup_ceiling = {b.markup_ceiling!r}: must be at least "
            f"behaviour.markup_floor = {b.markup_floor!r}"
        )
    out += check_range("behaviour.tech_investment", b.tech_investment, 0, 1)
    out += check_range("behaviour.tech_efficiency", b.tech_efficiency, 0, 1)
    out += check_range("behaviour.tech_scale_cost", b.tech_scale_cost, 0, 1e12)
    out += check_range("behaviour.tech_depreciation", b.tech_depreciation, 0, 1)
    out += check_range("behaviour.online_growth", b.online_growth, 0, 1)
    out += check_range("behaviour.compliance_slack", b.compliance_slack, 0, 10)
    out += check_range("behaviour.deterrence_scale", b.deterrence_scale, 0, 1e6)
    out += check_range("behaviour.acquisition_rate", b.acquisition_rate, 0, 1)
    out += check_range("behaviour.exit_months", b.exit_months, 1, 120, integer=True)
    out += check_range("behaviour.funding_subsidy_max", b.funding_subsidy_max, 0, 1)
    out += check_range("behaviour.provision_rate", b.provision_rate, 0, 1)
    out += check_range("behaviour.online_rate_sensitivity", b.online_rate_sensitivity, 0, 100)
    out += check_range("behaviour.data_discipline", b.data_discipline, 0, 1)
    out += check_range("behaviour.npl_funding_premium", b.npl_funding_premium, 0, 100)
    out += check_range("behaviour.leverage_funding_premium", b.leverage_funding_premium, 0, 1)
    out += check_range("behaviour.capital_charge", b.capital_charge, 0, 1)
    out += check_range("behaviour.data_scale_edge", b.data_scale_edge, 0, 1, hi_open=True)
    out += check_range("behaviour.exit_years", b.exit_years, 1, 100, integer=True)
    out += check_range("behaviour.inclusive_response", b.inclusive_response, 0, 10)
    out += check_range("behaviour.co_lending_margin", b.co_lending_margin, 0, 1)
    return out


def _structure_problems(cfg: SimConfig) -> list[str]:
    """Entries of the wrong kind (possible only when a SimConfig is built in Python)."""
    expected = [
        ("market", cfg.market, MarketConfig),
        ("regulation", cfg.regulation, RegulationConfig),
        ("behaviour", cfg.behaviour, BehaviourConfig),
    ]
    expected += [(f"market.segments.{k}", v, SegmentConfig) for k, v in cfg.market.segments.items()]
    expected += [(f"lenders.{k}", v, LenderTypeConfig) for k, v in cfg.lenders.items()]
    expected += [
        (f"market.default_shocks[{i}]", v, DefaultShock)
        for i, v in enumerate(cfg.market.default_shocks)
    ]
    return [
        f"{key} = {value!r}: must be a {kind.__name__} (a mapping of its fields)"
        for key, value, kind in expected
        if not isinstance(value, kind)
    ]


def validate(cfg: SimConfig) -> list[str]:
    """All problems with a configuration, one line each; empty when it is valid."""
    try:
        structure = _structure_problems(cfg)
    except AttributeError as exc:
        return [f"config: not a SimConfig ({exc})"]
    if structure:
        return structure
    out = check_range("seed", cfg.seed, 0, 2**63 - 1, integer=True)
    name = cfg.scenario_name
    if not isinstance(name, str) or not SCENARIO_NAME.fullmatch(name):
        out.append(
            f"scenario_name = {name!r}: must be 1-100 characters without '/', '\\' or "
            "control characters, and not '.' or '..' (it names the run directory)"
        )
    out += check_flag("progress", cfg.progress)
    out += check_flag("plots", cfg.plots)
    if cfg.memory_budget_gb is not None:
        out += check_range("memory_budget_gb", cfg.memory_budget_gb, 0, 1e6, lo_open=True)
    return (
        out
        + _market_problems(cfg)
        + _lender_problems(cfg)
        + _regulation_problems(cfg)
        + _behaviour_problems(cfg)
    )


def compose_dictconfig(*overrides: str, with_hydra: bool = False) -> DictConfig:
    """The composed (unvalidated) config that ``lendsim OVERRIDES`` would run.

    ``with_hydra`` keeps Hydra's own node (``hydra.sweeper`` ...) in the result.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose("config", list(overrides), return_hydra_config=with_hydra)


def compose(*overrides: str) -> SimConfig:
    """The validated config that ``lendsim OVERRIDES`` would run (baseline by default)."""
    return load_config(compose_dictconfig(*overrides))


def load_config(cfg: DictConfig | SimConfig, warn: bool = True) -> SimConfig:
    """Convert (if needed) and validate; raise :class:`ConfigError` listing every problem.

    After the representable ranges come the plausible ones (:mod:`sim.plausible`)
    and the work a run needs (:mod:`sim.budget`); a value outside its plausible
    range but inside its stress range is logged as a WARNING (when ``warn``).
    """
    if not isinstance(cfg, SimConfig):
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError([f"{key}: missing; a value is required" for key in missing])
        try:
            cfg = OmegaConf.to_object(cfg)
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None) or "config"
            message = str(exc).splitlines()[0]
            raise ConfigError([f"{key}: {message}"]) from exc
    problems = unknown_key_problems(cfg) + validate(cfg)
    named = {line.split(" ", 1)[0].rstrip(":") for line in problems}
    implausible, warnings = plausibility(cfg, skip=named)
    problems += implausible
    if not problems:
        problems += budget_problems(cfg)
    if problems:
        raise ConfigError(problems)
    if warn:
        for line in warnings:
            log.warning(line)
    return cfg
