"""Take-up, directed search, relationship lending, data edges and co-lending prices.

Hand-built markets as in ``test_clearing`` (zero noise unless a case needs it,
search size one): each case states the rate or the choice it expects from
the rules' arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.borrowers import BorrowerPopulation
from sim.clearing import DECLINED_PRICE, UNMET_REASONS, clear, search_rows, unmet_reason
from sim.finance import capital_charge, data_noise_factor, limit_use_premium, market_power_markup
from tests.unit.test_clearing import RATE, applicants, offers, rng, terms


def test_an_offer_dearer_than_the_reservation_is_declined() -> None:
    """Rate 0.12, PD 0.05: expected cost 0.12 x 0.95 = 0.114.

    A borrower who takes up to 0.12 borrows; one who takes up to 0.11 declines,
    is left unserved and counted as priced out.
    """
    app = applicants(2, reservation=np.array([0.12, 0.11]))
    m = clear(app, offers(), terms(), 1.0, rng())
    assert m.lender.tolist() == [0, -1]
    assert m.rate[0] == pytest.approx(RATE)
    assert m.refusals[1] == DECLINED_PRICE
    assert UNMET_REASONS[unmet_reason(m.refusals[1:])[0]] == "priced_out"


def test_a_declined_offer_sends_the_borrower_to_the_next_lender() -> None:
    """Two lenders, markups 0.05 and 0.01 (rates 0.15, 0.11): a borrower taking up to
    0.11 x 0.95 declines the dearer and borrows from the cheaper, whichever it tries first.

    Lender 0 never lends; whoever is unserved only ever met lender 0 (declined).
    """
    o = offers(2, markup=np.array([0.05, 0.01]))
    app = applicants(50, reservation=np.full(50, 0.11 * 0.95 + 1e-9))
    m = clear(app, o, terms(search_size=2), 1.0, rng())
    served = m.lender != -1
    assert (m.lender[served] == 1).all() and served.sum() > 25
    np.testing.assert_allclose(m.rate[served], 0.11)
    assert (m.refusals[~served] == DECLINED_PRICE).all()


def test_borrowers_apply_only_where_the_appetite_reaches_their_risk_class() -> None:
    """Appetites 0.05 and 0.5; a PD-0.2 borrower (class from 0.12) sees only lender 1.

    Lender 0's visibility in that class's rows is zero; a PD-0.01 borrower sees both.
    """
    o = offers(2, risk_appetite=np.array([0.05, 0.5]), risk_appetite_mandate=np.array([0.05, 0.5]))
    app = applicants(2, pd=np.array([0.2, 0.01]))
    rows, group = search_rows(app, o)
    assert rows[group[0]].tolist() == [0.0, 1.0]
    assert rows[group[1]].tolist() == [1.0, 1.0]
    m = clear(applicants(30, pd=np.full(30, 0.2)), o, terms(), 1.0, rng())
    assert (m.lender == 1).all()


def test_relationship_lending_sharpens_the_signal_only_at_the_branch() -> None:
    """Noise 1 and appetite 0.1 with PD 0.05: prudent PD = signal x e^noise.

    With a full relationship cut the noise is 0 offline, so every offline
    applicant is priced at the true PD (rate 0.12); the same lender without
    the cut prices the same borrowers at scattered rates.
    """
    app = applicants(100)
    sharp = offers(relationship=np.array([1.0]), risk_appetite=np.array([10.0]))
    m = clear(app, sharp, terms(screening_noise=1.0, rate_cap=10.0), 1.0, rng())
    np.testing.assert_allclose(m.rate, RATE)
    blunt = offers(risk_appetite=np.array([10.0]))
    m = clear(app, blunt, terms(screening_noise=1.0, rate_cap=10.0), 1.0, rng())
    assert np.std(m.rate) > 0.01


def test_a_full_thin_file_edge_removes_the_thin_file_penalty() -> None:
    """Noise 1 for a thick file, 2 for an uncovered thin file (penalty 1).

    With the edge at 1 a thin file is screened as a thick one: the same draws give
    the same rates as for thick files.
    """
    thin = applicants(100, thin_file=np.ones(100, dtype=bool))
    thick = applicants(100)
    edge = offers(thin_file_edge=np.array([1.0]), risk_appetite=np.array([100.0]))
    t = terms(screening_noise=1.0, rate_cap=100.0)
    np.testing.assert_array_equal(
        clear(thin, edge, t, 1.0, rng()).rate, clear(thick, edge, t, 1.0, rng()).rate
    )


def test_business_discount_cuts_only_business_loans_and_never_below_cost() -> None:
    """Markup 0.02, discount 0.015: business 0.12 - 0.015 = 0.105, personal 0.12.

    A discount of 0.05 leaves a business loan at cost, 0.10.
    """
    app = applicants(2, business=np.array([True, False]))
    m = clear(app, offers(business_discount=np.array([0.015])), terms(), 1.0, rng())
    np.testing.assert_allclose(m.rate, [RATE - 0.015, RATE])
    m = clear(app, offers(business_discount=np.array([0.05])), terms(), 1.0, rng())
    np.testing.assert_allclose(m.rate, [RATE - 0.02, RATE])


def test_co_lending_partner_earns_its_funding_plus_expected_loss_and_margin() -> None:
    """Partner funding 0.02, PD 0.05 x LGD 0.6 = 0.03, margin 0.01: partner rate 0.06.

    The borrower pays 0.12; the platform keeps 0.06 on the partner's part.
    """
    o = offers(
        2,
        own_share=np.array([0.3, 1.0]),
        partner=np.array([1, -1]),
        partner_funding=np.array([0.02, 0.0]),
        visibility=np.array([[1.0, 0.0]]),
    )
    m = clear(applicants(), o, terms(), 1.0, rng())
    assert m.lender.tolist() == [0] and m.funder.tolist() == [1]
    assert m.partner_rate[0] == pytest.approx(0.06)
    assert m.rate[0] == pytest.approx(RATE)


def test_market_power_margin_is_one_over_alpha_times_one_minus_share() -> None:
    """Rate sensitivity 0.5 per point (alpha 50): share 0 gives 0.02, 0.5 gives 0.04;
    all online with factor 2 (alpha 100) at share 0.5 gives 0.02; shares above 0.95
    are held there (1 / (50 x 0.05) = 0.4).
    """
    np.testing.assert_allclose(
        market_power_markup(
            0.5, 2.0, np.array([0.0, 0.0, 1.0, 0.0]), np.array([0.0, 0.5, 0.5, 0.99])
        ),
        [0.02, 0.04, 0.02, 0.4],
    )


def test_covered_thin_files_default_less_by_the_discipline_factor() -> None:
    """Discipline 0.3: a covered thin file's PD is 0.7 x its own; others keep theirs."""
    pop = BorrowerPopulation.__new__(BorrowerPopulation)
    pop.pd = np.array([0.1, 0.1, 0.1])
    pop.thin_file = np.array([True, True, False])
    pop.data_rank = np.array([0.2, 0.8, 0.2])
    np.testing.assert_allclose(pop.effective_pd(np.arange(3), 0.5, 0.3), [0.07, 0.1, 0.1])


def test_funding_premium_rises_with_the_use_of_the_lending_limit() -> None:
    """Premium 2 points: no loans 0, half the limit 1 point, at or past it 2 points, and
    2 points for a lender with loans but no equity left (limit 0).
    """
    loans = np.array([0.0, 50.0, 100.0, 300.0, 10.0, 0.0])
    limit = np.array([100.0, 100.0, 100.0, 100.0, 0.0, 0.0])
    np.testing.assert_allclose(
        limit_use_premium(loans, limit, 0.02), [0.0, 0.01, 0.02, 0.02, 0.02, 0.0]
    )


def test_the_capital_charge_rises_as_the_cushion_thins() -> None:
    """Requirement 0.10, target 0.15, price 3 points: in proportion between.

    Ratio 0.20 and 0.15 pay nothing, 0.125 (half-way) 1.5 points, 0.10 and 0.05
    the whole 3 points; a lender whose target is its requirement (0.10) pays 3
    points below it (0.09) and nothing at it; a lender without loans (ratio inf) none.
    """
    ratio = np.array([0.20, 0.15, 0.125, 0.10, 0.05, 0.09, 0.10, np.inf])
    target = np.array([0.15] * 5 + [0.10, 0.10, 0.15])
    np.testing.assert_allclose(
        capital_charge(ratio, target, np.full(8, 0.10), 0.03),
        [0.0, 0.0, 0.015, 0.03, 0.03, 0.03, 0.0, 0.0],
    )


def test_the_data_edge_grows_with_the_share_of_the_book_and_technology() -> None:
    """Edge 0.8, half share 0.01; books 1, 1, 98 of a total 100 (shares 0.01, 0.01, 0.98).

    Technology 1: 1 - 0.8 x 0.01 / 0.02 = 0.6 for a 1 % lender; technology 0.5 halves
    the cut: 1 - 0.8 x 0.5 x 0.5 = 0.8; the 98 % lender with technology 1 gets
    1 - 0.8 x 0.98 / 0.99. An empty market gives every lender factor 1.
    """
    got = data_noise_factor(np.array([1.0, 1.0, 98.0]), np.array([1.0, 0.5, 1.0]), 0.8, 0.01)
    np.testing.assert_allclose(got, [0.6, 0.8, 1.0 - 0.8 * 0.98 / 0.99])
    np.testing.assert_array_equal(data_noise_factor(np.zeros(2), np.ones(2), 0.8, 0.01), [1, 1])


def test_a_lender_with_more_data_screens_on_a_sharper_signal() -> None:
    """Noise 1, appetite 10 (everyone approved): with data factor 0 the signal is exact.

    Every applicant is then priced at the true PD (rate 0.12), as with a full
    relationship cut; factor 1 prices the same borrowers at scattered rates.
    """
    app = applicants(100)
    t = terms(screening_noise=1.0, rate_cap=10.0)
    sharp = offers(data_noise=np.array([0.0]), risk_appetite=np.array([10.0]))
    np.testing.assert_allclose(clear(app, sharp, t, 1.0, rng()).rate, RATE)
    blunt = offers(risk_appetite=np.array([10.0]))
    assert np.std(clear(app, blunt, t, 1.0, rng()).rate) > 0.01
