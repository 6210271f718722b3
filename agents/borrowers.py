"""The borrower population: one numpy array per attribute, one element per borrower.

Each simulated borrower stands for ``weight`` real borrowers; loan amounts
are per real borrower (CNY) and aggregates multiply by ``weight``. Borrowers
are many, so they are vectorised rather than Mesa agents: per-agent stepping
would cost thousands of times more (see ``benchmarks/``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import SEGMENTS, MarketConfig
from sim.finance import monthly_hazard

NO_LENDER = -1


@dataclass
class ServicingFlows:
    """One month of loan servicing, per lender id (arrays of length ``n_lenders``), CNY."""

    interest: np.ndarray  # interest received, by funder share
    principal: np.ndarray  # principal repaid (incl. prepayment), by funder share
    new_npl: np.ndarray  # balance turning non-performing, by funder share
    written_off: np.ndarray  # non-performing balance written off, by funder share
    matured: int  # loans closed this month (repaid or written off)


class FunderSplit:
    """Per-lender totals of amounts on a fixed set of loans, split by funding share.

    The co-lent loans are found once; each ``total`` adds the same numbers in the
    same order as ``BorrowerPopulation._split`` (per real borrower, unweighted).
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


def _take(values: np.ndarray, pos: np.ndarray | None) -> np.ndarray:
    """``values[pos]``; ``pos`` None means every element (no copy)."""
    return values if pos is None else values[pos]


def _compose(outer: np.ndarray | None, inner: np.ndarray) -> np.ndarray:
    """Positions ``inner`` of a subset at positions ``outer`` (None: all), as positions."""
    return inner if outer is None else outer[inner]


class BorrowerPopulation:
    """Borrowers' attributes and their active loans."""

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
        self.pd = np.minimum(
            pd_mean * np.exp(pd_sigma * rng.standard_normal(n) - 0.5 * pd_sigma**2), 0.99
        )
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
        # the active loan; lender == NO_LENDER means none
        self.lender = np.full(n, NO_LENDER, dtype=np.int32)  # originator
        self.funder = np.full(n, NO_LENDER, dtype=np.int32)  # co-lending partner
        self.own_share = np.ones(n)  # originator's funded fraction
        self.balance = np.zeros(n)
        self.rate = np.zeros(n)
        self.payment = np.zeros(n)  # scheduled principal a month
        self.months_left = np.zeros(n, dtype=np.int32)
        self.online = np.zeros(n, dtype=bool)
        self.npl_age = np.zeros(n, dtype=np.int32)  # months non-performing, 0 if performing
        # derived once (PD is fixed per borrower): monthly default probability
        self.hazard = monthly_hazard(self.pd)
        self._uniform = np.empty(n)  # scratch for the monthly application draws
        self._active: np.ndarray | None = None  # borrowers with a loan (None: to recount)

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
        chosen = free[rng.random(out=self._uniform[: free.size]) < prob]
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
        months_left: np.ndarray | None = None,
    ) -> None:
        """Record new loans for borrowers ``idx``."""
        self._active = None
        self.lender[idx] = lender
        self.funder[idx] = funder
        self.own_share[idx] = own_share
        self.balance[idx] = amount
        self.rate[idx] = rate
        term = self.term[self.segment[idx]]
        left = term if months_left is None else months_left
        self.months_left[idx] = left
        self.payment[idx] = amount / np.maximum(left, 1)
        self.online[idx] = online
        self.npl_age[idx] = 0

    def active(self) -> np.ndarray:
        """Ids of the borrowers with a loan, ascending (kept between bookings)."""
        if self._active is None:
            self._active = np.flatnonzero(self.lender != NO_LENDER)
        return self._active

    def _close(self, idx: np.ndarray) -> None:
        self.lender[idx] = NO_LENDER
        self.funder[idx] = NO_LENDER
        self.own_share[idx] = 1.0
        self.balance[idx] = 0.0
        self.months_left[idx] = 0
        self.npl_age[idx] = 0

    def split_by_funder(self, idx: np.ndarray, amount: np.ndarray, n_lenders: int) -> np.ndarray:
        """Per-lender totals of ``amount`` (per real borrower), split by funding share."""
        return self._split(
            self.lender[idx], self.funder[idx], self.own_share[idx], amount, n_lenders
        )

    def _split(
        self,
        lender: np.ndarray,
        funder: np.ndarray,
        own: np.ndarray,
        amount: np.ndarray,
        n_lenders: int,
    ) -> np.ndarray:
        """``split_by_funder`` on loan columns already gathered (same order, same sums)."""
        total = np.bincount(lender, weights=amount * own, minlength=n_lenders)
        partnered = own < 1.0
        if partnered.any():
            total += np.bincount(
                funder[partnered],
                weights=amount[partnered] * (1.0 - own[partnered]),
                minlength=n_lenders,
            )
        return total * self.weight

    def service(
        self,
        n_lenders: int,
        hazard_multiplier: np.ndarray,
        prepayment_rate: float,
        writeoff_months: int,
        rng: np.random.Generator,
    ) -> ServicingFlows:
        """One month of interest, amortisation, prepayment, default and write-off.

        ``hazard_multiplier`` is indexed by originator id (default shocks).
        Non-performing loans earn nothing and are written off after
        ``writeoff_months``; the write-off amount is the gross balance.
        """
        # the loan columns are gathered once over the active loans (ascending borrower
        # order, so every per-lender sum adds the same numbers in the same order as a
        # scan over all borrowers), then narrowed by positions
        idx = self.active()
        lender, funder, own = self.lender[idx], self.funder[idx], self.own_share[idx]
        bal = self.balance[idx]
        age = self.npl_age[idx]
        npl_pos = np.flatnonzero(age > 0)
        npl_age = age[npl_pos] + 1
        self.npl_age[idx[npl_pos]] = npl_age
        due_pos = npl_pos[npl_age > writeoff_months]
        written_off = self._split(
            lender[due_pos], funder[due_pos], own[due_pos], bal[due_pos], n_lenders
        )

        perf_pos = np.flatnonzero(age <= 0) if npl_pos.size else None
        perf = _take(idx, perf_pos)
        hazard = self.hazard[perf]
        if not (hazard_multiplier == 1.0).all():  # x * 1.0 == x: skipped without a shock
            hazard = hazard * hazard_multiplier[_take(lender, perf_pos)]
        defaults = rng.random(perf.size) < hazard
        default_pos = _compose(perf_pos, np.flatnonzero(defaults))
        self.npl_age[idx[default_pos]] = 1
        new_npl = self._split(
            lender[default_pos], funder[default_pos], own[default_pos], bal[default_pos], n_lenders
        )

        pay_pos = _compose(perf_pos, np.flatnonzero(~defaults)) if default_pos.size else perf_pos
        paying = _take(idx, pay_pos)
        balance = _take(bal, pay_pos)
        split = FunderSplit(
            _take(lender, pay_pos), _take(funder, pay_pos), _take(own, pay_pos), n_lenders
        )
        interest = split.total(balance * self.rate[paying] / 12.0) * self.weight
        prepay = rng.random(paying.size) < prepayment_rate
        principal_amt = np.where(prepay, balance, np.minimum(self.payment[paying], balance))
        months_left = self.months_left[paying]
        principal_amt = np.where(months_left <= 1, balance, principal_amt)
        principal = split.total(principal_amt) * self.weight
        remaining = balance - principal_amt
        self.balance[paying] = remaining
        self.months_left[paying] = months_left - 1

        repaid_local = np.flatnonzero(remaining <= 0.0)
        self._close(idx[due_pos])
        self._close(paying[repaid_local])
        closed = np.concatenate((due_pos, _compose(pay_pos, repaid_local)))
        self._active = np.delete(idx, closed)
        return ServicingFlows(
            interest, principal, new_npl, written_off, due_pos.size + repaid_local.size
        )

    def outstanding_by(self, n_lenders: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Outstanding (CNY) by originator, by funder split, and non-performing by funder split."""
        idx = self.active()
        lender, funder, own = self.lender[idx], self.funder[idx], self.own_share[idx]
        bal = self.balance[idx]
        by_originator = np.bincount(lender, weights=bal, minlength=n_lenders) * self.weight
        by_funder = FunderSplit(lender, funder, own, n_lenders).total(bal) * self.weight
        npl = np.flatnonzero(self.npl_age[idx] > 0)
        npl_by_funder = self._split(lender[npl], funder[npl], own[npl], bal[npl], n_lenders)
        return by_originator, by_funder, npl_by_funder

    def partner_exposure(self, n_lenders: int) -> np.ndarray:
        """Partner-funded balance of each originator's co-lent loans, CNY."""
        idx = self.active()
        own = self.own_share[idx]
        co_lent = np.flatnonzero(own < 1.0)
        idx = idx[co_lent]
        weights = self.balance[idx] * (1.0 - own[co_lent])
        return np.bincount(self.lender[idx], weights=weights, minlength=n_lenders) * self.weight

    def transfer(self, from_lender: int, to_lender: int) -> None:
        """Move every loan originated or funded by ``from_lender`` to ``to_lender``."""
        self.lender[self.lender == from_lender] = to_lender
        self.funder[self.funder == from_lender] = to_lender
        same = (self.lender == self.funder) & (self.lender != NO_LENDER)
        self.funder[same] = NO_LENDER
        self.own_share[same] = 1.0
