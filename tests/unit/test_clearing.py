"""Market clearing on hand-built markets of one to three lenders.

The cases are built so the outcome does not depend on the random draws:
zero screening noise (the risk signal is then the true PD), a search size of
one, visibility on one lender only, and a channel fixed by the lender (no
online capability: offline where present; online-only or absent: online).
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.loan_table import NO_LENDER
from sim.clearing import (
    REFUSED_RATE_CAP,
    Applicants,
    LenderOffers,
    Terms,
    _loan_size,
    clear,
    room_granted,
    sample_candidates,
)

# a lender's rate in these cases: funding 0.03 + opex 0.04 + PD 0.05 x LGD 0.6 + markup 0.02
RATE = 0.03 + 0.04 + 0.05 * 0.6 + 0.02  # = 0.12


def offers(n_lenders: int = 1, n_regions: int = 1, **values: np.ndarray) -> LenderOffers:
    """Offers of ``n_lenders`` identical lenders visible everywhere, overridden by ``values``."""
    fields = {
        "visibility": np.ones((n_regions, n_lenders)),
        "visibility_mandate": np.ones((n_regions, n_lenders)),
        "present": np.ones((n_lenders, n_regions), dtype=bool),
        "online_only": np.zeros(n_lenders, dtype=bool),
        "online_capability": np.zeros(n_lenders),
        "funding_cost": np.full(n_lenders, 0.03),
        "mandate_funding_cut": np.zeros(n_lenders),
        "operating_cost": np.full(n_lenders, 0.04),
        "technology": np.zeros(n_lenders),
        "data_noise": np.ones(n_lenders),
        "relationship": np.zeros(n_lenders),
        "thin_file_edge": np.zeros(n_lenders),
        "business_discount": np.zeros(n_lenders),
        "loss_factor": np.ones(n_lenders),
        "risk_appetite": np.full(n_lenders, 0.2),
        "risk_appetite_mandate": np.full(n_lenders, 0.2),
        "markup": np.full(n_lenders, 0.02),
        "posted_rate": np.full(n_lenders, 0.09),
        "brand": np.ones(n_lenders),
        "equity": np.full(n_lenders, 1e12),
        "capacity": np.full(n_lenders, 1e15),
        "own_share": np.ones(n_lenders),
        "partner": np.full(n_lenders, NO_LENDER),
        "partner_funding": np.zeros(n_lenders),
        "is_platform": np.zeros(n_lenders, dtype=bool),
    }
    fields.update(values)
    return LenderOffers(**fields)


def applicants(n: int = 1, **values: np.ndarray) -> Applicants:
    """``n`` ordinary personal applicants in region 0 with PD 0.05 wanting 1000 CNY."""
    fields = {
        "idx": np.arange(n),
        "region": np.zeros(n, dtype=np.int64),
        "mandate": np.zeros(n, dtype=bool),
        "pd": np.full(n, 0.05),
        "thin_file": np.zeros(n, dtype=bool),
        "covered": np.zeros(n, dtype=bool),
        "affinity": np.full(n, 0.5),
        "need": np.full(n, 1000.0),
        "business": np.zeros(n, dtype=bool),
        "reservation": np.full(n, 10.0),  # takes any offer
    }
    fields.update(values)
    return Applicants(**fields)


def terms(**values: float) -> Terms:
    """Rules with a 24 % cap, LGD 0.6, no screening noise and a search size of one."""
    fields = {
        "rate_cap": 0.24,
        "loss_given_default": 0.6,
        "online_consumer_cap": 2e5,
        "online_business_cap": 1e6,
        "platform_individual_cap": 3e5,
        "single_borrower_limit": 0.1,
        "screening_noise": 0.0,
        "data_sharing_effect": 0.5,
        "rate_sensitivity": 0.5,
        "online_rate_sensitivity": 1.0,
        "online_preference": 2.0,
        "search_size": 1,
        "co_lending_margin": 0.01,
    }
    fields.update(values)
    return Terms(**fields)


def rng() -> np.random.Generator:
    """A seeded generator (the cases do not depend on its draws)."""
    return np.random.default_rng(12345)


# -------------------------------------------------------------- pricing
def test_one_applicant_one_lender_is_priced_by_hand() -> None:
    """Rate = 0.03 + 0.04 + 0.05 x 0.6 + 0.02 = 0.12; the whole need lent offline."""
    m = clear(applicants(), offers(), terms(), 1.0, rng())
    assert m.lender.tolist() == [0]
    assert m.rate[0] == pytest.approx(0.12)
    assert m.amount[0] == 1000.0
    assert not m.online[0]
    assert m.funder.tolist() == [NO_LENDER]
    assert m.own_share.tolist() == [1.0]
    assert not m.capacity_bound[0]


def test_rate_uses_the_signal_of_each_applicant() -> None:
    """With zero noise the signal is the true PD: PDs 0.01 and 0.1 give 0.096 and 0.15."""
    app = applicants(2, pd=np.array([0.01, 0.1]))
    m = clear(app, offers(), terms(), 1.0, rng())
    np.testing.assert_allclose(m.rate, [0.09 + 0.006, 0.09 + 0.06])


def test_thin_file_changes_nothing_without_noise() -> None:
    """Zero screening noise stays zero for a thin file: the same rate 0.12."""
    app = applicants(2, thin_file=np.array([True, False]))
    m = clear(app, offers(), terms(), 1.0, rng())
    np.testing.assert_allclose(m.rate, [RATE, RATE])


def test_noisy_rate_stays_between_costs_and_full_loss() -> None:
    """With noise, the signal lies in (0, 1], so rate - (0.03 + 0.04 + 0.02) is in (0, 0.6].

    The prudent PD is at most exp(2 x 2) < 100 (signal at most 1, noise at most
    2 x 2 for a thin file), so an appetite of 100 approves every draw, and a cap of 40
    covers even the prudent break-even (at most 0.09 + 0.6 x exp(4) < 33).
    """
    app = applicants(200, thin_file=np.arange(200) % 2 == 0)
    o = offers(risk_appetite=np.array([100.0]))
    m = clear(app, o, terms(screening_noise=2.0, rate_cap=40.0), 1.0, rng())
    assert (m.lender == 0).all()
    spread = m.rate - 0.09
    assert (spread > 0).all() and (spread <= 0.6 + 1e-12).all()


# ------------------------------------------------------------- screening
def test_prudent_pd_above_the_appetite_is_refused() -> None:
    """PD 0.05 against appetite 0.04 is refused; at appetite exactly 0.05 it is lent."""
    refused = clear(applicants(), offers(risk_appetite=np.array([0.04])), terms(), 1.0, rng())
    assert refused.lender.tolist() == [NO_LENDER]
    assert refused.amount.tolist() == [0.0]
    lent = clear(applicants(), offers(risk_appetite=np.array([0.05])), terms(), 1.0, rng())
    assert lent.lender.tolist() == [0]


def test_a_cap_below_the_price_truncates_it_and_rations_only_below_cost() -> None:
    """The loan prices at 0.12: break-even 0.03 + 0.04 + 0.05 x 0.6 = 0.10 plus markup 0.02.

    Under a 13 % cap it is lent at 0.12; under an 11 % cap at the cap (0.11 still
    covers cost and expected loss); under a 9.5 % cap, below break-even, it is refused
    for the cap.
    """
    loose = clear(applicants(), offers(), terms(rate_cap=0.13), 1.0, rng())
    assert loose.lender[0] == 0 and loose.rate[0] == pytest.approx(0.12)
    binding = clear(applicants(), offers(), terms(rate_cap=0.11), 1.0, rng())
    assert binding.lender[0] == 0 and binding.rate[0] == pytest.approx(0.11)
    below = clear(applicants(), offers(), terms(rate_cap=0.095), 1.0, rng())
    assert below.lender[0] == NO_LENDER and below.refusals[0] == REFUSED_RATE_CAP


def test_lender_without_equity_lends_nothing() -> None:
    """Single-borrower limit 0.1 x max(equity, 0) is 0 for equity 0 or -5: no loan."""
    for equity in (0.0, -5.0):
        m = clear(applicants(), offers(equity=np.array([equity])), terms(), 1.0, rng())
        assert m.lender[0] == NO_LENDER


def test_mandate_applicants_see_their_own_visibility_appetite_and_funding() -> None:
    """Ordinary applicants see only lender 0, mandate ones only lender 1.

    PD 0.05: lender 0 lends to the ordinary applicant at 0.12; lender 1 refuses
    ordinary risk above 0.04 but takes mandate risk up to 0.06, at a funding cut
    of 0.01: 0.12 - 0.01 = 0.11.
    """
    o = offers(
        2,
        visibility=np.array([[1.0, 0.0]]),
        visibility_mandate=np.array([[0.0, 1.0]]),
        risk_appetite=np.array([0.2, 0.04]),
        risk_appetite_mandate=np.array([0.2, 0.06]),
        mandate_funding_cut=np.array([0.0, 0.01]),
    )
    app = applicants(2, mandate=np.array([False, True]))
    m = clear(app, o, terms(), 1.0, rng())
    assert m.lender.tolist() == [0, 1]
    np.testing.assert_allclose(m.rate, [RATE, RATE - 0.01])


# -------------------------------------------------------------- capacity
def test_capacity_serves_the_first_applicants_in_order() -> None:
    """Room 600 at weight 2 for loans of 100: exactly 3 of 5 fit (3 x 100 x 2 = 600).

    The first three applicants (in their order) are served; the lender is
    marked capacity-bound.
    """
    app = applicants(5, need=np.full(5, 100.0))
    m = clear(app, offers(capacity=np.array([600.0])), terms(), 2.0, rng())
    assert m.lender.tolist() == [0, 0, 0, NO_LENDER, NO_LENDER]
    np.testing.assert_array_equal(m.amount, [100, 100, 100, 0, 0])
    assert m.capacity_bound.tolist() == [True]


def test_room_to_spare_is_not_capacity_bound() -> None:
    """Room 1000 for five loans of 100 at weight 2: everyone served, not bound."""
    app = applicants(5, need=np.full(5, 100.0))
    m = clear(app, offers(capacity=np.array([1000.0])), terms(), 2.0, rng())
    assert (m.lender == 0).all()
    assert m.capacity_bound.tolist() == [False]


def test_refusal_on_risk_does_not_mark_capacity_bound() -> None:
    """An applicant refused on its PD does not count as turned away for lack of room."""
    m = clear(applicants(), offers(risk_appetite=np.array([0.01])), terms(), 1.0, rng())
    assert m.lender[0] == NO_LENDER
    assert not m.capacity_bound[0]


def test_room_granted_first_come_first_served() -> None:
    """Lender 1 with room 12 and three approvals of 5: the first two in full, the third
    the 2 left, nothing after; lender 0 with room 5 takes its one of 5 in full.
    """
    granted = room_granted(
        np.array([1, 0, 1, 1, 1]),
        np.array([5.0, 5.0, 5.0, 5.0, 5.0]),
        np.array([5.0, 12.0]),
        1.0,
    )
    assert granted.tolist() == [5.0, 5.0, 5.0, 2.0, 0.0]


def test_room_granted_counts_the_weight() -> None:
    """At weight 3 a loan of 5 uses 15: room 20 grants 5 then (20 - 15) / 3; room 30 two."""
    granted = room_granted(
        np.array([0, 0, 1, 1]), np.array([5.0, 5.0, 5.0, 5.0]), np.array([20.0, 30.0]), 3.0
    )
    np.testing.assert_allclose(granted, [5.0, 5.0 / 3.0, 5.0, 5.0])


def test_room_is_lent_in_full_whatever_the_loan_size() -> None:
    """Room 1,000 and more demand than room: it lends exactly 1,000 with loans of 30 or 300.

    With whole loans only it would lend 990 (33 loans) or 900 (3 loans): the
    volume would depend on how coarse the simulated loans are.
    """
    for size in (30.0, 300.0):
        granted = room_granted(
            np.zeros(40, dtype=np.int64), np.full(40, size), np.array([1e3]), 1.0
        )
        assert granted.sum() == pytest.approx(1000.0)


# ------------------------------------------------------------ loan size
def test_loan_size_caps_by_hand() -> None:
    """Consumer cap 200k, business 1m, platform individual 300k.

    * 500k online consumer from a platform: 200k (the online cap);
    * 500k online business from a platform: 500k (business, not personal);
    * 500k offline personal from a platform: 300k (the platform cap only);
    * 100k online consumer: under every cap;
    * 2m online business: 1m, then the lender's single-borrower limit 800k.
    """
    amount = _loan_size(
        need=np.array([5e5, 5e5, 5e5, 1e5, 2e6]),
        online=np.array([True, True, False, True, True]),
        online_cap=np.array([2e5, 1e6, 2e5, 2e5, 1e6]),
        personal_platform=np.array([True, False, True, False, False]),
        platform_cap=3e5,
        largest=np.array([1e9, 1e9, 1e9, 1e9, 8e5]),
    )
    np.testing.assert_array_equal(amount, [2e5, 5e5, 3e5, 1e5, 8e5])


def test_offline_loan_is_limited_by_the_single_borrower_limit() -> None:
    """Equity 1m at a 10 % limit: a 300k offline need gets 100k."""
    app = applicants(need=np.array([3e5]))
    m = clear(app, offers(equity=np.array([1e6])), terms(), 1.0, rng())
    assert m.amount[0] == pytest.approx(1e5)
    assert not m.online[0]


def test_platform_consumer_loan_under_the_online_and_platform_caps() -> None:
    """A platform (online only) lends 250k needs: 200k under a 200k consumer cap, 300k
    under a 400k consumer cap (then the platform's 300k cap binds); a business need of
    500k gets it all (1m business cap, the platform cap is for individuals).
    """
    o = offers(online_only=np.array([True]), is_platform=np.array([True]))
    app = applicants(3, need=np.array([2.5e5, 5e5, 5e5]), business=np.array([False, False, True]))
    low = clear(app, o, terms(), 1.0, rng())
    assert low.online.all()
    np.testing.assert_allclose(low.amount, [2e5, 2e5, 5e5])
    high = clear(app, o, terms(online_consumer_cap=4e5), 1.0, rng())
    np.testing.assert_allclose(high.amount, [2.5e5, 3e5, 5e5])


def test_absent_lender_lends_online() -> None:
    """A lender not present in the applicant's region can only lend online (consumer cap)."""
    o = offers(1, 2, present=np.array([[True, False]]))
    app = applicants(2, region=np.array([0, 1]), need=np.array([3e5, 3e5]))
    m = clear(app, o, terms(), 1.0, rng())
    assert m.online.tolist() == [False, True]
    np.testing.assert_allclose(m.amount, [3e5, 2e5])


# ------------------------------------------------------------ co-lending
def test_co_lent_loan_takes_own_share_and_funder_from_the_offer() -> None:
    """Platform 0 funds 30 % with bank 1; only the platform is visible, so it lends."""
    o = offers(
        2,
        visibility=np.array([[1.0, 0.0]]),
        own_share=np.array([0.3, 1.0]),
        partner=np.array([1, NO_LENDER]),
    )
    m = clear(applicants(2), o, terms(), 1.0, rng())
    assert m.lender.tolist() == [0, 0]
    np.testing.assert_allclose(m.own_share, [0.3, 0.3])
    assert m.funder.tolist() == [1, 1]


def test_full_own_share_has_no_funder() -> None:
    """A lender funding its loans in full has no funder, whatever its partner column."""
    o = offers(own_share=np.array([1.0]), partner=np.array([4]))
    m = clear(applicants(), o, terms(), 1.0, rng())
    assert m.funder.tolist() == [NO_LENDER]


def test_unserved_applicant_has_no_funder_and_own_share_one() -> None:
    """A refused applicant keeps the empty outcome even if the lender co-lends."""
    o = offers(
        2,
        own_share=np.array([0.3, 1.0]),
        partner=np.array([1, NO_LENDER]),
        visibility=np.array([[1.0, 0.0]]),
        risk_appetite=np.array([0.01, 0.01]),
    )
    m = clear(applicants(), o, terms(), 1.0, rng())
    assert m.lender.tolist() == [NO_LENDER]
    assert m.funder.tolist() == [NO_LENDER]
    assert m.own_share.tolist() == [1.0]


# --------------------------------------------------------------- empties
def test_no_applicants_gives_empty_matches() -> None:
    """Zero applicants: zero-length outcomes, one (False) capacity flag per lender."""
    m = clear(applicants(0), offers(3), terms(), 1.0, rng())
    assert m.lender.size == 0 and m.amount.size == 0 and m.rate.size == 0
    assert m.capacity_bound.tolist() == [False, False, False]


def test_no_lenders_leaves_everyone_unserved() -> None:
    """Zero lenders: every applicant has NO_LENDER, amount 0, own share 1."""
    m = clear(applicants(3), offers(0), terms(), 1.0, rng())
    assert m.lender.tolist() == [NO_LENDER] * 3
    assert m.funder.tolist() == [NO_LENDER] * 3
    assert m.amount.tolist() == [0.0] * 3
    assert m.own_share.tolist() == [1.0] * 3
    assert m.capacity_bound.size == 0


def test_nothing_visible_leaves_everyone_unserved() -> None:
    """Lenders with zero visibility everywhere are never drawn."""
    o = offers(2, visibility=np.zeros((1, 2)), visibility_mandate=np.zeros((1, 2)))
    m = clear(applicants(4), o, terms(search_size=3), 1.0, rng())
    assert (m.lender == NO_LENDER).all()


# ------------------------------------------------------------- sampling
def test_sample_candidates_by_region() -> None:
    """Region 0 sees nobody (NO_LENDER), region 1 only lender 0, region 2 only lender 1."""
    visibility = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    region = np.array([0, 1, 2, 1, 0, 2])
    cand = sample_candidates(visibility, region, 4, rng())
    assert cand.shape == (6, 4)
    np.testing.assert_array_equal(cand[[0, 4]], NO_LENDER)
    np.testing.assert_array_equal(cand[[1, 3]], 0)
    np.testing.assert_array_equal(cand[[2, 5]], 1)


@pytest.mark.parametrize("seed", range(5))
def test_sample_candidates_single_visible_lender_is_always_drawn(seed: int) -> None:
    """With visibility on lender 2 of 4 only, every draw is lender 2."""
    visibility = np.array([[0.0, 0.0, 5.0, 0.0]])
    cand = sample_candidates(
        visibility, np.zeros(50, dtype=np.int64), 3, np.random.default_rng(seed)
    )
    np.testing.assert_array_equal(cand, 2)


def test_sample_candidates_draws_only_visible_lenders() -> None:
    """Lenders 0 and 2 visible, 1 and 3 not: every draw is 0 or 2."""
    visibility = np.array([[1.0, 0.0, 1.0, 0.0]])
    cand = sample_candidates(visibility, np.zeros(500, dtype=np.int64), 3, rng())
    assert set(np.unique(cand).tolist()) <= {0, 2}


def test_sample_candidates_without_lenders_or_applicants() -> None:
    """No lender: every slot NO_LENDER; no applicant: an empty (0, size) array."""
    none = sample_candidates(np.zeros((2, 0)), np.array([0, 1]), 2, rng())
    np.testing.assert_array_equal(none, np.full((2, 2), NO_LENDER))
    assert sample_candidates(np.ones((2, 3)), np.zeros(0, dtype=np.int64), 2, rng()).shape == (
        0,
        2,
    )
