"""Structured configuration: the schema of every Hydra config, as dataclasses.

The values live in the YAML files under ``conf/`` (each with its source); these
dataclasses give their types and are registered in Hydra's ConfigStore as
``schema``, so a misspelt key or a wrongly typed value fails at composition.
Range, sum and ordering rules are checked by :mod:`sim.validation`.

Each field's comment says what it means; a unit the key's name does not
already say (``_cny``, ``_apr``, ``_months``, a share) is written in brackets
at its end, ``[x equity]``. ``lendsim-levers`` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
"""The Hydra config directory (``conf/`` at the top of the project)."""

SEGMENTS: tuple[str, ...] = ("consumer", "sme", "agriculture", "welfare")


@dataclass
class SegmentConfig:
    """One borrower segment: its weight in the population and its loan terms."""

    share: float = MISSING  # fraction of borrowers in this segment
    loan_mean_cny: float = MISSING  # mean loan need, CNY
    loan_sigma: float = MISSING  # lognormal sigma of loan need
    term_months: int = MISSING  # contractual term
    pd_mean: float = MISSING  # mean annual probability of default
    pd_sigma: float = MISSING  # lognormal sigma of the probability of default
    reservation_rate: float = MISSING  # median highest expected cost of credit r (1 - pd) taken
    reservation_sigma: float = MISSING  # lognormal sigma of the reservation rate
    thin_file_share: float = MISSING  # fraction with a thin credit file
    digital_affinity: float = MISSING  # mean affinity for online channels, 0-1
    apply_rate: float = MISSING  # monthly probability that a borrower without a loan applies
    initial_loan_share: float = MISSING  # fraction holding a loan at the start
    business: bool = False  # business loan (online business-loan cap) or personal


@dataclass
class DefaultShock:
    """A temporary rise in default hazards, for a lender type or for all."""

    start: str = MISSING  # first month, "YYYY-MM"
    months: int = MISSING  # duration in months
    multiplier: float = MISSING  # factor on monthly default hazards
    lender_type: str | None = None  # None hits every loan


@dataclass
class MarketConfig:
    """The simulated market: calendar, borrower population and demand."""

    start: str = MISSING  # first simulated month, "YYYY-MM"
    end: str = MISSING  # last simulated month, "YYYY-MM"
    n_borrowers: int = MISSING  # simulated borrowers
    real_borrowers: float = MISSING  # real borrowers the population stands for
    real_outstanding_cny: float = MISSING  # the real small-loan balance the opening book stands for
    n_regions: int = MISSING  # provinces
    segments: dict[str, SegmentConfig] = field(default_factory=dict)
    demand_growth: float = MISSING  # annual growth of application rates
    recovery_rate: float = MISSING  # share of a written-off balance recovered
    writeoff_months: int = MISSING  # months a non-performing loan stays on book
    prepayment_rate: float = MISSING  # monthly probability of early repayment
    default_shocks: list[DefaultShock] = field(default_factory=list)
    lpr: dict[int, float] = field(default_factory=dict)  # one-year loan prime rate by year
    default_cycle: dict[int, float] = field(default_factory=dict)  # hazard factor by year
    risk_need_correlation: float = MISSING  # correlation of log PD and log reservation rate


@dataclass
class LenderTypeConfig:
    """The lenders of one type: how many, how big, their costs and behaviour."""

    count: int = MISSING  # lenders at the start
    initial_share: float = MISSING  # share of outstanding balance at the start
    size_sigma: float = MISSING  # lognormal sigma of size within the type
    funding_spread: float = MISSING  # annual cost of funds over the one-year LPR
    fixed_cost_cny: float = MISSING  # yearly fixed cost of one real institution, real CNY
    institutions: int = MISSING  # real institutions the opening lenders stand for
    cost_of_equity: float = MISSING  # return on equity owners require, annual
    operating_cost: float = MISSING  # annual operating cost per unit of balance
    technology: float = MISSING  # mean risk-model technology, 0-1
    technology_spread: float = MISSING  # uniform spread around the mean
    national_fraction: float = MISSING  # fraction (largest first) present in every region
    regions_served: int = MISSING  # regions a non-national lender is present in
    online_capability: float = MISSING  # mean share of business it can take online, 0-1
    risk_appetite: float = MISSING  # highest annual PD it approves
    markup: float = MISSING  # initial markup over costs, annual
    capital_ratio: float = MISSING  # initial equity / loans
    capital_buffer: float = MISSING  # capital owners keep, as a multiple of the requirement
    dividend_payout: float = MISSING  # share of last year's profit paid out (above the buffer)
    initial_own_share: float = MISSING  # funded share of a co-lender's loans at the start
    entry_rate: float = MISSING  # expected entrants per year at normal profitability
    brand: float = MISSING  # visibility to borrowers, relative


@dataclass
class RegulationConfig:
    """Every regulatory lever, in real units, and a timeline of dated changes."""

    rate_cap_apr: float = MISSING  # highest comprehensive rate a loan may carry [APR]
    min_capital_ratio: dict[str, float] = field(default_factory=dict)  # by type [equity / loans]
    max_leverage: dict[str, float] = field(default_factory=dict)  # by type [loans / equity]
    co_lending_min_own_share: float = MISSING  # part of a co-lent loan the platform funds
    co_lending_partner_cap: float = MISSING  # one bank to one platform [x net capital]
    co_lending_total_cap: float = MISSING  # a bank's co-lent loans [share of its loans]
    online_consumer_loan_cap_cny: float = MISSING  # largest online consumer loan
    online_business_loan_cap_cny: float = MISSING  # largest online loan to a firm
    platform_individual_loan_cap_cny: float = MISSING  # largest platform loan to a person
    single_borrower_limit: float = MISSING  # largest loan to one borrower [x equity]
    online_entry_capital_cny: float = MISSING  # registered capital to enter as a platform
    cross_province_capital_cny: float = MISSING  # capital to lend across provinces
    licence_capital_binds_incumbents: bool = MISSING  # incumbents too must hold it [true/false]
    local_only_lending: bool = MISSING  # local banks and cooperatives stay in their regions
    inspection_probability: float = MISSING  # chance a lender is inspected [per month]
    inspection_penalty: float = MISSING  # fine when caught over the limits [x equity]
    acquisitions_allowed: bool = MISSING  # failing and distressed lenders may be bought
    merger_review_hhi: float = MISSING  # a deal taking HHI above this is reviewed [HHI points]
    merger_review_delta: float = MISSING  # ... and blocked if it raises HHI more [HHI points]
    financing_support: dict[int, float] = field(default_factory=dict)  # policy funding [index]
    tech_subsidy: dict[int, float] = field(default_factory=dict)  # R&D subsidy [index]
    credit_data_coverage: dict[int, float] = field(default_factory=dict)  # thin files covered
    state_capital_budget_cny: float = MISSING  # yearly state capital for policy lenders
    inclusive_lending_target: dict[int, float] = field(default_factory=dict)  # [growth a year]
    timeline: list[dict[str, Any]] = field(default_factory=list)  # dated changes [list]


@dataclass
class BehaviourConfig:
    """Free behavioural parameters (fitted by calibration)."""

    search_size: int = MISSING  # lenders each applicant considers
    rate_sensitivity: float = MISSING  # logit weight on the offered rate, per pp
    online_preference: float = MISSING  # logit weight on convenience x digital affinity
    digital_trend: float = MISSING  # yearly rise in borrowers' digital affinity
    screening_noise: float = MISSING  # sd of the log risk signal at zero technology
    data_sharing_effect: float = MISSING  # noise cut for thin files covered by shared data
    markup_speed: float = MISSING  # monthly adjustment of markups toward the market-power margin
    online_rate_sensitivity: float = MISSING  # factor on rate sensitivity when comparing online
    data_discipline: float = MISSING  # default-rate cut for thin files covered by shared data
    npl_funding_premium: float = MISSING  # funding-cost rise per unit NPL ratio, market-funded
    leverage_funding_premium: float = MISSING  # funding-cost rise at full capital use, market
    data_scale_edge: float = MISSING  # screening-noise cut of a lender with the whole market's book
    capital_charge: float = MISSING  # markup add-on of a lender with capital at its requirement
    exit_years: int = MISSING  # years of ROE below the cost of equity before a lender leaves
    inclusive_response: float = MISSING  # markup cut on business loans per unit target gap
    co_lending_margin: float = MISSING  # partner bank's margin over funds and expected loss
    markup_floor: float = MISSING  # lowest markup, annual
    markup_ceiling: float = MISSING  # highest markup, annual
    tech_investment: float = MISSING  # share of profit reinvested in technology
    tech_efficiency: float = MISSING  # share of the technology gap a large programme closes a year
    tech_scale_cost: float = MISSING  # spend at which a programme reaches half its efficiency, CNY
    tech_depreciation: float = MISSING  # yearly technology decay
    online_growth: float = MISSING  # yearly online-capability gain per unit technology
    compliance_slack: float = MISSING  # leverage overshoot a fully risk-loving lender tries
    deterrence_scale: float = MISSING  # expected yearly penalty that fully deters, inverse
    acquisition_rate: float = MISSING  # yearly chance a distressed or leaving lender is sold
    exit_months: int = MISSING  # months below requirement before resolution
    funding_subsidy_max: float = MISSING  # funding-cost cut for policy lending at full support
    provision_rate: float = MISSING  # provisions on performing loans


@dataclass
class SimConfig:
    """The whole configuration of one run."""

    market: MarketConfig = field(default_factory=MarketConfig)
    lenders: dict[str, LenderTypeConfig] = field(default_factory=dict)
    regulation: RegulationConfig = field(default_factory=RegulationConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    seed: int = 0
    scenario_name: str = "baseline"
    progress: bool = True
    plots: bool = True
    memory_budget_gb: float | None = None  # refuse a larger memory estimate; None: this machine's


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="schema", node=SimConfig)


register_configs()
