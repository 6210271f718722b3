"""The Mesa model of the small-loan market, stepped month by month.

Order within a month (see docs/ODD.md, "Process overview and scheduling"):

1. in January: weak lenders acquired, technology investment, licence review,
   co-lending partners, entry of new lenders;
2. servicing of the loan book: interest, repayment, default, write-off;
3. costs and provisions, booked on every lender's balance sheet;
4. inspections ("double random, one public") and penalties;
5. capital check; lenders short for too long are acquired or wound down;
6. market clearing: demand, search, screening, pricing, booking;
7. funding rebalanced, markups adapted, the month recorded.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.borrowers import NO_LENDER, BorrowerPopulation
from agents.lender_book import LenderBook
from agents.lenders import LENDER_CLASSES, Lender
from sim.calendar import month_of_year, month_year, parse_month
from sim.clearing import Applicants, LenderOffers, Terms, clear
from sim.config import LENDER_TYPES, SEGMENTS, RegulationConfig, SimConfig
from sim.diagnostics import RunDiagnostics
from sim.finance import (
    co_lending_split,
    compliance_slack,
    effective_operating_cost,
    lending_limit,
    next_markup,
)
from sim.policy import path_value, regulation_at
from sim.recorder import Recorder

LIQUIDITY_RATIO = 0.05  # calibration assumption: cash held against loans
POTENTIAL_VISIBILITY = 0.25  # visibility floor: a quarter of the book the rules allow
MANDATE_VISIBILITY = 2.0  # policy lenders are twice as visible to their mandate segments
MANDATE_APPETITE = 1.5  # and accept 50 % higher risk there
MANDATE_FUNDING_SHARE = 0.5  # other lenders get half the policy funding cut on mandate loans
ENTRY_CAPITAL_REFERENCE = 1e9  # entry rates are calibrated at the 2020 draft's 1bn CNY
ENTRY_CAPITAL_ELASTICITY = 0.5  # calibration assumption: entrants ~ (reference / capital)^0.5
HEALTHY_MULTIPLE = 1.5  # an acquirer holds at least 1.5x its capital requirement
WEAK_MULTIPLE = 1.25  # a lender below 1.25x its requirement is weak
BANK = LENDER_TYPES.index("bank")
PLATFORM = LENDER_TYPES.index("online_platform")
POLICY = LENDER_TYPES.index("policy_lender")
MANDATE_SEGMENTS = [SEGMENTS.index(s) for s in LENDER_CLASSES["policy_lender"].mandate_segments]
IS_MANDATE_SEGMENT = np.isin(np.arange(len(SEGMENTS)), MANDATE_SEGMENTS)  # by segment code
ACQUIRERS = {
    "bank": ("bank",),
    "credit_cooperative": ("bank", "credit_cooperative"),
    "online_platform": ("online_platform", "bank"),
    "policy_lender": ("policy_lender", "bank"),
}


class MarketModel(mesa.Model):
    """Lenders (Mesa agents), a vectorised borrower population and the regulation."""

    def __init__(self, cfg: SimConfig, population_cls: type | None = None) -> None:
        """Build the market from ``cfg``.

        ``population_cls`` builds the borrowers: the vectorised ``BorrowerPopulation`` by
        default, ``agents.mesa_borrowers.MesaBorrowerPopulation`` for the per-agent reference.
        """
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.start = parse_month(cfg.market.start)
        self.end = parse_month(cfg.market.end)
        self.month = self.start
        self.months = list(range(self.start, self.end + 1))
        self.reg: RegulationConfig = regulation_at(cfg.regulation, self.start)
        self.book = LenderBook(cfg.market.n_regions)
        self.population = (population_cls or BorrowerPopulation)(cfg.market, self.rng)
        if hasattr(self.population, "attach"):
            self.population.attach(self)  # per-agent borrowers register with the model
        self.recorder = Recorder(self.months)
        self.lenders_by_id: dict[int, Lender] = {}
        self.last_new_lending_share = np.zeros(0)
        self._events = {
            "entries": 0,
            "exits": 0,
            "acquisitions": 0,
            "inspections": 0,
            "penalties": 0.0,
        }
        self._create_initial_market()
        self.diagnostics = RunDiagnostics(self)  # logs warnings about extreme markets

    # ----------------------------------------------------------------- set-up
    def _add_lender(self, lender_type: str, **values: float | int | bool) -> Lender:
        cls = LENDER_CLASSES[lender_type]
        row = self.book.add(
            lender_type, entry_month=self.month, adapts_markup=cls.adapts_markup, **values
        )
        agent = cls(self, row)
        self.lenders_by_id[row] = agent
        return agent

    def _set_presence(self, row: int, national: bool, regions_served: int) -> None:
        n_regions = self.cfg.market.n_regions
        self.book.national[row] = national
        if national:
            self.book.presence[row] = True
            return
        home = self.book.home_region[row]
        served = (home + np.arange(min(regions_served, n_regions))) % n_regions
        self.book.presence[row] = False
        self.book.presence[row, served] = True

    def _create_initial_market(self) -> None:
        cfg, rng = self.cfg, self.rng
        weights = []
        for lender_type in LENDER_TYPES:
            lt = cfg.lenders[lender_type]
            if lt.count == 0:
                continue
            sizes = np.sort(rng.lognormal(0.0, lt.size_sigma, lt.count))[::-1]
            sizes = lt.initial_share * sizes / sizes.sum()
            n_national = round(lt.national_fraction * lt.count)
            low, high = lt.technology - lt.technology_spread, lt.technology + lt.technology_spread
            for rank, size in enumerate(sizes):
                agent = self._add_lender(
                    lender_type,
                    home_region=int(rng.integers(cfg.market.n_regions)),
                    funding_cost=lt.funding_cost,
                    operating_cost=lt.operating_cost,
                    technology=float(np.clip(rng.uniform(low, high), 0.0, 1.0)),
                    online_capability=lt.online_capability,
                    risk_appetite=lt.risk_appetite,
                    markup=lt.markup,
                    brand=lt.brand,
                )
                self._set_presence(agent.lender_id, rank < n_national, lt.regions_served)
                weights.append(size)
        self._book_initial_loans(np.array(weights))
        self._review_licences()
        self._assign_partners()
        self.last_new_lending_share = np.zeros(self.book.n)

    def _book_initial_loans(self, weights: np.ndarray) -> None:
        """Give a share of borrowers a loan in progress, lender drawn by size.

        The lender is drawn first (probability proportional to its size) and the
        borrower's region then among the lender's regions, so each lender's
        expected book is proportional to its size and the type shares match
        ``lenders.*.initial_share``.
        """
        pop, book, rng, cfg = self.population, self.book, self.rng, self.cfg
        has_loan = rng.random(pop.n) < pop.initial_loan_share[pop.segment]
        idx = np.flatnonzero(has_loan)
        lender = rng.choice(book.n, size=idx.size, p=weights / weights.sum())
        presence = book.presence[: book.n]
        region_list = np.argsort(~presence, axis=1, kind="stable")
        k = (rng.random(idx.size) * presence.sum(axis=1)[lender]).astype(np.int64)
        pop.region[idx] = region_list[lender, k]
        need = pop.draw_need(idx, rng)
        remaining = rng.uniform(0.1, 1.0, idx.size)
        term = pop.term[pop.segment[idx]]
        months_left = np.maximum(np.ceil(remaining * term), 1).astype(np.int32)
        opex = effective_operating_cost(book.operating_cost[lender], book.technology[lender])
        lgd = 1.0 - cfg.market.recovery_rate
        rate = book.funding_cost[lender] + opex + pop.pd[idx] * lgd + book.markup[lender]
        rate = np.minimum(rate, self.reg.rate_cap_apr)
        is_platform = book.type_code[lender] == PLATFORM
        online = is_platform | (
            rng.random(idx.size) < pop.affinity[idx] * book.online_capability[lender]
        )
        pop.book(
            idx,
            lender,
            np.full(idx.size, NO_LENDER),
            np.ones(idx.size),
            need * remaining,
            rate,
            online,
            months_left,
        )
        _, funded, _ = pop.outstanding_by(book.n)
        total = funded.sum()
        for row in range(book.n):
            lt = cfg.lenders[LENDER_TYPES[book.type_code[row]]]
            loans = funded[row]
            book.loans[row] = loans
            book.provisions[row] = cfg.behaviour.provision_rate * loans
            book.equity[row] = lt.capital_ratio * max(loans, weights[row] * total)
            book.cash[row] = LIQUIDITY_RATIO * loans
            book.debt[row] = book.cash[row] + loans - book.provisions[row] - book.equity[row]
            if book.debt[row] < 0:
                book.cash[row] -= book.debt[row]
                book.debt[row] = 0.0

    def _review_licences(self) -> None:
        """Online platforms lend across provinces only with the cross-province capital."""
        book = self.book
        for row in np.flatnonzero(book.active[: book.n] & (book.type_code[: book.n] == PLATFORM)):
            lt = self.cfg.lenders["online_platform"]
            national = book.equity[row] >= self.reg.cross_province_capital_cny
            if national != book.national[row]:
                self._set_presence(int(row), bool(national), lt.regions_served)

    def _assign_partners(self) -> None:
        """Each platform without an active partner bank picks one, by bank size."""
        book = self.book
        n = book.n
        banks = np.flatnonzero(book.active[:n] & (book.type_code[:n] == BANK))
        platforms = np.flatnonzero(book.active[:n] & (book.type_code[:n] == PLATFORM))
        for row in platforms:
            partner = book.partner[row]
            if partner >= 0 and book.active[partner]:
                continue
            if banks.size == 0:
                book.partner[row] = NO_LENDER
                continue
            size = np.maximum(book.loans[banks], 0.0) + 1.0
            book.partner[row] = self.rng.choice(banks, p=size / size.sum())

    # ----------------------------------------------------------- accounting
    def charge(self, row: int, amount: float) -> None:
        """A cost paid in cash out of equity (technology, penalties)."""
        self.book.cash[row] -= amount
        self.book.equity[row] -= amount
        self.book.profit_ytd[row] -= amount

    def _requirements(self) -> tuple[np.ndarray, np.ndarray]:
        codes = self.book.view("type_code")
        ratio = np.array([self.reg.min_capital_ratio[t] for t in LENDER_TYPES])[codes]
        leverage = np.array([self.reg.max_leverage[t] for t in LENDER_TYPES])[codes]
        return ratio, leverage

    def _funding_rates(self, year: int) -> np.ndarray:
        cut = self.cfg.behaviour.funding_subsidy_max * path_value(self.reg.financing_support, year)
        rates = self.book.view("funding_cost").copy()
        rates[self.book.view("type_code") == POLICY] -= cut
        return np.maximum(rates, 0.0)

    def _service_loans(self, year: int) -> None:
        book, market = self.book, self.cfg.market
        n = book.n
        hazard = np.ones(n)
        for shock in market.default_shocks:
            first = parse_month(shock.start)
            if first <= self.month < first + shock.months:
                hit = (
                    np.ones(n, dtype=bool)
                    if shock.lender_type is None
                    else book.view("type_code") == LENDER_TYPES.index(shock.lender_type)
                )
                hazard[hit] *= shock.multiplier
        flows = self.population.service(
            n, hazard, market.prepayment_rate, market.writeoff_months, self.rng
        )
        recovery = market.recovery_rate
        v = book.view
        v("loans")[:] -= flows.principal + flows.written_off
        v("npl")[:] += flows.new_npl - flows.written_off
        v("cash")[:] += flows.principal + flows.interest + recovery * flows.written_off
        v("provisions")[:] -= (1.0 - recovery) * flows.written_off
        funding = v("debt") * self._funding_rates(year) / 12.0
        opex = effective_operating_cost(v("operating_cost"), v("technology")) * v("loans") / 12.0
        target = self.cfg.behaviour.provision_rate * (v("loans") - v("npl")) + (1 - recovery) * v(
            "npl"
        )
        provision_charge = target - v("provisions")
        v("provisions")[:] = target
        v("cash")[:] -= funding + opex
        pnl = flows.interest - funding - opex - provision_charge
        v("equity")[:] += pnl
        v("profit_ytd")[:] += pnl

    def _support_policy_capital(self, year: int, min_ratio: np.ndarray) -> None:
        """The state tops up policy lenders' equity towards a healthy buffer.

        The top-up is the financing-support index times the gap (report: policy
        lenders are state-funded).
        """
        book = self.book
        v = book.view
        policy = v("active") & (v("type_code") == POLICY)
        target = HEALTHY_MULTIPLE * min_ratio * v("loans")
        gap = np.where(policy, np.maximum(target - v("equity"), 0.0), 0.0)
        injection = path_value(self.reg.financing_support, year) * gap
        v("equity")[:] += injection
        v("cash")[:] += injection

    # ------------------------------------------------------------ supervision
    def _inspect(self, limit: np.ndarray) -> None:
        book, reg = self.book, self.reg
        active = np.flatnonzero(book.view("active"))
        inspected = active[self.rng.random(active.size) < reg.inspection_probability]
        self._events["inspections"] += inspected.size
        breach = inspected[book.loans[inspected] > limit[inspected] * (1 + 1e-9)]
        for row in breach:
            fine = reg.inspection_penalty * max(book.equity[row], 0.0)
            self.charge(int(row), fine)
            book.caught_until[row] = self.month + 12
            self._events["penalties"] += fine

    def _check_capital(self, min_ratio: np.ndarray) -> None:
        book = self.book
        v = book.view
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(v("loans") > 0, v("equity") / v("loans"), np.inf)
        short = v("active") & (ratio < min_ratio)
        v("months_below")[:] = np.where(short, v("months_below") + 1, 0)
        failing = v("active") & (
            ((v("equity") <= 0) & (v("loans") > 0))
            | (v("months_below") >= self.cfg.behaviour.exit_months)
        )
        for row in np.flatnonzero(failing):
            self._resolve(int(row), failing=True)

    def _acquirer_for(self, row: int, min_ratio: np.ndarray) -> int | None:
        """The largest healthy lender of a compatible type that can absorb ``row``."""
        book = self.book
        v = book.view
        target_type = LENDER_TYPES[book.type_code[row]]
        allowed = [LENDER_TYPES.index(t) for t in ACQUIRERS[target_type]]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(v("loans") > 0, v("equity") / v("loans"), np.inf)
            merged = (v("equity") + book.equity[row]) / (v("loans") + book.loans[row])
        ok = (
            v("active")
            & np.isin(v("type_code"), allowed)
            & (ratio >= HEALTHY_MULTIPLE * min_ratio)
            & (merged >= HEALTHY_MULTIPLE * min_ratio)
            & (v("loans") > book.loans[row])
        )
        ok[row] = False
        candidates = np.flatnonzero(ok)
        if candidates.size == 0:
            return None
        return int(candidates[np.argmax(book.loans[candidates])])

    def _resolve(self, row: int, failing: bool) -> bool:
        """Have a healthy lender acquire ``row`` if allowed and possible, else wind it down."""
        min_ratio, _ = self._requirements()
        acquirer = self._acquirer_for(row, min_ratio) if self.reg.acquisitions_allowed else None
        if acquirer is None and not failing:
            return False
        book = self.book
        if acquirer is not None:
            for name in ("cash", "loans", "provisions", "debt", "equity", "npl", "profit_ytd"):
                column = getattr(book, name)
                column[acquirer] += column[row]
                column[row] = 0.0
            book.presence[acquirer] |= book.presence[row]
            self.population.transfer(row, acquirer)
            partners = book.view("partner")
            partners[partners == row] = NO_LENDER
            self._events["acquisitions"] += 1
        else:
            self._events["exits"] += 1
        book.active[row] = False
        self.lenders_by_id[row].remove()
        return True

    # ----------------------------------------------------------------- yearly
    def _yearly(self, year: int) -> None:
        book = self.book
        min_ratio, _ = self._requirements()
        if self.reg.acquisitions_allowed:
            v = book.view
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(v("loans") > 0, v("equity") / v("loans"), np.inf)
            weak = v("active") & ((ratio < WEAK_MULTIPLE * min_ratio) | (v("profit_ytd") < 0))
            for row in np.flatnonzero(weak):
                if not self.lenders_by_id[int(row)].sellable:
                    continue
                if book.active[row] and self.rng.random() < self.cfg.behaviour.acquisition_rate:
                    self._resolve(int(row), failing=False)
        subsidy = path_value(self.reg.tech_subsidy, year)
        for row in np.flatnonzero(book.view("active")):
            self.lenders_by_id[int(row)].invest_in_technology(subsidy)
        self._enter_lenders()
        book.view("profit_ytd")[:] = 0.0
        self._review_licences()
        self._assign_partners()

    def _enter_lenders(self) -> None:
        """New lenders each year: fewer when entry capital is high, more when profitable."""
        book, rng, reg = self.book, self.rng, self.reg
        for code, lender_type in enumerate(LENDER_TYPES):
            lt = self.cfg.lenders[lender_type]
            if lt.entry_rate <= 0:
                continue
            mine = book.view("active") & (book.view("type_code") == code)
            equity = book.view("equity")[mine]
            roe = book.view("profit_ytd")[mine].sum() / equity.sum() if equity.sum() > 0 else 0.0
            rate = lt.entry_rate * float(np.clip(1.0 + 10.0 * roe, 0.0, 3.0))
            if lender_type == "online_platform":
                barrier = ENTRY_CAPITAL_REFERENCE / max(reg.online_entry_capital_cny, 1.0)
                rate *= barrier**ENTRY_CAPITAL_ELASTICITY
                capital = reg.online_entry_capital_cny * rng.uniform(1.0, 3.0, rng.poisson(rate))
            else:
                median = float(np.median(equity)) if equity.size else ENTRY_CAPITAL_REFERENCE
                capital = median * rng.uniform(0.1, 0.5, rng.poisson(rate))
            for equity_cny in capital:
                agent = self._add_lender(
                    lender_type,
                    home_region=int(rng.integers(self.cfg.market.n_regions)),
                    funding_cost=lt.funding_cost,
                    operating_cost=lt.operating_cost,
                    technology=float(
                        np.clip(
                            rng.uniform(lt.technology, lt.technology + lt.technology_spread), 0, 1
                        )
                    ),
                    online_capability=lt.online_capability,
                    risk_appetite=lt.risk_appetite,
                    markup=lt.markup,
                    brand=0.5 * lt.brand,
                    equity=equity_cny,
                    cash=equity_cny,
                )
                national = rng.random() < lt.national_fraction
                self._set_presence(agent.lender_id, national, lt.regions_served)
                self._events["entries"] += 1
        if self.last_new_lending_share.size < book.n:
            grown = np.zeros(book.n)
            grown[: self.last_new_lending_share.size] = self.last_new_lending_share
            self.last_new_lending_share = grown

    # --------------------------------------------------------------- clearing
    def _offers(self, year: int, limit: np.ndarray) -> LenderOffers:
        book, reg, cfg = self.book, self.reg, self.cfg
        v = book.view
        n = book.n
        active = v("active")
        codes = v("type_code")
        appetite = v("risk_appetite")
        rank = np.zeros(n)
        if n > 1:
            rank[np.argsort(appetite, kind="stable")] = np.arange(n) / (n - 1)
        slack = compliance_slack(
            rank,
            cfg.behaviour.compliance_slack,
            reg.inspection_probability,
            reg.inspection_penalty,
            cfg.behaviour.deterrence_scale,
        )
        slack = np.where(v("caught_until") > self.month, 0.0, slack)
        own_room = np.where(active, np.maximum(limit * (1.0 + slack) - v("loans"), 0.0), 0.0)
        own_share = np.ones(n)
        capacity = own_room.copy()
        partner = v("partner").copy()
        platforms = np.flatnonzero(active & (codes == PLATFORM) & (partner >= 0))
        # visibility follows the book a lender originates, not the part it funds
        # (issue 3: a platform's co-lent loans count in full, as its customers)
        originated = v("loans")
        if platforms.size:
            exposure = self._partner_exposure()
            originated = originated + np.where(codes == PLATFORM, exposure, 0.0)
            banks = partner[platforms]
            bank_total = np.bincount(banks, weights=exposure[platforms], minlength=n)
            sharing = np.bincount(banks, minlength=n)
            room = np.minimum.reduce(
                [
                    reg.co_lending_partner_cap * np.maximum(book.equity[banks], 0.0)
                    - exposure[platforms],
                    (reg.co_lending_total_cap * book.loans[banks] - bank_total[banks])
                    / sharing[banks],
                    own_room[banks] / sharing[banks],
                ]
            )
            room = np.where(book.active[banks], room, 0.0)
            share, cap = co_lending_split(own_room[platforms], room, reg.co_lending_min_own_share)
            own_share[platforms] = share
            capacity[platforms] = cap
        partner = np.where(own_share < 1.0, partner, NO_LENDER)

        online_only = codes == PLATFORM
        # online beyond its branches: not platforms (licence-bound), not under local-only rules
        reach_beyond = (~online_only & (not reg.local_only_lending)) * v("online_capability")
        present = book.presence[:n]
        reach = np.where(present, 1.0, reach_beyond[:, None])
        size = np.maximum(originated, POTENTIAL_VISIBILITY * limit) * active * (capacity > 0)
        per_region = size / np.maximum(reach.sum(axis=1), 1e-12)
        visibility = (v("brand") * per_region)[:, None] * reach
        mandate_boost = np.where(codes == POLICY, MANDATE_VISIBILITY, 1.0)
        funding = self._funding_rates(year)
        # a co-lent loan is priced on the blended cost of funds: the partner bank funds
        # its part at its own cost (issue 3: without this, co-lending rules could not
        # change platforms' prices)
        co_lent = partner != NO_LENDER
        if co_lent.any():
            funding = funding.copy()
            share = own_share[co_lent]
            funding[co_lent] = share * funding[co_lent] + (1.0 - share) * funding[partner[co_lent]]
        support = path_value(reg.financing_support, year)
        cut = cfg.behaviour.funding_subsidy_max * support * MANDATE_FUNDING_SHARE
        opex = effective_operating_cost(v("operating_cost"), v("technology"))
        return LenderOffers(
            visibility=visibility.T.copy(),
            visibility_mandate=(visibility * mandate_boost[:, None]).T.copy(),
            present=present,
            online_only=online_only,
            online_capability=v("online_capability"),
            funding_cost=funding,
            mandate_funding_cut=np.where(codes == POLICY, 0.0, cut),
            operating_cost=opex,
            technology=v("technology"),
            risk_appetite=appetite,
            risk_appetite_mandate=np.where(codes == POLICY, MANDATE_APPETITE * appetite, appetite),
            markup=v("markup"),
            posted_rate=funding + opex + v("markup"),
            brand=np.maximum(v("brand"), 1e-12),
            equity=v("equity"),
            capacity=capacity,
            own_share=own_share,
            partner=partner,
            is_platform=online_only,
        )

    def _partner_exposure(self) -> np.ndarray:
        """Partner-funded balance of each platform's loans, CNY."""
        return self.population.partner_exposure(self.book.n)

    def _applicants(self, year: int) -> Applicants:
        pop, cfg = self.population, self.cfg
        years = (self.month - self.start) / 12.0
        idx = pop.applicants((1.0 + cfg.market.demand_growth) ** years, self.rng)
        coverage = path_value(self.reg.credit_data_coverage, year)
        seg = pop.segment[idx]
        return Applicants(
            idx=idx,
            region=pop.region[idx],
            mandate=IS_MANDATE_SEGMENT[seg],
            pd=pop.pd[idx],
            thin_file=pop.thin_file[idx],
            covered=pop.data_rank[idx] < coverage,
            affinity=np.minimum(pop.affinity[idx] + cfg.behaviour.digital_trend * years, 1.0),
            need=pop.draw_need(idx, self.rng),
            business=pop.business[seg],
        )

    def _terms(self) -> Terms:
        b, reg = self.cfg.behaviour, self.reg
        return Terms(
            rate_cap=reg.rate_cap_apr,
            loss_given_default=1.0 - self.cfg.market.recovery_rate,
            online_consumer_cap=reg.online_consumer_loan_cap_cny,
            online_business_cap=reg.online_business_loan_cap_cny,
            platform_individual_cap=reg.platform_individual_loan_cap_cny,
            single_borrower_limit=reg.single_borrower_limit,
            screening_noise=b.screening_noise,
            data_sharing_effect=b.data_sharing_effect,
            rate_sensitivity=b.rate_sensitivity,
            online_preference=b.online_preference,
            search_size=b.search_size,
        )

    def _lend(self, year: int, limit: np.ndarray) -> dict[str, float]:
        book, pop = self.book, self.population
        app = self._applicants(year)
        offers = self._offers(year, limit)
        # a population may match its applicants itself (the per-agent reference does)
        m = getattr(pop, "clear", clear)(app, offers, self._terms(), pop.weight, self.rng)
        won_at = np.flatnonzero(m.lender != NO_LENDER)
        lender, funder, own = m.lender[won_at], m.funder[won_at], m.own_share[won_at]
        amount_won, rate_won = m.amount[won_at], m.rate[won_at]
        pop.book(app.idx[won_at], lender, funder, own, amount_won, rate_won, m.online[won_at])
        n, w = book.n, pop.weight
        amount = amount_won * w
        new_originated = np.bincount(lender, weights=amount, minlength=n)
        new_funded = np.bincount(lender, weights=amount * own, minlength=n)
        partnered = funder != NO_LENDER
        new_funded += np.bincount(
            funder[partnered], weights=amount[partnered] * (1 - own[partnered]), minlength=n
        )
        book.view("loans")[:] += new_funded
        book.view("cash")[:] -= new_funded
        book.view("capacity_bound")[:] = m.capacity_bound
        self._month_new = (
            new_originated,
            new_funded,
            np.bincount(lender, weights=amount * rate_won, minlength=n),
        )
        won = m.lender != NO_LENDER
        demand_amt = app.need * w
        lent = np.where(won, m.amount, 0.0) * w
        out = {
            "lending": float(lent.sum()),
            "lending_online": float(lent[m.online & won].sum()),
            "rate_x_lending": float((lent * m.rate).sum()),
            "demand": float(demand_amt.sum()),
            "unmet": float((demand_amt - lent).sum()),
            "applicants": float(app.idx.size * w),
            "served": float(won_at.size * w),
        }
        # by segment: applicants grouped by segment in their order (a stable sort), so
        # each slice holds the same numbers in the same order as a mask would pick
        seg = pop.segment[app.idx]
        order = np.argsort(seg, kind="stable")
        bounds = np.searchsorted(seg[order], np.arange(len(SEGMENTS) + 1)).tolist()
        demand_seg, lent_seg = demand_amt[order], lent[order]
        unmet_seg = demand_seg - lent_seg
        for s, name in enumerate(SEGMENTS):
            part = slice(bounds[s], bounds[s + 1])
            out[f"demand_{name}"] = float(demand_seg[part].sum())
            out[f"lending_{name}"] = float(lent_seg[part].sum())
            out[f"unmet_{name}"] = float(unmet_seg[part].sum())
        return out

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one month."""
        year = month_year(self.month)
        self.reg = self._regulation_in_force()
        self._events = dict.fromkeys(self._events, 0)
        if month_of_year(self.month) == 1 and self.month != self.start:
            self._yearly(year)
        self._service_loans(year)
        min_ratio, leverage = self._requirements()
        self._support_policy_capital(year, min_ratio)
        limit = lending_limit(self.book.view("equity"), min_ratio, leverage)
        self._inspect(limit)
        self._check_capital(min_ratio)
        limit = lending_limit(self.book.view("equity"), min_ratio, leverage)
        market = self._lend(year, limit)
        self.book.rebalance_funding(LIQUIDITY_RATIO)
        self._adapt_markups()
        self._record(market)
        self.diagnostics.after_month()
        self.month += 1

    def _regulation_in_force(self) -> RegulationConfig:
        """``regulation_at`` this month, built once per distinct set of timeline changes in force.

        The levers depend only on which dated changes apply, so months sharing that
        set share one (never modified) copy.
        """
        base = self.cfg.regulation
        applied = tuple(
            i for i, change in enumerate(base.timeline) if parse_month(change["date"]) <= self.month
        )
        cache = self.__dict__.setdefault("_regulation_cache", {})
        key = (id(base), applied)
        if key not in cache:
            cache[key] = regulation_at(base, self.month)
        return cache[key]

    def _adapt_markups(self) -> None:
        book = self.book
        new_originated = self._month_new[0]
        total = new_originated.sum()
        share = new_originated / total if total > 0 else np.zeros(book.n)
        self.last_new_lending_share = share
        adaptive = book.view("active") & book.view("adapts_markup")
        updated = next_markup(
            book.view("markup"),
            book.view("capacity_bound"),
            share,
            self.cfg.behaviour.markup_speed,
            self.cfg.behaviour.markup_floor,
            self.cfg.behaviour.markup_ceiling,
        )
        book.view("markup")[:] = np.where(adaptive, updated, book.view("markup"))

    def _record(self, market: dict[str, float]) -> None:
        book = self.book
        by_originator, by_funder, npl_by_funder = self.population.outstanding_by(book.n)
        v = book.view
        market.update(
            outstanding=float(by_originator.sum()),
            npl=float(npl_by_funder.sum()),
            n_active=float(v("active").sum()),
            entries=float(self._events["entries"]),
            exits=float(self._events["exits"]),
            acquisitions=float(self._events["acquisitions"]),
            inspections=float(self._events["inspections"]),
            penalties=float(self._events["penalties"]),
        )
        new_originated, new_funded, rate_x = self._month_new
        self.recorder.record(
            self.month - self.start,
            market,
            {
                "outstanding": by_originator,
                "funded": by_funder,
                "new_lending": new_originated,
                "new_funded": new_funded,
                "rate_x_lending": rate_x,
                "npl": npl_by_funder,
                "equity": v("equity").copy(),
                "active": v("active").astype(float),
                "technology": v("technology").copy(),
                "markup": v("markup").copy(),
                "online_capability": v("online_capability").copy(),
            },
        )

    def run(self, progress: object | None = None) -> Recorder:
        """Step through every month; ``progress(done, total, month)`` is called monthly."""
        total = len(self.months)
        while self.month <= self.end:
            self.step()
            if callable(progress):
                progress(self.month - self.start, total, self.month - 1)
        return self.recorder
