"""Lender agents: a Mesa ``Agent`` base and the four lender types, each owning its rules.

An agent owns one row of the model's :class:`~agents.lender_book.LenderBook`
(its id). A type's decisions are class methods applied at once to that type's
rows of the book (``rows``: lender ids, ascending): licence review, partner
choice, co-lending split, entry, state capital support, markup adaptation,
technology investment, capital charge, dividends, owners' exit and (large banks) the
inclusive-lending push. Traits that differ by type are class attributes; the
market and the regulator read them through :func:`trait`, so no code outside
this module branches on a lender's type. A fifth type is one more class here
(registered in ``LENDER_CLASSES``) and one more block in ``conf/lenders/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from agents.lender_book import LenderBook
from agents.loan_table import NO_LENDER
from sim.finance import (
    capital_charge,
    co_lending_split,
    market_power_markup,
    next_markup,
    technology_gain,
)

if TYPE_CHECKING:
    from sim.config import BehaviourConfig, LenderTypeConfig, RegulationConfig

ENTRY_CAPITAL_REFERENCE = 1e9  # the 2020-11 draft's 1bn CNY: entrants' capital with no incumbents
ENTRY_PROFIT_RESPONSE = 10.0  # calibration assumption: entry rate x (1 + 10 x the type's ROE)
ENTRY_RESPONSE_MAX = 3.0  # at most three times the normal entry rate


class Lender(mesa.Agent):
    """A lender of some type; its numeric state lives in ``model.book`` row ``lender_id``."""

    lender_type: ClassVar[str] = ""
    type_code: ClassVar[int] = -1  # index in LENDER_TYPES, set when registered
    online_only: ClassVar[bool] = False  # originates online only (no branches to lend from)
    platform_loan_cap: ClassVar[bool] = False  # bound by the platform individual-loan cap
    co_lends: ClassVar[bool] = False  # originates loans a partner bank co-funds
    partner_type: ClassVar[str | None] = None  # the type its co-lending partners are of
    sellable: ClassVar[bool] = True  # may be bought when weak (not only when failing)
    acquired_by: ClassVar[tuple[str, ...]] = ()  # types that may acquire it
    mandate_segments: ClassVar[tuple[str, ...]] = ()
    mandate_visibility: ClassVar[float] = 1.0  # visibility factor to mandate-segment borrowers
    mandate_appetite: ClassVar[float] = 1.0  # risk-appetite factor for mandate-segment borrowers
    state_funding_share: ClassVar[float] = 0.0  # share of the policy funding cut on all its loans
    mandate_funding_share: ClassVar[float] = 0.5  # share of the policy funding cut on mandate loans
    relationship_noise_cut: ClassVar[float] = 0.0  # signal-noise cut on borrowers met at branches
    thin_file_edge: ClassVar[float] = 0.0  # share of the thin-file noise penalty its models remove
    market_funded: ClassVar[bool] = False  # funds itself in markets that price its NPLs
    leaves_when_unprofitable: ClassVar[bool] = True  # owners exit when ROE stays below cost
    prices_capital: ClassVar[bool] = True  # charges for a thin capital cushion (price_capital)

    def __init__(self, model: mesa.Model, lender_id: int) -> None:
        super().__init__(model)
        self.lender_id = lender_id

    @property
    def equity(self) -> float:
        """Equity capital, CNY."""
        return float(self.model.book.equity[self.lender_id])

    @property
    def loans(self) -> float:
        """Gross loans funded, CNY."""
        return float(self.model.book.loans[self.lender_id])

    @property
    def capital_ratio(self) -> float:
        """Equity / loans (infinite with no loans)."""
        return float(self.model.book.capital_ratio()[self.lender_id])

    # ------------------------------------------------------------- yearly
    @classmethod
    def review_licences(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        reg: RegulationConfig,
        lt: LenderTypeConfig,
        enforce: bool = True,
        money_scale: float = 1.0,
    ) -> np.ndarray:
        """Adjust where the lenders may lend under their licences; return those that lose one.

        No licence limit by default. Without ``enforce`` (the lenders of the start
        month, licensed under the rules before) only the reach is set. Capital rules
        in real CNY apply at ``money_scale`` (the simulated balance sheets' size
        relative to the real ones, ``Market.money_scale``).
        """
        return rows[:0]

    @classmethod
    def choose_partners(cls, book: LenderBook, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Pick co-lending partners (lenders that do not co-lend have none)."""

    @classmethod
    def invest_in_technology(
        cls, book: LenderBook, rows: np.ndarray, subsidy: float, b: BehaviourConfig
    ) -> None:
        """Spend part of last year's profit on technology; subsidised by policy support.

        The lender pays ``spend x (1 - subsidy)`` and its programme counts as
        ``spend x (1 + subsidy)`` (``technology_gain``); technology depreciates and
        online capability follows technology whether or not anything is spent.
        """
        spend = b.tech_investment * np.maximum(book.profit_ytd[rows], 0.0)
        tech = technology_gain(
            book.technology[rows],
            spend,
            subsidy,
            b.tech_efficiency,
            b.tech_scale_cost,
            b.tech_depreciation,
        )
        online = book.online_capability[rows]
        book.online_capability[rows] = np.minimum(
            1.0, online + b.online_growth * tech * (1.0 - online)
        )
        book.technology[rows] = tech
        book.charge(rows, spend * (1.0 - subsidy))

    @classmethod
    def entry_rate(cls, lt: LenderTypeConfig, roe: float, reg: RegulationConfig) -> float:
        """Expected entrants this year: the normal rate, more when the type is profitable."""
        return lt.entry_rate * float(
            np.clip(1.0 + ENTRY_PROFIT_RESPONSE * roe, 0.0, ENTRY_RESPONSE_MAX)
        )

    @classmethod
    def entrant_capital(
        cls,
        equity: np.ndarray,
        rate: float,
        reg: RegulationConfig,
        lt: LenderTypeConfig,
        rng: np.random.Generator,
        money_scale: float = 1.0,
    ) -> np.ndarray:
        """Equity of each entrant (their number drawn first): a tenth to half the median.

        Without incumbents the median is ``ENTRY_CAPITAL_REFERENCE`` at ``money_scale``.
        """
        reference = ENTRY_CAPITAL_REFERENCE * money_scale
        median = float(np.median(equity)) if equity.size else reference
        return median * rng.uniform(0.1, 0.5, rng.poisson(rate))

    # ------------------------------------------------------------ monthly
    @classmethod
    def capital_support(
        cls, book: LenderBook, rows: np.ndarray, target_ratio: np.ndarray, support: float
    ) -> np.ndarray:
        """Equity the state injects into each of ``rows`` this month (none by default)."""
        return np.zeros(rows.size)

    @classmethod
    def adapt_markups(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        share: np.ndarray,
        online_share: np.ndarray,
        b: BehaviourConfig,
    ) -> None:
        """Move the markup toward the margin its market power allows; up when out of room.

        ``share`` is each lender's share of the lending where it lends and
        ``online_share`` the online part of its own lending (``market_power_markup``).
        """
        target = market_power_markup(
            b.rate_sensitivity, b.online_rate_sensitivity, online_share[rows], share[rows]
        )
        book.markup[rows] = next_markup(
            book.markup[rows],
            book.capacity_bound[rows],
            target,
            b.markup_speed,
            b.markup_floor,
            b.markup_ceiling,
        )

    @classmethod
    def price_capital(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        target_ratio: np.ndarray,
        min_ratio: np.ndarray,
        price: float,
    ) -> None:
        """Price the capital a loan uses: more the thinner the cushion over the requirement.

        Below its owners' buffer (``target_ratio``) a lender adds up to ``price``
        to its offers, all of it at its requirement (``capital_charge``), so it
        slows its growth by price before its room runs out; its markup itself
        still follows its market power (``adapt_markups``). A type whose capital
        is not its owners' (``prices_capital`` false) charges nothing.
        """
        book.capital_charge[rows] = cls.prices_capital * capital_charge(
            book.capital_ratio()[rows], target_ratio[rows], min_ratio[rows], price
        )

    @staticmethod
    def capital_base(book: LenderBook, rows: np.ndarray) -> np.ndarray:
        """The book owners keep capital for: the larger of this month's and the year's.

        A book that dipped for a month keeps the capital of its business
        (``loans_trend``), so a chance dip is not made permanent.
        """
        return np.maximum(np.maximum(book.loans[rows], book.loans_trend[rows]), 0.0)

    @classmethod
    def pay_dividends(
        cls, book: LenderBook, rows: np.ndarray, needed: np.ndarray, payout: float
    ) -> np.ndarray:
        """January: pay ``payout`` of last year's profit, from capital above the need only.

        Owners take a share of the year's profit (the type's ``dividend_payout``)
        and keep the rest to grow on; they never pay out of the capital the book
        needs (``needed``: the buffer over the requirement on ``capital_base``).
        Retained profit accumulates, so a lender's room to lend follows its
        earnings, not last year's book. Returns what each of ``rows`` paid.
        """
        excess = np.maximum(book.equity[rows] - needed[rows], 0.0)
        paid = np.minimum(excess, payout * np.maximum(book.profit_ytd[rows], 0.0))
        paid *= book.loans[rows] > 0
        book.equity[rows] -= paid
        book.cash[rows] -= paid
        return paid

    @classmethod
    def decide_exit(
        cls, book: LenderBook, rows: np.ndarray, roe: np.ndarray, exit_years: int
    ) -> np.ndarray:
        """January: which of ``rows`` leave because ROE stayed below the cost of equity.

        ``roe`` is last year's return on equity of each of ``rows``; a lender whose
        ROE has been below its owners' cost of equity for ``exit_years`` years in a
        row leaves (sold if a buyer is found, else wound down).
        """
        below = roe < book.cost_of_equity[rows]
        book.years_below_coe[rows] = np.where(below, book.years_below_coe[rows] + 1, 0)
        if not cls.leaves_when_unprofitable:
            return rows[:0]
        return rows[book.years_below_coe[rows] >= exit_years]

    @classmethod
    def set_inclusive_push(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        target_growth: float,
        year_fraction: float,
        b: BehaviourConfig,
    ) -> None:
        """Inclusive-lending targets bind only large banks (none by default)."""
        book.business_discount[rows] = 0.0


class CommercialBank(Lender):
    """A commercial bank: deep capital, funds platforms' loans as a co-lending partner."""

    lender_type = "bank"
    acquired_by = ("bank",)

    @classmethod
    def set_inclusive_push(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        target_growth: float,
        year_fraction: float,
        b: BehaviourConfig,
    ) -> None:
        """Large (national) banks behind their inclusive-lending growth target cut business rates.

        The gap is the target growth of small-business and farm lending minus the
        growth so far this year (lending since January against last year's over
        the same ``year_fraction`` of a year); the rate cut is ``inclusive_response``
        times the gap (the window guidance paired the targets with lower rates), at
        most the bank's markup. Regional banks are not bound.
        """
        large = book.national[rows]
        last = book.business_lending_last[rows] * year_fraction
        with np.errstate(divide="ignore", invalid="ignore"):
            growth = np.where(last > 0, book.business_lending[rows] / last - 1.0, target_growth)
        gap = np.maximum(target_growth - growth, 0.0) if target_growth > 0 else 0.0 * growth
        cut = np.minimum(b.inclusive_response * gap, book.markup[rows])
        book.business_discount[rows] = np.where(large, cut, 0.0)

    @classmethod
    def partner_pull(cls, book: LenderBook, banks: np.ndarray, size: np.ndarray) -> np.ndarray:
        """How strongly each of ``banks`` (of ``size``) draws co-lending platforms, unnormalised.

        A bank funds platform loans to reach borrowers beyond its branches, so its
        pull is its size times the regions it is not present in, plus one (national
        banks partner too): regional banks, short of reach, fund much of platforms'
        lending, which is why the 2021 notice confined their co-lending to their
        home regions.
        """
        absent = book.n_regions - book.presence[banks].sum(axis=1) + 1
        return size * absent

    @classmethod
    def partner_room(
        cls,
        book: LenderBook,
        banks: np.ndarray,
        exposure: np.ndarray,
        own_room: np.ndarray,
        reg: RegulationConfig,
        platforms: np.ndarray,
    ) -> np.ndarray:
        """Co-funding each bank offers the platform partnered with it (one entry per platform).

        ``banks`` is the partner of each co-lending platform (``platforms``) and
        ``exposure`` what the bank already funds for it. Within the single-partner
        cap (a multiple of the bank's equity) and the total cap (a share of its
        loans), the bank's own lending room and total cap are shared equally among
        its platforms. Under local-only rules a regional bank funds only the
        platform's lending in its own regions: its room shrinks to the share of the
        platform's regions it is present in.
        """
        n = book.n
        bank_total = np.bincount(banks, weights=exposure, minlength=n)
        sharing = np.bincount(banks, minlength=n)
        room = np.minimum.reduce(
            [
                reg.co_lending_partner_cap * np.maximum(book.equity[banks], 0.0) - exposure,
                (reg.co_lending_total_cap * book.loans[banks] - bank_total[banks]) / sharing[banks],
                own_room[banks] / sharing[banks],
            ]
        )
        if reg.local_only_lending:
            platform_regions = book.presence[platforms]
            common = (book.presence[banks] & platform_regions).sum(axis=1)
            reach = common / np.maximum(platform_regions.sum(axis=1), 1)
            room = room * np.where(book.national[banks], 1.0, reach)
        return np.where(book.active[banks], room, 0.0)


class CreditCooperative(Lender):
    """An urban or rural credit cooperative: low cost, local."""

    lender_type = "credit_cooperative"
    acquired_by = ("bank", "credit_cooperative")
    # calibration assumption: relationship lending (Petersen and Rajan 1994) cuts the
    # signal noise on borrowers met at a branch by 30 %
    relationship_noise_cut = 0.30


class OnlinePlatform(Lender):
    """An internet small-loan platform: online only; co-lends with a partner bank."""

    lender_type = "online_platform"
    online_only = True
    platform_loan_cap = True
    co_lends = True
    partner_type = "bank"
    # Commercial Banking Law art. 43: banks may not invest in non-bank financial
    # institutions or enterprises, so only platforms buy platforms
    acquired_by = ("online_platform",)
    # calibration assumption: payment and platform data remove half the thin-file penalty
    thin_file_edge = 0.5
    market_funded = True  # bank credit lines and ABS, priced on its asset quality
    # PBOC, end-2019: 7,551 small-loan companies with 809.8bn CNY of paid-in capital
    ENTRANT_CAPITAL_MEAN_CNY = 809.8e9 / 7551

    @classmethod
    def review_licences(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        reg: RegulationConfig,
        lt: LenderTypeConfig,
        enforce: bool = True,
        money_scale: float = 1.0,
    ) -> np.ndarray:
        """The licence rules, for incumbents too where the rules say so.

        Where ``licence_capital_binds_incumbents``, a platform short of the
        registered capital an online lender needs raises it if last year's profit
        would still pay its owners' cost of equity on the larger capital, else it
        loses its licence (returned). It lends across provinces only with the
        cross-province capital, else it shrinks to its home province.
        """
        binding = enforce and reg.licence_capital_binds_incumbents
        required = reg.online_entry_capital_cny * money_scale
        national_capital = reg.cross_province_capital_cny * money_scale
        short = binding & (book.equity[rows] < required)
        pays = book.profit_last_year[rows] >= book.cost_of_equity[rows] * required
        raising = rows[short & pays]
        gap = required - book.equity[raising]
        book.equity[raising] += gap
        book.cash[raising] += gap
        for row in rows:
            national = book.equity[row] >= national_capital
            if national != book.national[row]:
                book.set_presence(int(row), bool(national), lt.regions_served)
        return rows[short & ~pays]

    @classmethod
    def choose_partners(cls, book: LenderBook, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Each platform without an active partner bank picks one, by the bank's pull."""
        banks = book.rows(LENDER_CLASSES[cls.partner_type].type_code)
        partner_cls = LENDER_CLASSES[cls.partner_type]
        pull = partner_cls.partner_pull(book, banks, np.maximum(book.loans[banks], 0.0) + 1.0)
        for row in rows:
            partner = book.partner[row]
            if partner >= 0 and book.active[partner]:
                continue
            if banks.size == 0:
                book.partner[row] = NO_LENDER
                continue
            book.partner[row] = rng.choice(banks, p=pull / pull.sum())

    @classmethod
    def co_lending_terms(
        cls, own_room: np.ndarray, partner_room: np.ndarray, reg: RegulationConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """Own funding share and origination capacity: the smallest own share allowed."""
        return co_lending_split(own_room, partner_room, reg.co_lending_min_own_share)

    @classmethod
    def entrant_capital(
        cls,
        equity: np.ndarray,
        rate: float,
        reg: RegulationConfig,
        lt: LenderTypeConfig,
        rng: np.random.Generator,
        money_scale: float = 1.0,
    ) -> np.ndarray:
        """Would-be entrants (``rate`` a year) whose capital meets the registered-capital bar.

        A would-be entrant's capital is lognormal with the mean of China's
        small-loan companies (``ENTRANT_CAPITAL_MEAN_CNY``) and the type's
        ``size_sigma``; only those with at least ``online_entry_capital_cny`` get a
        licence. A higher bar so lets fewer in, and only large ones. Both are real
        CNY, taken to the simulated balance sheets at ``money_scale``.
        """
        sigma = lt.size_sigma
        median = cls.ENTRANT_CAPITAL_MEAN_CNY * np.exp(-0.5 * sigma**2)
        capital = median * rng.lognormal(0.0, sigma, rng.poisson(rate))
        return money_scale * capital[capital >= reg.online_entry_capital_cny]


class PolicyLender(Lender):
    """A state policy lender: mandate for agriculture and welfare, no profit-seeking markup."""

    lender_type = "policy_lender"
    sellable = False  # state-owned: not for sale, recapitalised by the state instead
    acquired_by = ("policy_lender", "bank")
    mandate_segments = ("agriculture", "welfare")
    mandate_visibility = 2.0  # calibration assumption: twice as visible to its mandate segments
    mandate_appetite = 1.5  # calibration assumption: accepts 50 % higher risk there
    state_funding_share = 1.0  # report: policy lenders are state-funded
    mandate_funding_share = 0.0  # its whole book already gets the full cut
    leaves_when_unprofitable = False  # a mandate, not owners' return, keeps it in the market
    prices_capital = False  # its capital is the state's: not priced into its loans

    @classmethod
    def capital_support(
        cls, book: LenderBook, rows: np.ndarray, target_ratio: np.ndarray, support: float
    ) -> np.ndarray:
        """The state tops up equity towards ``target_ratio`` x loans, in proportion to support.

        The top-up is the financing-support index times the gap (report: policy
        lenders are state-funded).
        """
        gap = np.maximum(target_ratio[rows] * book.loans[rows] - book.equity[rows], 0.0)
        return support * gap

    @classmethod
    def adapt_markups(
        cls,
        book: LenderBook,
        rows: np.ndarray,
        share: np.ndarray,
        online_share: np.ndarray,
        b: BehaviourConfig,
    ) -> None:
        """Policy lenders keep their (non-profit) markup."""


LENDER_CLASSES: dict[str, type[Lender]] = {
    cls.lender_type: cls
    for cls in (CommercialBank, CreditCooperative, OnlinePlatform, PolicyLender)
}
"""Every lender type by name, in type-code order."""

LENDER_TYPES: tuple[str, ...] = tuple(LENDER_CLASSES)
for _code, _cls in enumerate(LENDER_CLASSES.values()):
    _cls.type_code = _code


def trait(name: str) -> np.ndarray:
    """A class attribute of every lender type, as an array indexed by type code."""
    return np.array([getattr(cls, name) for cls in LENDER_CLASSES.values()])


def type_code(lender_type: str) -> int:
    """The type code of a lender type's name."""
    return LENDER_CLASSES[lender_type].type_code
