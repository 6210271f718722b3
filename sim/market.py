"""The credit market of one month: applicants, lenders' offers, clearing, booking, tallies.

The market turns the model's state into this month's :class:`~sim.clearing.Applicants`
and :class:`~sim.clearing.LenderOffers`, has :func:`sim.clearing.clear` match them,
books the loans on the borrowers and the lenders' balance sheets, and keeps the
month's tallies (lending, demand and unmet demand, overall and by segment; the arithmetic
in :mod:`sim.tallies`).
What differs by lender type comes from the type classes' traits and methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.lenders import LENDER_CLASSES, trait, type_code
from agents.loan_table import NO_LENDER
from sim.calendar import month_year, parse_month, path_value
from sim.clearing import (
    Applicants,
    LenderOffers,
    Matches,
    Terms,
    clear,
)
from sim.config import SEGMENTS
from sim.finance import (
    DATA_HALF_SHARE,
    compliance_slack,
    data_noise_factor,
    effective_operating_cost,
    limit_use_premium,
)
from sim.recorder import RATE_BINS
from sim.tallies import tallies, volume_by_rate

if TYPE_CHECKING:
    from sim.config import MarketConfig
    from sim.model import MarketModel

LIQUIDITY_RATIO = 0.05  # calibration assumption: cash held against loans
SHARE_MEMORY_MONTHS = 12  # calibration assumption: lenders judge their share over about a year
MANDATE_SEGMENTS = sorted(
    {SEGMENTS.index(s) for cls in LENDER_CLASSES.values() for s in cls.mandate_segments}
)
IS_MANDATE_SEGMENT = np.isin(np.arange(len(SEGMENTS)), MANDATE_SEGMENTS)  # by segment code
ONLINE_ONLY = trait("online_only")
PLATFORM_LOAN_CAP = trait("platform_loan_cap")
CO_LENDS = trait("co_lends")
MANDATE_VISIBILITY = trait("mandate_visibility")
MANDATE_APPETITE = trait("mandate_appetite")
STATE_FUNDING_SHARE = trait("state_funding_share")
MANDATE_FUNDING_SHARE = trait("mandate_funding_share")
RELATIONSHIP_NOISE_CUT = trait("relationship_noise_cut")
THIN_FILE_EDGE = trait("thin_file_edge")
MARKET_FUNDED = trait("market_funded")


OPENING_REMAINING = (0.1, 1.0)  # part of its amount a loan in progress still owes: uniform


def money_scale(m: MarketConfig) -> float:
    """The simulated balance sheets' size relative to the real market they stand for.

    The expected opening book (borrowers with a loan in progress, times their mean
    loan, times the mean part still owed) over ``real_outstanding_cny``. Capital
    rules written in real CNY (registered capital) apply to the simulated lenders
    at this scale; it depends on the config only, not on the seed.
    """
    segs = [m.segments[s] for s in SEGMENTS]
    shares = np.array([s.share for s in segs])
    per_borrower = sum(
        w * s.initial_loan_share * s.loan_mean_cny
        for w, s in zip(shares / shares.sum(), segs, strict=True)
    )
    opening = m.real_borrowers * per_borrower * float(np.mean(OPENING_REMAINING))
    return opening / m.real_outstanding_cny


class Market:
    """Builds and clears the month's market for ``model``; holds the month's new loans."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        n = model.book.n
        self.new_originated = np.zeros(n)  # CNY originated this month, by lender
        self.new_funded = np.zeros(n)  # CNY funded this month, by lender
        self.rate_x_new = np.zeros(n)  # originated x rate, by lender
        self.new_online = np.zeros(n)  # CNY originated online this month, by lender
        self.new_by_region = np.zeros((n, model.cfg.market.n_regions))  # CNY, lender x region
        self.lending_by_region_trend = self.new_by_region.copy()  # the same, smoothed
        self.rate_volume = np.zeros((len(LENDER_CLASSES), RATE_BINS))  # new CNY by type, rate
        self.money_scale = money_scale(model.cfg.market)

    # ------------------------------------------------------------- prices
    def funding_rates(self) -> np.ndarray:
        """Each lender's cost of funds: the one-year LPR plus its spread.

        Market-funded lenders pay more the more of their book is non-performing
        (over about a year: creditors look through a month's noise) and the closer
        their book is to the limit their capital allows; state-funded lenders get
        the financing-support cut.
        """
        model = self.model
        book, b = model.book, model.cfg.behaviour
        lpr = path_value(model.cfg.market.lpr, month_year(model.month))
        npl_ratio = book.npl_ratio_trend
        leverage = limit_use_premium(
            book.loans, model.regulator.lending_limits(), b.leverage_funding_premium
        )
        premium = (b.npl_funding_premium * npl_ratio + leverage) * book.per_lender(MARKET_FUNDED)
        cut = self.funding_cut() * book.per_lender(STATE_FUNDING_SHARE)
        return np.maximum(lpr + book.funding_spread + premium - cut, 0.0)

    def lending_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Each lender's share of the lending where it lends, and the online part of its own.

        The local share is the lender's share in each region it lent in, averaged
        over its lending there (a national lender's is its national share, a
        cooperative's its share at home); zero for a lender that lent nothing.
        Shares are of lending smoothed over ``SHARE_MEMORY_MONTHS``: a month's few
        loans in a region would overstate a small lender's share (the mean of a
        squared share from a small sample is above the square of the share), so
        the smoothing keeps margins from depending on the population's size.
        """
        by_region = self.lending_by_region_trend
        region_total = by_region.sum(axis=0)
        own = by_region.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            local = (by_region**2 / np.where(region_total > 0, region_total, 1.0)).sum(axis=1)
            share = np.where(own > 0, local / own, 0.0)
            online = np.where(own > 0, self.new_online / own, 0.0)
        return share, online

    def funding_cut(self) -> float:
        """Funding-cost cut on policy lending at this year's financing support."""
        model = self.model
        support = model.regulator.path("financing_support", month_year(model.month))
        return model.cfg.behaviour.funding_subsidy_max * support

    def mandate_funding_cut(self) -> np.ndarray:
        """Each lender's funding-cost cut on loans to the mandate segments."""
        return self.funding_cut() * self.model.book.per_lender(MANDATE_FUNDING_SHARE)

    # ------------------------------------------------------------ set-up
    def book_initial_loans(self, weights: np.ndarray) -> None:
        """Give a share of borrowers a loan in progress, lender drawn by size.

        The lender is drawn first (probability proportional to its size) and the
        borrower's region then among the lender's regions, so each lender's
        expected book is proportional to its size and the type shares match
        ``lenders.*.initial_share``.
        """
        model = self.model
        pop, book, rng, cfg = model.population, model.book, model.rng, model.cfg
        has_loan = rng.random(pop.n) < pop.initial_loan_share[pop.segment]
        idx = np.flatnonzero(has_loan)
        lender = rng.choice(book.n, size=idx.size, p=weights / weights.sum())
        presence = book.presence
        region_list = np.argsort(~presence, axis=1, kind="stable")
        k = (rng.random(idx.size) * presence.sum(axis=1)[lender]).astype(np.int64)
        pop.region[idx] = region_list[lender, k]
        need = pop.draw_need(idx, rng)
        remaining = rng.uniform(*OPENING_REMAINING, idx.size)
        term = pop.term[pop.segment[idx]]
        months_left = np.maximum(np.ceil(remaining * term), 1).astype(np.int32)
        opex = effective_operating_cost(book.operating_cost[lender], book.technology[lender])
        lgd = 1.0 - cfg.market.recovery_rate
        coverage = model.regulator.path("credit_data_coverage", month_year(model.month))
        pd = pop.effective_pd(idx, coverage, cfg.behaviour.data_discipline)
        own_share = self._initial_partners(weights)
        funding_of = self.funding_rates()
        partner = book.partner
        partner_funding = funding_of[np.maximum(partner, 0)]
        blended = np.where(
            own_share < 1.0,
            own_share * funding_of + (1.0 - own_share) * partner_funding,
            funding_of,
        )
        rate = blended[lender] + opex + pd * lgd + book.markup[lender]
        rate = np.minimum(rate, model.regulator.levers.rate_cap_apr)
        partner_rate = np.minimum(
            partner_funding[lender] + pd * lgd + cfg.behaviour.co_lending_margin, rate
        )
        online = book.per_lender(ONLINE_ONLY)[lender] | (
            rng.random(idx.size) < pop.affinity[idx] * book.online_capability[lender]
        )
        co_lent = own_share[lender] < 1.0
        pop.book(
            idx,
            lender,
            np.where(co_lent, partner[lender], NO_LENDER),
            own_share[lender],
            need * remaining,
            rate,
            online,
            pd,
            months_left,
            partner_rate=np.where(co_lent, partner_rate, rate),
        )
        by_originator, funded = pop.outstanding_by(book.n)
        # the opening book is about half a year of lending: last year's business
        # lending, for the inclusive-lending targets, is taken as twice its part
        business = pop.business[pop.segment[idx]]
        book.business_lending_last = (
            2.0
            * pop.weight
            * np.bincount(lender[business], weights=(need * remaining)[business], minlength=book.n)
        )
        self._open_balance_sheets(funded, weights / weights.sum() * by_originator.sum() * own_share)

    def _initial_partners(self, weights: np.ndarray) -> np.ndarray:
        """Partner banks of the co-lenders at the start; own shares.

        A co-lender's loans in progress are co-funded at its type's
        ``initial_own_share``; it has a partner drawn among the partner type's
        lenders by their opening size and reach (``CommercialBank.partner_pull``).
        """
        model = self.model
        book, rng = model.book, model.rng
        own_share = np.ones(book.n)
        for cls in LENDER_CLASSES.values():
            rows = book.rows(cls.type_code)
            if not cls.co_lends or rows.size == 0:
                continue
            partner_cls = LENDER_CLASSES[cls.partner_type]
            banks = book.rows(partner_cls.type_code)
            if banks.size == 0:
                continue
            pull = partner_cls.partner_pull(book, banks, weights[banks])
            book.partner[rows] = rng.choice(banks, size=rows.size, p=pull / pull.sum())
            own_share[rows] = model.cfg.lenders[cls.lender_type].initial_own_share
        return own_share

    def _open_balance_sheets(self, funded: np.ndarray, sized: np.ndarray) -> None:
        """Opening balance sheets: equity at the type's capital ratio of the larger book."""
        model = self.model
        book, cfg = model.book, model.cfg
        capital_ratio = book.per_lender(
            np.array([cfg.lenders[t].capital_ratio for t in LENDER_CLASSES])
        )
        for row in range(book.n):
            loans = funded[row]
            book.loans[row] = loans
            book.loans_trend[row] = loans
            book.provisions[row] = cfg.behaviour.provision_rate * loans
            book.equity[row] = capital_ratio[row] * max(loans, sized[row])
            book.cash[row] = LIQUIDITY_RATIO * loans
            book.debt[row] = book.cash[row] + loans - book.provisions[row] - book.equity[row]
            if book.debt[row] < 0:
                book.cash[row] -= book.debt[row]
                book.debt[row] = 0.0

    # ------------------------------------------------------------ monthly
    def hazard_multipliers(self) -> np.ndarray:
        """Factor on default hazards by originator: the default shocks running this month."""
        model = self.model
        book = model.book
        hazard = np.ones(book.n)
        for shock in model.cfg.market.default_shocks:
            first = parse_month(shock.start)
            if first <= model.month < first + shock.months:
                hit = (
                    np.ones(book.n, dtype=bool)
                    if shock.lender_type is None
                    else book.of_type(type_code(shock.lender_type))
                )
                hazard[hit] *= shock.multiplier
        return hazard * path_value(model.cfg.market.default_cycle, month_year(model.month), 1.0)

    def service_loans(self) -> None:
        """A month of servicing on the borrowers, booked on the lenders' balance sheets."""
        model = self.model
        book, market = model.book, model.cfg.market
        flows = model.population.service(
            book.n,
            self.hazard_multipliers(),
            market.prepayment_rate,
            model.rng,
        )
        book.book_servicing(
            flows, market.recovery_rate, self.funding_rates(), model.cfg.behaviour.provision_rate
        )

    def offers(self, limit: np.ndarray) -> LenderOffers:
        """What every lender offers this month, within its lending ``limit``."""
        model = self.model
        book, reg, b = model.book, model.regulator.levers, model.cfg.behaviour
        n = book.n
        active, appetite = book.active, book.risk_appetite
        rank = np.zeros(n)
        if n > 1:
            rank[np.argsort(appetite, kind="stable")] = np.arange(n) / (n - 1)
        slack = compliance_slack(
            rank,
            b.compliance_slack,
            reg.inspection_probability,
            reg.inspection_penalty,
            b.deterrence_scale,
        )
        slack = np.where(book.caught_until > model.month, 0.0, slack)
        own_room = np.where(active, np.maximum(limit * (1.0 + slack) - book.loans, 0.0), 0.0)
        own_share, capacity, originated = self._co_lending(own_room)
        partner = np.where(own_share < 1.0, book.partner, NO_LENDER)

        online_only = book.per_lender(ONLINE_ONLY)
        # online beyond its branches: not for online-only lenders (licence-bound), nor
        # under local-only rules
        reach_beyond = (~online_only & (not reg.local_only_lending)) * book.online_capability
        present = book.presence
        reach = np.where(present, 1.0, reach_beyond[:, None])
        # a lender's reach (branches, marketing, partner channels) scales with the book
        # its capital and partners support (what it holds plus its room), not with
        # this month's book alone: a lender that lost loans by chance keeps its reach
        size = (originated + capacity) * active * (capacity > 0)
        per_region = size / np.maximum(reach.sum(axis=1), 1e-12)
        visibility = (book.brand * per_region)[:, None] * reach
        funding = self.funding_rates()
        # a co-lent loan is priced on the blended cost of funds: the partner bank funds
        # its part at its own cost
        co_lent = partner != NO_LENDER
        partner_funding = np.zeros(n)
        if co_lent.any():
            funding = funding.copy()
            share = own_share[co_lent]
            partner_funding[co_lent] = funding[partner[co_lent]]
            funding[co_lent] = share * funding[co_lent] + (1.0 - share) * partner_funding[co_lent]
        opex = effective_operating_cost(book.operating_cost, book.technology)
        return LenderOffers(
            visibility=visibility.T.copy(),
            visibility_mandate=(visibility * book.per_lender(MANDATE_VISIBILITY)[:, None]).T.copy(),
            present=present,
            online_only=online_only,
            online_capability=book.online_capability,
            funding_cost=funding,
            mandate_funding_cut=self.mandate_funding_cut(),
            operating_cost=opex,
            technology=book.technology,
            data_noise=data_noise_factor(
                originated, book.technology, b.data_scale_edge, DATA_HALF_SHARE
            ),
            relationship=book.per_lender(RELATIONSHIP_NOISE_CUT),
            thin_file_edge=book.per_lender(THIN_FILE_EDGE),
            business_discount=book.business_discount,
            loss_factor=book.loss_factor(originated),
            risk_appetite=appetite,
            risk_appetite_mandate=book.per_lender(MANDATE_APPETITE) * appetite,
            markup=book.markup + book.capital_charge,
            posted_rate=funding + opex + book.markup + book.capital_charge,
            brand=np.maximum(book.brand, 1e-12),
            equity=book.equity,
            capacity=capacity,
            own_share=own_share,
            partner=partner,
            partner_funding=partner_funding,
            is_platform=book.per_lender(PLATFORM_LOAN_CAP),
        )

    def _co_lending(self, own_room: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Own funding share, capacity and originated book (co-lent loans in full) per lender.

        Visibility follows the book a lender originates, not the part it funds, so
        a co-lender's partner-funded loans count in full, as its customers.
        """
        model = self.model
        book, reg = model.book, model.regulator.levers
        n = book.n
        own_share, capacity, originated = np.ones(n), own_room.copy(), book.loans
        co_lenders = book.per_lender(CO_LENDS)
        co_lending = book.active & co_lenders & (book.partner >= 0)
        if not co_lending.any():
            return own_share, capacity, originated
        exposure = model.population.partner_exposure(n)
        originated = originated + np.where(co_lenders, exposure, 0.0)
        for cls in LENDER_CLASSES.values():
            rows = np.flatnonzero(co_lending & book.of_type(cls.type_code))
            if rows.size == 0:
                continue
            banks = book.partner[rows]
            partner_cls = LENDER_CLASSES[cls.partner_type]
            room = partner_cls.partner_room(book, banks, exposure[rows], own_room, reg, rows)
            own_share[rows], capacity[rows] = cls.co_lending_terms(own_room[rows], room, reg)
        return own_share, capacity, originated

    def outstanding_by_originator(self) -> np.ndarray:
        """Outstanding balance by originator, CNY: performing loans and their NPLs."""
        model = self.model
        performing = model.population.outstanding_by(model.book.n)[0]
        return performing + model.book.originated_npl()

    def enforce_own_share(self) -> None:
        """Existing co-lent loans too must meet the minimum own share: originators buy the gap.

        Where a co-lent loan's originator funds less than
        ``co_lending_min_own_share`` (after the rule is raised), the originator takes
        over the missing part from its partner bank, paying it in cash.
        """
        model = self.model
        minimum = model.regulator.levers.co_lending_min_own_share
        t = model.population.loans
        short = np.flatnonzero((t.own < minimum) & (t.funder != NO_LENDER))
        if short.size == 0:
            return
        book, n = model.book, model.book.n
        amount = t.balance[short] * (minimum - t.own[short]) * model.population.weight
        moved = np.bincount(t.lender[short], weights=amount, minlength=n)
        back = np.bincount(t.funder[short], weights=amount, minlength=n)
        book.loans += moved - back
        book.cash += back - moved
        t.own[short] = minimum

    def applicants(self) -> Applicants:
        """Borrowers applying this month, with what lenders see of them."""
        model = self.model
        pop, cfg = model.population, model.cfg
        years = (model.month - model.start) / 12.0
        idx = pop.applicants((1.0 + cfg.market.demand_growth) ** years, model.rng)
        coverage = model.regulator.path("credit_data_coverage", month_year(model.month))
        seg = pop.segment[idx]
        return Applicants(
            idx=idx,
            region=pop.region[idx],
            mandate=IS_MANDATE_SEGMENT[seg],
            pd=pop.effective_pd(idx, coverage, cfg.behaviour.data_discipline),
            thin_file=pop.thin_file[idx],
            covered=pop.covered(idx, coverage),
            affinity=np.minimum(pop.affinity[idx] + cfg.behaviour.digital_trend * years, 1.0),
            need=pop.draw_need(idx, model.rng),
            business=pop.business[seg],
            reservation=pop.reservation[idx],
        )

    def terms(self) -> Terms:
        """The rules and behaviour clearing needs, as plain numbers."""
        model = self.model
        b, reg = model.cfg.behaviour, model.regulator.levers
        return Terms(
            rate_cap=reg.rate_cap_apr,
            loss_given_default=1.0 - model.cfg.market.recovery_rate,
            online_consumer_cap=reg.online_consumer_loan_cap_cny,
            online_business_cap=reg.online_business_loan_cap_cny,
            platform_individual_cap=reg.platform_individual_loan_cap_cny,
            single_borrower_limit=reg.single_borrower_limit,
            screening_noise=b.screening_noise,
            data_sharing_effect=b.data_sharing_effect,
            rate_sensitivity=b.rate_sensitivity,
            online_rate_sensitivity=b.online_rate_sensitivity,
            online_preference=b.online_preference,
            search_size=b.search_size,
            co_lending_margin=b.co_lending_margin,
        )

    def match(self, app: Applicants, offers: LenderOffers) -> Matches:
        """Who lends to whom this month."""
        model = self.model
        return clear(app, offers, self.terms(), model.population.weight, model.rng)

    def lend(self, limit: np.ndarray) -> dict[str, float]:
        """Clear the month's market, book the loans; return the month's market tallies."""
        model = self.model
        book, pop = model.book, model.population
        app = self.applicants()
        m = self.match(app, self.offers(limit))
        won_at = np.flatnonzero(m.lender != NO_LENDER)
        lender, funder, own = m.lender[won_at], m.funder[won_at], m.own_share[won_at]
        amount_won, rate_won = m.amount[won_at], m.rate[won_at]
        online_won = m.online[won_at]
        pop.book(
            app.idx[won_at],
            lender,
            funder,
            own,
            amount_won,
            rate_won,
            online_won,
            app.pd[won_at],
            partner_rate=m.partner_rate[won_at],
            priced_pd=m.priced_pd[won_at],
        )
        n, w = book.n, pop.weight
        amount = amount_won * w
        self.new_originated = np.bincount(lender, weights=amount, minlength=n)
        self.new_online = np.bincount(lender[online_won], weights=amount[online_won], minlength=n)
        n_regions = model.cfg.market.n_regions
        cell = lender * n_regions + app.region[won_at]
        self.new_by_region = np.bincount(cell, weights=amount, minlength=n * n_regions).reshape(
            n, n_regions
        )
        trend = self.lending_by_region_trend
        if trend.shape[0] < n:  # rows for the lenders that entered since
            trend = np.vstack((trend, np.zeros((n - trend.shape[0], n_regions))))
        self.lending_by_region_trend = trend + (self.new_by_region - trend) / SHARE_MEMORY_MONTHS
        business = app.business[won_at]
        book.business_lending += np.bincount(
            lender[business], weights=amount[business], minlength=n
        )
        new_funded = np.bincount(lender, weights=amount * own, minlength=n)
        partnered = funder != NO_LENDER
        new_funded += np.bincount(
            funder[partnered], weights=amount[partnered] * (1 - own[partnered]), minlength=n
        )
        self.new_funded = new_funded
        self.rate_x_new = np.bincount(lender, weights=amount * rate_won, minlength=n)
        self.rate_volume = volume_by_rate(book.type_code[lender], rate_won, amount)
        book.loans += new_funded
        book.cash -= new_funded
        book.capacity_bound = m.capacity_bound
        return tallies(app, m, pop.segment[app.idx], w)
