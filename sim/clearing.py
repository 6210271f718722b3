"""Monthly market clearing, vectorised over applicants.

Each applicant samples ``search_size`` lenders by visibility in its region
(the BAM credit-market protocol), ranks them by a logit utility on the posted
rate and channel convenience, then tries them in order. Each lender screens on
a noisy risk signal, prices funding + cost + expected loss + markup, at most
the rate cap (a loan whose cost and prudent expected loss, the loss on the
estimate it screens on, exceed the cap is refused), sizes the loan under the
caps, and lends while its monthly room lasts (the applicant at the edge of
the room gets what is left). The applicant takes the first
approved offer whose expected cost, ``rate x (1 - pd)``, is within its
reservation rate, else tries the next lender.
What nobody lends is unmet demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.loan_table import NO_LENDER
from sim.finance import offered_rate, prudent_estimate, risk_signal, signal_noise


@dataclass
class Applicants:
    """This month's applicants (arrays of equal length, in random order)."""

    idx: np.ndarray  # borrower index in the population
    region: np.ndarray
    mandate: np.ndarray  # bool: in a policy lender's mandate segments
    pd: np.ndarray  # annual PD now (after the discipline of shared credit data)
    thin_file: np.ndarray
    covered: np.ndarray  # thin file covered by shared credit data
    affinity: np.ndarray  # digital affinity this month
    need: np.ndarray  # wanted amount, CNY per real borrower
    business: np.ndarray  # bool: business loan
    reservation: np.ndarray  # highest expected cost of credit, rate x (1 - pd), it accepts


@dataclass
class LenderOffers:
    """What each lender offers this month (arrays indexed by lender id)."""

    visibility: np.ndarray  # [n_regions, n_lenders] for ordinary applicants
    visibility_mandate: np.ndarray  # [n_regions, n_lenders] for mandate-segment applicants
    present: np.ndarray  # [n_lenders, n_regions] physical presence
    online_only: np.ndarray  # platforms originate online only
    online_capability: np.ndarray
    funding_cost: np.ndarray
    mandate_funding_cut: np.ndarray  # funding-cost cut on mandate-segment loans
    operating_cost: np.ndarray
    technology: np.ndarray
    data_noise: np.ndarray  # screening-noise factor of the lender's own data (1 = no edge)
    relationship: np.ndarray  # signal-noise cut on borrowers in its own regions (offline)
    thin_file_edge: np.ndarray  # share of the thin-file noise penalty its data models remove
    business_discount: np.ndarray  # rate cut on business loans (inclusive-lending push)
    loss_factor: np.ndarray  # what the lender learnt of its PD estimates (experience rating)
    risk_appetite: np.ndarray  # for ordinary applicants
    risk_appetite_mandate: np.ndarray  # for mandate-segment applicants
    markup: np.ndarray
    posted_rate: np.ndarray  # rate advertised to borrowers: funding + operating cost + markup
    brand: np.ndarray
    equity: np.ndarray
    capacity: np.ndarray  # CNY the lender can originate this month
    own_share: np.ndarray  # originator's funded share
    partner: np.ndarray  # co-funding bank, or NO_LENDER
    partner_funding: np.ndarray  # the co-funding bank's cost of funds (0 without one)
    is_platform: np.ndarray


@dataclass
class Terms:
    """Regulation and behaviour that clearing needs, as plain numbers."""

    rate_cap: float
    loss_given_default: float
    online_consumer_cap: float
    online_business_cap: float
    platform_individual_cap: float
    single_borrower_limit: float
    screening_noise: float
    data_sharing_effect: float
    rate_sensitivity: float
    online_rate_sensitivity: float  # factor on rate_sensitivity for online comparisons
    online_preference: float
    search_size: int
    co_lending_margin: float  # a partner bank's margin over funds and expected loss


REFUSED_RISK = 1  # the prudent PD estimate is above the lender's risk appetite
REFUSED_RATE_CAP = 2  # the priced rate is above the rate cap
REFUSED_LOAN_CAP = 4  # the loan-size caps leave nothing to lend
REFUSED_CAPACITY = 8  # approved, but the lender's room for the month had run out
DECLINED_PRICE = 16  # approved, but the borrower would not pay the rate
UNMET_REASONS = ("rate_cap", "loan_cap", "capacity", "priced_out", "risk_screening", "no_lender")
"""Why demand went unmet, in the order a refused applicant is attributed: the first
reason in this order that alone stopped a lender it tried (a lender that finds the
risk too high refuses whatever the rules, so its refusal counts as risk only;
``priced_out``: the applicant declined an approved offer as dearer than it would pay);
``no_lender`` when no lender was reached. A served applicant's shortfall below its
need is the loan-size caps', or the lender's room where it got the room left."""
_REASON_BITS = (REFUSED_RATE_CAP, REFUSED_LOAN_CAP, REFUSED_CAPACITY, DECLINED_PRICE, REFUSED_RISK)


def decisive(refused: np.ndarray) -> np.ndarray:
    """A lender's refusal mask reduced to what stopped it: risk alone when risk is in it."""
    return np.where(refused & REFUSED_RISK, REFUSED_RISK, refused).astype(np.uint8)


def unmet_reason(refusals: np.ndarray) -> np.ndarray:
    """Index into ``UNMET_REASONS`` for applicants refused with these bit masks."""
    reason = np.full(refusals.shape, len(_REASON_BITS), dtype=np.int8)  # no lender reached
    for k in range(len(_REASON_BITS) - 1, -1, -1):  # the first in the order wins
        reason[(refusals & _REASON_BITS[k]) != 0] = k
    return reason


@dataclass
class Matches:
    """Outcome per applicant; ``lender == NO_LENDER`` where nobody lent."""

    lender: np.ndarray
    funder: np.ndarray
    own_share: np.ndarray
    amount: np.ndarray
    rate: np.ndarray
    partner_rate: np.ndarray  # what the co-funding partner earns on its part
    priced_pd: np.ndarray  # the PD the lender priced the loan at
    online: np.ndarray
    capacity_bound: np.ndarray  # per lender: it turned someone away for lack of room
    refusals: np.ndarray  # per applicant: bit mask of the REFUSED_* reasons it met
    room_short: np.ndarray  # per applicant: served less than asked for lack of room

    @classmethod
    def empty(cls, n: int, n_lenders: int) -> Matches:
        """Outcome of ``n`` applicants before any lender has lent."""
        return cls(
            lender=np.full(n, NO_LENDER, dtype=np.int64),
            funder=np.full(n, NO_LENDER, dtype=np.int64),
            own_share=np.ones(n),
            amount=np.zeros(n),
            rate=np.zeros(n),
            partner_rate=np.zeros(n),
            priced_pd=np.zeros(n),
            online=np.zeros(n, dtype=bool),
            capacity_bound=np.zeros(n_lenders, dtype=bool),
            refusals=np.zeros(n, dtype=np.uint8),
            room_short=np.zeros(n, dtype=bool),
        )


def sample_candidates(
    visibility: np.ndarray, region: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Lender ids sampled by visibility in each applicant's region (NO_LENDER if none).

    ``visibility`` is ``[n_regions, n_lenders]``; a "region" is any group of
    applicants sharing a row (``search_rows`` stacks one block of rows per risk
    class and mandate flag).
    """
    out = np.full((region.size, size), NO_LENDER, dtype=np.int64)
    n_lenders = visibility.shape[1]
    if region.size == 0 or n_lenders == 0:
        return out
    cumulative = np.cumsum(visibility, axis=1)
    totals = cumulative[:, -1]
    # applicants grouped by region (ascending), each group in its original order
    # (a stable sort: radix on a small integer type); one block of draws for the
    # regions with anything visible, in that order, is the same stream as one draw
    # per region
    order = np.argsort(region.astype(_small_int(visibility.shape[0])), kind="stable")
    sorted_region = region[order]
    keep = totals[sorted_region] > 0
    rows_all, region_kept = order[keep], sorted_region[keep]
    if rows_all.size == 0:  # nothing visible anywhere (e.g. every lender gone)
        return out
    draws = rng.random((rows_all.size, size)) * totals[region_kept][:, None]
    picked = np.empty(draws.shape, dtype=np.int64)
    bounds = (np.flatnonzero(np.diff(region_kept)) + 1).tolist()
    starts, ends = [0, *bounds], [*bounds, region_kept.size]
    for r, start, end in zip(region_kept[starts].tolist(), starts, ends, strict=True):
        picked[start:end] = cumulative[r].searchsorted(draws[start:end], side="right")
    out[rows_all] = np.minimum(picked, n_lenders - 1)
    return out


def _small_int(n_values: int) -> np.dtype:
    """The smallest unsigned integer type for ``0..n_values - 1`` (radix-sorted at 8/16 bit)."""
    return np.min_scalar_type(max(n_values - 1, 0))


def _stable_ranks(key: np.ndarray) -> np.ndarray | None:
    """Each entry's position in its row after a stable ascending sort; None if not cheap.

    Pairwise comparisons (ties keep the earlier column first) for a few columns
    without NaN: the ranks ``np.argsort(key, axis=1, kind="stable")`` implies.
    """
    width = key.shape[1]
    if width > 6 or np.isnan(key).any():
        return None
    rank = np.zeros(key.shape, dtype=np.intp)
    for i in range(width):
        for j in range(i + 1, width):
            first = key[:, i] <= key[:, j]
            rank[:, j] += first
            rank[:, i] += ~first
    return rank


def _rank(
    cand: np.ndarray, app: Applicants, offers: LenderOffers, terms: Terms, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates sorted by utility (best first) and their channel; duplicates dropped."""
    valid = cand != NO_LENDER
    safe = np.where(valid, cand, 0)
    # online whatever the applicant prefers: a platform, or a lender not present in the
    # region (per lender and region, looked up per candidate)
    forced = (offers.online_only[:, None] | ~offers.present).ravel()
    forced = forced[safe * offers.present.shape[1] + app.region[:, None]]
    by_app = rng.random(cand.shape) < app.affinity[:, None] * offers.online_capability[safe]
    online = forced | by_app
    convenience = np.where(online, app.affinity[:, None], 1.0 - app.affinity[:, None])
    # the lender terms per lender first, then gathered (the same numbers per element)
    price = -terms.rate_sensitivity * 100.0 * offers.posted_rate
    # comparing offers online is cheaper, so borrowers weigh the rate more there
    utility = (
        price[safe] * np.where(online, terms.online_rate_sensitivity, 1.0)
        + terms.online_preference * convenience
        + np.log(offers.brand)[safe]
        + rng.gumbel(size=cand.shape)
    )
    key = np.where(valid, -utility, np.inf)
    rank = _stable_ranks(key)
    if rank is None:
        order = np.argsort(key, axis=1, kind="stable")
        cand = np.take_along_axis(cand, order, axis=1)
        online = np.take_along_axis(online, order, axis=1)
    else:  # scatter each entry to its rank: the same as gathering by the sort order
        flat = (rank + cand.shape[1] * np.arange(cand.shape[0])[:, None]).ravel()
        cand_sorted = np.empty_like(cand)
        cand_sorted.ravel()[flat] = cand.ravel()
        online_sorted = np.empty_like(online)
        online_sorted.ravel()[flat] = online.ravel()
        cand, online = cand_sorted, online_sorted
    for k in range(1, cand.shape[1]):
        column = cand[:, k]
        seen = cand[:, 0] == column
        for j in range(1, k):
            seen |= cand[:, j] == column
        column[seen] = NO_LENDER
    return cand, online


def _loan_size(
    need: np.ndarray,
    online: np.ndarray,
    online_cap: np.ndarray,
    personal_platform: np.ndarray,
    platform_cap: float,
    largest: np.ndarray,
) -> np.ndarray:
    """Amount lent: the need under the online, platform and single-borrower caps.

    ``online_cap`` is the cap on the applicant's kind of online loan,
    ``personal_platform`` marks a personal loan from a platform, ``largest`` is
    the lender's single-borrower limit.
    """
    amount = np.where(online, np.minimum(need, online_cap), need)
    amount = np.where(personal_platform, np.minimum(amount, platform_cap), amount)
    return np.minimum(amount, largest)


def room_granted(
    lender: np.ndarray, amount: np.ndarray, capacity: np.ndarray, weight: float
) -> np.ndarray:
    """What each approval gets within its lender's remaining room, first come first served.

    Loans that fit are granted in full; the first one that does not gets what
    room is left (a smaller loan than asked), those after it nothing. So a
    lender lends all its room whatever the size of the simulated loans, and the
    volume it lends does not depend on how many borrowers the population has.
    """
    order = np.argsort(lender.astype(_small_int(capacity.size)), kind="stable")
    sorted_lender = lender[order]
    cum = np.cumsum(amount[order] * weight)
    starts = np.searchsorted(sorted_lender, sorted_lender, side="left")
    before = np.where(starts > 0, cum[starts - 1], 0.0)
    own = cum - before  # this lender's approvals so far, this one included
    room_left = capacity[sorted_lender] - (own - amount[order] * weight)
    granted_sorted = np.clip(room_left / weight, 0.0, amount[order])
    granted = np.empty_like(granted_sorted)
    granted[order] = granted_sorted
    return granted


PD_BUCKET_EDGES = np.array([0.0, 0.03, 0.06, 0.12, 0.24])
"""Lower edges of the risk classes borrowers know themselves to be in (annual PD)."""


def search_rows(app: Applicants, offers: LenderOffers) -> tuple[np.ndarray, np.ndarray]:
    """Visibility rows applicants search by, and each applicant's row.

    A borrower knows its own standing (past refusals, online pre-approval
    checks), so it applies only to lenders whose risk appetite reaches its risk
    class: one block of ``[n_regions, n_lenders]`` rows per risk class and
    mandate flag (mandate applicants see the mandate rows and appetites).
    """
    n_regions = offers.visibility.shape[0]
    base = (offers.visibility, offers.visibility_mandate)
    appetite = (offers.risk_appetite, offers.risk_appetite_mandate)
    rows = [base[m] * (appetite[m] >= edge) for edge in PD_BUCKET_EDGES for m in (0, 1)]
    risk_class = np.searchsorted(PD_BUCKET_EDGES, app.pd, side="right") - 1
    group = app.region + n_regions * (app.mandate + 2 * risk_class)
    return np.concatenate(rows), group


def clear(
    app: Applicants,
    offers: LenderOffers,
    terms: Terms,
    weight: float,
    rng: np.random.Generator,
) -> Matches:
    """Match applicants to lenders for one month."""
    n = app.idx.size
    n_lenders = offers.capacity.size
    result = Matches.empty(n, n_lenders)
    if n == 0 or n_lenders == 0:
        return result
    visibility, group = search_rows(app, offers)
    cand = sample_candidates(visibility, group, terms.search_size, rng)
    cand, online = _rank(cand, app, offers, terms, rng)
    capacity = offers.capacity.copy()
    pending = np.ones(n, dtype=bool)
    # the screening arithmetic's per-lender and per-applicant parts, computed once
    # each and looked up in the rounds: every number is formed by the same operations
    # as per candidate. Lender terms for ordinary applicants are at ids 0..n-1, for
    # mandate ones at n..2n-1; the signal noise is a lender factor times an applicant one.
    by_mandate = n_lenders * app.mandate
    appetite_of = np.concatenate((offers.risk_appetite, offers.risk_appetite_mandate))
    cut = offers.mandate_funding_cut
    funding_of = np.maximum(  # a funding cut never makes funds cost less than nothing
        np.concatenate((offers.funding_cost - False * cut, offers.funding_cost - True * cut)), 0.0
    )
    no = np.zeros(n_lenders, dtype=bool)
    lender_noise = offers.data_noise * signal_noise(
        terms.screening_noise, offers.technology, no, no, terms.data_sharing_effect
    )
    # the thin-file part of the noise, which a lender's data models cut by its edge
    thin_excess = signal_noise(1.0, 0.0, app.thin_file, app.covered, terms.data_sharing_effect) - 1
    penalty_kept = 1.0 - offers.thin_file_edge
    online_cap = np.where(app.business, terms.online_business_cap, terms.online_consumer_cap)
    personal = ~app.business
    largest = terms.single_borrower_limit * np.maximum(offers.equity, 0.0)
    for k in range(cand.shape[1]):
        rows = np.flatnonzero(pending & (cand[:, k] != NO_LENDER))
        if rows.size == 0:
            continue
        lender = cand[rows, k]
        chan = online[rows, k]
        # relationship lending: a lender knows the borrowers it meets at its branches
        noise = (
            lender_noise[lender]
            * (1.0 + penalty_kept[lender] * thin_excess[rows])
            * (1.0 - offers.relationship[lender] * ~chan)
        )
        signal = risk_signal(app.pd[rows], noise, rng.standard_normal(rows.size))
        signal = np.minimum(signal * offers.loss_factor[lender], 1.0)
        term_of = lender + by_mandate[rows]
        appetite = appetite_of[term_of]
        funding = funding_of[term_of]
        # priced at cost + expected loss + markup, or at the cap where the cap still
        # covers cost and the prudent expected loss; beyond that the lender rations
        break_even = offered_rate(
            funding, offers.operating_cost[lender], signal, terms.loss_given_default, 0.0
        )
        discount = offers.business_discount[lender] * app.business[rows]
        markup = np.maximum(offers.markup[lender] - discount, 0.0)
        rate = np.minimum(break_even + markup, terms.rate_cap)
        amount = _loan_size(
            app.need[rows],
            chan,
            online_cap[rows],
            offers.is_platform[lender] & personal[rows],
            terms.platform_individual_cap,
            largest[lender],
        )
        prudent = prudent_estimate(signal, noise)
        # the cap must cover cost and the loss the lender screens on (its prudent
        # estimate): it does not lend where only a lucky read of the risk would pay
        prudent_break_even = offered_rate(
            funding, offers.operating_cost[lender], prudent, terms.loss_given_default, 0.0
        )
        refused = (
            REFUSED_RISK * (prudent > appetite)
            | REFUSED_RATE_CAP * (prudent_break_even > terms.rate_cap)
            | REFUSED_LOAN_CAP * (amount <= 0)
        ).astype(np.uint8)
        # the applicant takes the offer only if its expected cost is within its reach
        dear = (refused == 0) & (rate * (1.0 - app.pd[rows]) > app.reservation[rows])
        refused[dear] = DECLINED_PRICE
        approved = np.flatnonzero(refused == 0)
        approved_lender = lender[approved]
        granted = room_granted(approved_lender, amount[approved], capacity, weight)
        fits = granted > 0
        short = granted < amount[approved]
        result.capacity_bound[approved_lender[short]] = True
        amount[approved] = granted
        result.room_short[rows[approved[fits & short]]] = True
        refused[approved[~fits]] = REFUSED_CAPACITY
        result.refusals[rows] |= decisive(refused)
        ok = approved[fits]  # positions in this round's rows, ascending
        won, wl, lent = rows[ok], lender[ok], amount[ok]
        result.lender[won] = wl
        result.amount[won] = lent
        result.rate[won] = rate[ok]
        # a partner bank funds its part at its cost of funds plus the expected loss
        # the platform's screening shows and its margin; the platform keeps the rest
        partner_rate = (
            offers.partner_funding[wl]
            + signal[ok] * terms.loss_given_default
            + terms.co_lending_margin
        )
        result.partner_rate[won] = np.minimum(partner_rate, rate[ok])
        result.priced_pd[won] = signal[ok]
        result.online[won] = chan[ok]
        capacity -= np.bincount(wl, weights=lent * weight, minlength=n_lenders)
        pending[won] = False
    # funding shares and partners of every loan made (fixed per lender this month)
    won = np.flatnonzero(result.lender != NO_LENDER)
    wl = result.lender[won]
    result.own_share[won] = offers.own_share[wl]
    partnered = offers.own_share[wl] < 1.0
    result.funder[won] = np.where(partnered, offers.partner[wl], NO_LENDER)
    return result
