"""The borrower population: one numpy array per attribute, one element per borrower.

Each simulated borrower stands for ``weight`` real borrowers; loan amounts
are per real borrower (CNY) and aggregates multiply by ``weight``. Borrowers
are many, so they are vectorised rather than Mesa agents: per-agent stepping
would cost thousands of times more (see ``benchmarks/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.loan_table import NO_LENDER, LoanTable
from sim.config import SEGMENTS, MarketConfig
from sim.finance import monthly_hazard

if TYPE_CHECKING:
    import mesa

    from sim.config import SimConfig


@dataclass
class ServicingFlows:
    """One month of loan servicing, per lender id (arrays of length ``n_lenders``), CNY."""

    interest: np.ndarray  # interest received: partners' partner rate, originators the rest
    principal: np.ndarray  # principal repaid (incl. prepayment), by funder share
    new_npl: np.ndarray  # balance turning non-performing, by funder share
    matured: int  # loans repaid in full this month (closed)
    defaulted: np.ndarray  # balance defaulting this month, by originator
    expected_defaults: np.ndarray  # what the originators' own PD estimates expected


class FunderSplit:
    """Per-lender totals of amounts on a fixed set of loans, split by funding share.

    The co-lent loans are found once; each ``total`` adds the same numbers in the
    same order on every call (per real borrower, unweighted).
    """

    def __init__(
        self, lender: np.ndarray, funder: np.ndarray, own: np.ndarray, n_lenders: int
    ) -> None:
        self.lender, self.own, self.n_lenders = lender, own, n_lenders
        self.co_lent = np.flatnonzero(own < 1.0)
        self.funder = funder[self.co_lent]
        self.partner_part = 1.0 - own[self.co_lent]

    def total(self, amount: np.ndarray) -> np.ndarray:
        """Originators' funded part plus partners' part of ``amount``, by lender id."""
        total = np.bincount(self.lender, weights=amount * self.own, minlength=self.n_lenders)
        if self.co_lent.size:
            total += np.bincount(
                self.funder,
                weights=amount[self.co_lent] * self.partner_part,
                minlength=self.n_lenders,
            )
        return total


class BorrowerPopulation:
    """Borrowers' attributes and their active loans."""

    @classmethod
    def for_model(cls, model: mesa.Model) -> BorrowerPopulation:
        """The population of ``model.cfg``, drawn from the model's generator."""
        cfg: SimConfig = model.cfg
        return cls(cfg.market, model.rng)

    def __init__(self, market: MarketConfig, rng: np.random.Generator) -> None:
        n = market.n_borrowers
        self.n = n
        self.weight = market.real_borrowers / n
        segs = [market.segments[s] for s in SEGMENTS]
        shares = np.array([s.share for s in segs], dtype=float)
        self.segment = rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum()).astype(np.int8)
        self.region = rng.integers(0, market.n_regions, size=n).astype(np.int32)
        pd_mean = np.array([s.pd_mean for s in segs])[self.segment]
        pd_sigma = np.array([s.pd_sigma for s in segs])[self.segment]
        risk = rng.standard_normal(n)
        self.pd = np.minimum(pd_mean * np.exp(pd_sigma * risk - 0.5 * pd_sigma**2), 0.99)
        # the highest expected cost of credit, rate x (1 - pd), a borrower accepts:
        # lognormal by segment, correlated with its risk (riskier borrowers have fewer
        # outside options), so at higher rates the borrowers who take a loan are riskier
        rho = market.risk_need_correlation
        need = rho * risk + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
        res_median = np.array([s.reservation_rate for s in segs])[self.segment]
        res_sigma = np.array([s.reservation_sigma for s in segs])[self.segment]
        self.reservation = res_median * np.exp(res_sigma * need)
        self.thin_file = rng.random(n) < np.array([s.thin_file_share for s in segs])[self.segment]
        self.data_rank = rng.random(n)  # covered by shared credit data when below coverage
        affinity = np.array([s.digital_affinity for s in segs])[self.segment]
        self.affinity = np.clip(affinity + 0.25 * rng.standard_normal(n), 0.0, 1.0)
        self.loan_mean = np.array([s.loan_mean_cny for s in segs])
        self.loan_sigma = np.array([s.loan_sigma for s in segs])
        self.term = np.array([s.term_months for s in segs], dtype=np.int32)
        self.apply_rate = np.array([s.apply_rate for s in segs])
        self.business = np.array([s.business for s in segs])
        self.initial_loan_share = np.array([s.initial_loan_share for s in segs])
        # the active loan; lender == NO_LENDER means none. The loans' other columns live
        # in the compact table of active loans only (``balance``, ``funder`` ... below
        # read them out for every borrower); the channel stays as last booked.
        self.lender = np.full(n, NO_LENDER, dtype=np.int32)  # originator
        self.online = np.zeros(n, dtype=bool)
        self.loans = LoanTable()
        self._uniform = np.empty(n)  # scratch for the monthly application draws

    @property
    def funder(self) -> np.ndarray:
        """Co-lending partner per borrower, NO_LENDER if none (read-only copy)."""
        return self.loans.full("funder", self.n, NO_LENDER, np.int32)

    @property
    def own_share(self) -> np.ndarray:
        """Originator's funded fraction per borrower, 1 without a loan (read-only copy)."""
        return self.loans.full("own", self.n, 1.0)

    @property
    def rate(self) -> np.ndarray:
        """Annual rate of each borrower's loan, 0 without a loan (read-only copy)."""
        return self.loans.full("rate", self.n)

    @property
    def payment(self) -> np.ndarray:
        """Scheduled principal a month per borrower, 0 without a loan (read-only copy)."""
        return self.loans.full("payment", self.n)

    @property
    def balance(self) -> np.ndarray:
        """Outstanding balance per borrower (CNY per real borrower; read-only copy)."""
        return self.loans.full("balance", self.n)

    @property
    def months_left(self) -> np.ndarray:
        """Months to maturity per borrower (read-only copy)."""
        return self.loans.full("months_left", self.n)

    def effective_pd(self, idx: np.ndarray, coverage: float, discipline: float) -> np.ndarray:
        """Annual PD of borrowers ``idx`` now: thin files covered by shared data default less.

        Shared credit data discipline borrowers (Jappelli and Pagano 2002; Brown,
        Jappelli and Pagano 2009): a thin-file borrower within ``coverage`` defaults
        at ``1 - discipline`` times its PD.
        """
        return self.pd[idx] * (1.0 - discipline * self.covered(idx, coverage))

    def covered(self, idx: np.ndarray, coverage: float) -> np.ndarray:
        """Which of borrowers ``idx`` are thin files covered by shared credit data."""
        return self.thin_file[idx] & (self.data_rank[idx] < coverage)

    def draw_need(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Loan amounts wanted by borrowers ``idx`` (CNY), lognormal by segment."""
        seg = self.segment[idx]
        sigma = self.loan_sigma[seg]
        return self.loan_mean[seg] * np.exp(sigma * rng.standard_normal(idx.size) - 0.5 * sigma**2)

    def applicants(self, growth: float, rng: np.random.Generator) -> np.ndarray:
        """Borrowers without a loan who apply this month, in random order."""
        free = np.flatnonzero(self.lender == NO_LENDER)
        rates = np.minimum(self.apply_rate * growth, 1.0)
        # one rate for every segment: compare with it directly (same draws, same result)
        prob = rates[0] if (rates == rates[0]).all() else rates[self.segment[free]]
        chosen = free.take(np.flatnonzero(rng.random(out=self._uniform[: free.size]) < prob))
        return rng.permutation(chosen)

    def book(
        self,
        idx: np.ndarray,
        lender: np.ndarray,
        funder: np.ndarray,
        own_share: np.ndarray,
        amount: np.ndarray,
        rate: np.ndarray,
        online: np.ndarray,
        pd: np.ndarray,
        months_left: np.ndarray | None = None,
        partner_rate: np.ndarray | None = None,
        priced_pd: np.ndarray | None = None,
    ) -> None:
        """Record new loans for borrowers ``idx`` (distinct), defaulting at annual ``pd``.

        ``partner_rate`` is the rate a co-lending partner earns on its part (the
        loan's rate by default); the originator keeps the rest of the interest.
        ``priced_pd`` is the PD the originator priced (the true one by default).
        """
        replaced = idx[self.lender[idx] != NO_LENDER]
        if replaced.size:  # a borrower's loan replaced by a new one
            self.loans.remove_ids(np.sort(replaced))
        self.lender[idx] = lender
        term = self.term[self.segment[idx]]
        left = term if months_left is None else months_left
        payment = amount / np.maximum(left, 1)
        self.online[idx] = online
        order = np.argsort(idx)  # distinct ids: any sort gives this order
        ids = idx[order]

        def sorted_(values: np.ndarray | float) -> np.ndarray:
            """Per-loan ``values`` (or one for all) in ascending borrower order."""
            return np.broadcast_to(values, idx.shape)[order]

        self.loans.rebuild(
            ids,
            {
                "lender": sorted_(lender),
                "funder": sorted_(funder),
                "own": sorted_(own_share),
                "balance": sorted_(amount),
                "rate": sorted_(rate),
                "partner_rate": sorted_(rate if partner_rate is None else partner_rate),
                "payment": sorted_(payment),
                "months_left": sorted_(left),
                "hazard": monthly_hazard(sorted_(pd)),
                "priced_pd": sorted_(pd if priced_pd is None else priced_pd),
            },
        )

    def _close(self, rows: np.ndarray) -> None:
        """Close the loans in table ``rows``."""
        self.lender[self.loans.ids[rows]] = NO_LENDER
        self.loans.close(rows)

    def split_by_funder(self, idx: np.ndarray, amount: np.ndarray, n_lenders: int) -> np.ndarray:
        """Per-lender totals of ``amount`` (per real borrower), split by funding share."""
        split = FunderSplit(self.lender[idx], self.funder[idx], self.own_share[idx], n_lenders)
        return split.total(amount) * self.weight

    def service(
        self,
        n_lenders: int,
        hazard_multiplier: np.ndarray,
        prepayment_rate: float,
        rng: np.random.Generator,
    ) -> ServicingFlows:
        """One month of default, interest, amortisation and prepayment on the loan table.

        Each loan is a cohort of ``weight`` real loans: the fraction ``hazard``
        (times ``hazard_multiplier`` of its originator: default shocks, the cycle)
        of its balance defaults and leaves the table for the funders' non-performing
        books; the rest pays interest and principal, and its scheduled payment
        shrinks in proportion. A loan closes when repaid (in full at maturity, or
        early with probability ``prepayment_rate``: the borrower may then switch).
        """
        # the active loans in borrower order (every per-lender sum adds the same numbers
        # in the same order as a scan over all borrowers)
        t = self.loans
        t.rebuild()  # drop loans closed since the last booking
        lender, funder, own, bal = t.lender, t.funder, t.own, t.balance
        hazard = t.hazard
        if not (hazard_multiplier == 1.0).all():  # x * 1.0 == x: skipped without a shock
            hazard = np.minimum(hazard * hazard_multiplier[lender], 1.0)
        defaulting = bal * hazard
        split = FunderSplit(lender, funder, own, n_lenders)
        new_npl = split.total(defaulting) * self.weight
        defaulted = np.bincount(lender, weights=defaulting, minlength=n_lenders) * self.weight
        # what each originator's pricing expected of its loans, against what came
        expected = bal * monthly_hazard(t.priced_pd)
        expected_defaults = np.bincount(lender, weights=expected, minlength=n_lenders) * self.weight

        paying = bal - defaulting
        t.payment = t.payment * (1.0 - hazard)
        interest = self._interest(lender, funder, own, paying, n_lenders)
        in_full = (rng.random(t.size) < prepayment_rate) | (t.months_left <= 1)
        principal_amt = np.where(in_full, paying, np.minimum(t.payment, paying))
        principal = split.total(principal_amt) * self.weight
        remaining = paying - principal_amt
        t.balance = remaining
        t.months_left = t.months_left - 1

        repaid_pos = np.flatnonzero(remaining <= 0.0)
        self._close(repaid_pos)
        return ServicingFlows(
            interest, principal, new_npl, repaid_pos.size, defaulted, expected_defaults
        )

    def _interest(
        self,
        lender: np.ndarray,
        funder: np.ndarray,
        own: np.ndarray,
        paying: np.ndarray,
        n_lenders: int,
    ) -> np.ndarray:
        """A month's interest per lender id on the loan table's ``paying`` balances (CNY).

        A co-lending partner earns its ``partner_rate`` on its part; the
        originator keeps the rest of the borrower's interest (its facilitation
        margin on the partner's part).
        """
        t = self.loans
        total = paying * t.rate / 12.0
        co_lent = np.flatnonzero(own < 1.0)
        partner = paying[co_lent] * (1.0 - own[co_lent]) * t.partner_rate[co_lent] / 12.0
        kept = total.copy()
        kept[co_lent] -= partner
        out = np.bincount(lender, weights=kept, minlength=n_lenders)
        if co_lent.size:
            out += np.bincount(funder[co_lent], weights=partner, minlength=n_lenders)
        return out * self.weight

    def outstanding_by(self, n_lenders: int) -> tuple[np.ndarray, np.ndarray]:
        """Performing balance (CNY) by originator, and by funder split."""
        t = self.loans
        t.rebuild()
        lender, funder, own, bal = t.lender, t.funder, t.own, t.balance
        by_originator = np.bincount(lender, weights=bal, minlength=n_lenders) * self.weight
        by_funder = FunderSplit(lender, funder, own, n_lenders).total(bal) * self.weight
        return by_originator, by_funder

    def partner_exposure(self, n_lenders: int) -> np.ndarray:
        """Partner-funded balance of each originator's co-lent loans, CNY."""
        t = self.loans  # closed loans still in it have own share 1: left out here too
        co_lent = np.flatnonzero(t.own < 1.0)
        weights = t.balance[co_lent] * (1.0 - t.own[co_lent])
        return np.bincount(t.lender[co_lent], weights=weights, minlength=n_lenders) * self.weight

    def transfer(self, from_lender: int, to_lender: int) -> None:
        """Move every loan originated or funded by ``from_lender`` to ``to_lender``."""
        # on the loan table (closed rows too: harmless, they add nothing), then the
        # originator column of the open loans that changed (the others have no loan)
        t = self.loans
        originated, funded = t.lender == from_lender, t.funder == from_lender
        t.lender[originated] = to_lender
        t.funder[funded] = to_lender
        same = t.lender == t.funder
        t.funder[same] = NO_LENDER
        t.own[same] = 1.0
        originated[t.dead] = False
        self.lender[t.ids[originated]] = to_lender
