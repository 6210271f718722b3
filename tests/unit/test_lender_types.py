"""Each lender type's traits and decisions, applied to a hand-built book.

The type classes' methods take a book and rows (not a model), so each case
is a book of two to seven lenders with hand-picked numbers, and the config
objects hold only the fields the method reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.lender_book import LenderBook
from agents.lenders import (
    LENDER_CLASSES,
    LENDER_TYPES,
    CommercialBank,
    CreditCooperative,
    Lender,
    OnlinePlatform,
    PolicyLender,
    trait,
    type_code,
)
from agents.loan_table import NO_LENDER
from sim.config import BehaviourConfig, LenderTypeConfig, RegulationConfig
from sim.finance import return_on_capital_needed, technology_gain
from sim.regulator import MAY_ACQUIRE, SELLABLE

LT = LenderTypeConfig(size_sigma=1.0)  # a type block for the entrant-capital calls

BANK = CommercialBank.type_code
COOP = CreditCooperative.type_code
PLATFORM = OnlinePlatform.type_code
POLICY = PolicyLender.type_code


# ------------------------------------------------------------------ traits
def test_type_codes_follow_the_registry_order() -> None:
    """Type codes are 0..3 in ``LENDER_CLASSES`` order and ``type_code`` maps names to them."""
    assert LENDER_TYPES == ("bank", "credit_cooperative", "online_platform", "policy_lender")
    for code, (name, cls) in enumerate(LENDER_CLASSES.items()):
        assert cls.type_code == code
        assert cls.lender_type == name
        assert type_code(name) == code


def test_platform_traits() -> None:
    """A platform lends online only, under the platform loan cap, co-lending with a bank."""
    assert OnlinePlatform.online_only
    assert OnlinePlatform.platform_loan_cap
    assert OnlinePlatform.co_lends
    assert OnlinePlatform.partner_type == "bank"
    for cls in (CommercialBank, CreditCooperative, PolicyLender):
        assert not cls.online_only and not cls.co_lends and not cls.platform_loan_cap


def test_trait_arrays_are_indexed_by_type_code() -> None:
    """``trait`` gives one entry per type in code order: only the platform is online-only."""
    online_only = trait("online_only")
    assert online_only.tolist() == [False, False, True, False]
    assert online_only[PLATFORM]
    assert trait("co_lends")[PLATFORM] and trait("co_lends").sum() == 1


def test_only_policy_lenders_are_not_for_sale() -> None:
    """``PolicyLender.sellable`` is False; every other type may be sold when weak."""
    assert PolicyLender.sellable is False
    assert SELLABLE.tolist() == [True, True, True, False]


def test_who_may_acquire_whom() -> None:
    """The [target, acquirer] matrix from ``acquired_by``: banks buy banks, cooperatives and
    policy lenders but not platforms (Commercial Banking Law art. 43 bars banks from
    investing in non-bank enterprises); cooperatives by cooperatives; platforms only by
    platforms; policy by policy.
    """
    expected = np.array(
        [  # acquirer: bank, cooperative, platform, policy
            [True, False, False, False],  # target bank
            [True, True, False, False],  # target cooperative
            [False, False, True, False],  # target platform
            [True, False, False, True],  # target policy lender
        ]
    )
    np.testing.assert_array_equal(MAY_ACQUIRE, expected)


def test_policy_lender_mandate() -> None:
    """Policy lenders serve agriculture and welfare, twice as visible, 1.5x the appetite."""
    assert PolicyLender.mandate_segments == ("agriculture", "welfare")
    assert PolicyLender.mandate_visibility == 2.0
    assert PolicyLender.mandate_appetite == 1.5
    assert Lender.mandate_segments == ()


# --------------------------------------------------------------- licences
def test_platform_national_exactly_at_the_cross_province_capital() -> None:
    """Equity 5bn at a 5bn threshold is national; 4.9bn loses it; presence follows.

    Four regions; the regional lenders serve one region (their home one).
    """
    reg = RegulationConfig(
        cross_province_capital_cny=5e9,
        online_entry_capital_cny=1e9,
        licence_capital_binds_incumbents=False,
    )
    lt = LenderTypeConfig(regions_served=1)
    book = LenderBook(n_regions=4, writeoff_months=2)
    up = book.add(PLATFORM, equity=5e9, home_region=1)
    down = book.add(PLATFORM, equity=4.9e9, home_region=2)
    stay = book.add(PLATFORM, equity=1e9, home_region=3)
    book.set_presence(up, False, 1)
    book.set_presence(down, True, 1)
    book.set_presence(stay, False, 1)
    OnlinePlatform.review_licences(book, book.rows(PLATFORM), reg, lt)
    np.testing.assert_array_equal(book.national, [True, False, False])
    np.testing.assert_array_equal(
        book.presence,
        [[True, True, True, True], [False, False, True, False], [False, False, False, True]],
    )


def test_other_types_have_no_licence_limit() -> None:
    """A bank below the platform threshold keeps its national presence."""
    reg = RegulationConfig(cross_province_capital_cny=5e9)
    book = LenderBook(n_regions=3, writeoff_months=2)
    row = book.add(BANK, equity=1.0)
    book.set_presence(row, True, 1)
    CommercialBank.review_licences(book, book.rows(BANK), reg, LenderTypeConfig(regions_served=1))
    assert book.national[row] and book.presence[row].all()


# --------------------------------------------------------------- partners
def test_platform_keeps_an_active_partner() -> None:
    """A platform whose partner bank is active keeps it, though a larger bank exists."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    small = book.add(BANK, loans=1.0)
    book.add(BANK, loans=1e12)
    platform = book.add(PLATFORM, partner=small)
    OnlinePlatform.choose_partners(book, book.rows(PLATFORM), np.random.default_rng(0))
    assert book.partner[platform] == small


def test_partner_pull_is_size_times_the_regions_a_bank_is_absent_from_plus_one() -> None:
    """Ten regions: a national bank of size 9 is absent from none, pull 9 x 1 = 9; a
    regional bank of size 1 present in 2 is absent from 8, pull 1 x 9 = 9: equal odds.
    """
    book = LenderBook(n_regions=10, writeoff_months=2)
    national = book.add(BANK, home_region=0)
    regional = book.add(BANK, home_region=3)
    book.set_presence(national, True, 1)
    book.set_presence(regional, False, 2)
    banks = np.array([national, regional])
    pull = CommercialBank.partner_pull(book, banks, np.array([9.0, 1.0]))
    np.testing.assert_allclose(pull, [9.0, 9.0])


def test_platforms_pick_partners_in_proportion_to_the_pull() -> None:
    """Two banks with pulls 9 and 9 x 3 = 27 (loans 8 and 2, plus one: 9 and 3; absent
    from 0 and 8 of 9 regions): a quarter of 4,000 platforms pick the first, within
    4 binomial standard errors (sqrt(4000 x 0.25 x 0.75) = 27.4).
    """
    book = LenderBook(n_regions=9, writeoff_months=2)
    national = book.add(BANK, loans=8.0)
    regional = book.add(BANK, loans=2.0)
    book.set_presence(national, True, 1)
    book.set_presence(regional, False, 1)
    for _ in range(4000):
        book.add(PLATFORM)
    OnlinePlatform.choose_partners(book, book.rows(PLATFORM), np.random.default_rng(3))
    picked = int((book.partner[book.rows(PLATFORM)] == national).sum())
    assert abs(picked - 1000) < 4 * 27.4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_platform_with_an_inactive_or_no_partner_picks_the_active_bank(seed: int) -> None:
    """With one active bank (the other gone), every platform without an active partner
    picks it, whatever the draw.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    gone = book.add(BANK, loans=1e12)
    alive = book.add(BANK, loans=1.0)
    book.active[gone] = False
    orphan = book.add(PLATFORM, partner=gone)
    single = book.add(PLATFORM)
    OnlinePlatform.choose_partners(book, book.rows(PLATFORM), np.random.default_rng(seed))
    assert book.partner[orphan] == alive
    assert book.partner[single] == alive


def test_platform_partner_is_always_an_active_bank() -> None:
    """With two active banks, a cooperative and a policy lender, the pick is one of the banks."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    banks = [book.add(BANK, loans=100.0), book.add(BANK, loans=300.0)]
    book.add(COOP, loans=1e12)
    book.add(POLICY, loans=1e12)
    platforms = [book.add(PLATFORM) for _ in range(20)]
    OnlinePlatform.choose_partners(book, book.rows(PLATFORM), np.random.default_rng(3))
    assert set(book.partner[platforms].tolist()) <= set(banks)


def test_platform_without_any_bank_has_no_partner() -> None:
    """When no bank is active, a platform whose partner left is set to NO_LENDER."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    bank = book.add(BANK)
    book.active[bank] = False
    platform = book.add(PLATFORM, partner=bank)
    OnlinePlatform.choose_partners(book, book.rows(PLATFORM), np.random.default_rng(0))
    assert book.partner[platform] == NO_LENDER


def test_non_co_lenders_pick_no_partner() -> None:
    """A bank's ``choose_partners`` leaves its partner column alone (NO_LENDER)."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK)
    book.add(BANK)
    CommercialBank.choose_partners(book, book.rows(BANK), np.random.default_rng(0))
    np.testing.assert_array_equal(book.partner, [NO_LENDER, NO_LENDER])


# ------------------------------------------------------------ co-lending
def test_bank_partner_room_by_hand() -> None:
    """Each of the three caps binds once; an inactive bank offers nothing.

    Partner cap 0.25 x equity, total cap 0.5 x loans.

    * bank 0 (equity 1000, loans 1000, own room 2000) funds two platforms with
      exposures 10 and 30 (total 40): partner cap 250 - 10 = 240 and 250 - 30 = 220,
      total cap (500 - 40) / 2 = 230, own room 2000 / 2 = 1000, so 230 and 220;
    * bank 1 (equity 1000, loans 10000, own room 90), one platform, no exposure:
      min(250, 5000, 90) = 90;
    * bank 2 is inactive: 0.
    """
    reg = RegulationConfig(
        co_lending_partner_cap=0.25, co_lending_total_cap=0.5, local_only_lending=False
    )
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK, equity=1000.0, loans=1000.0)
    book.add(BANK, equity=1000.0, loans=10000.0)
    book.add(BANK, equity=1000.0, loans=1000.0, active=False)
    for _ in range(4):
        book.add(PLATFORM)
    banks = np.array([0, 0, 1, 2])
    exposure = np.array([10.0, 30.0, 0.0, 0.0])
    own_room = np.array([2000.0, 90.0, 500.0, 0.0, 0.0, 0.0, 0.0])
    room = CommercialBank.partner_room(book, banks, exposure, own_room, reg, np.arange(3, 7))
    np.testing.assert_allclose(room, [230.0, 220.0, 90.0, 0.0])


def test_bank_partner_room_with_negative_equity() -> None:
    """A bank with negative equity counts as zero under the partner cap: 0 - 5 = -5."""
    reg = RegulationConfig(
        co_lending_partner_cap=0.25, co_lending_total_cap=0.5, local_only_lending=False
    )
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK, equity=-100.0, loans=1000.0)
    book.add(PLATFORM)
    room = CommercialBank.partner_room(
        book, np.array([0]), np.array([5.0]), np.array([100.0, 0.0]), reg, np.array([1])
    )
    np.testing.assert_allclose(room, [-5.0])


def test_platform_co_lending_terms_by_hand() -> None:
    """Own share max(0.3, own / (own + partner)) and capacity own / share, at most the total.

    * own 30, partner 200: needed 30/230 < 0.3, share 0.3, capacity 30 / 0.3 = 100;
    * own 60, partner 40: needed 0.6, capacity 60 / 0.6 = 100 (= the total);
    * own 50, partner 0: share 1, capacity 50;
    * own 0, partner 100: share 0.3, capacity 0;
    * own 0, partner 0: share 1, capacity 0;
    * own -10 (clipped to 0), partner 100: share 0.3, capacity 0.
    """
    reg = RegulationConfig(co_lending_min_own_share=0.3)
    own = np.array([30.0, 60.0, 50.0, 0.0, 0.0, -10.0])
    partner = np.array([200.0, 40.0, 0.0, 100.0, 0.0, 100.0])
    share, capacity = OnlinePlatform.co_lending_terms(own, partner, reg)
    np.testing.assert_allclose(share, [0.3, 0.6, 1.0, 0.3, 1.0, 0.3])
    np.testing.assert_allclose(capacity, [100.0, 100.0, 50.0, 0.0, 0.0, 0.0], atol=1e-9)


def test_co_lending_terms_respect_both_rooms() -> None:
    """The platform's part (share x capacity) and the bank's ((1 - share) x capacity) fit.

    Checked on a grid of own and partner rooms 0..300 by 25.
    """
    reg = RegulationConfig(co_lending_min_own_share=0.3)
    grid = np.arange(0.0, 301.0, 25.0)
    own, partner = (a.ravel() for a in np.meshgrid(grid, grid))
    share, capacity = OnlinePlatform.co_lending_terms(own, partner, reg)
    assert (share >= 0.3).all() and (share <= 1.0).all()
    assert (share * capacity <= own + 1e-9).all()
    assert ((1.0 - share) * capacity <= partner + 1e-9).all()


# ------------------------------------------------------------------ entry
@pytest.mark.parametrize(
    ("roe", "expected"),
    [
        (0.0, 4.0),  # the normal rate
        (0.05, 6.0),  # 4 x (1 + 10 x 0.05)
        (0.5, 12.0),  # 1 + 10 x 0.5 = 6, clipped to 3: 4 x 3
        (-0.2, 0.0),  # 1 - 2 = -1, clipped to 0
    ],
)
def test_entry_rate_responds_to_profit_within_bounds(roe: float, expected: float) -> None:
    """Entry rate = normal rate x clip(1 + 10 x ROE, 0, 3), normal rate 4."""
    lt = LenderTypeConfig(entry_rate=4.0)
    reg = RegulationConfig(online_entry_capital_cny=1e12)  # not read by a bank
    assert CommercialBank.entry_rate(lt, roe, reg) == pytest.approx(expected)
    assert CreditCooperative.entry_rate(lt, roe, reg) == pytest.approx(expected)


def test_platform_entry_rate_is_the_type_rate_whatever_the_bar() -> None:
    """Would-be platform entrants come at the type's rate (4, x 2 at ROE 0.1); the bar
    selects among them (``entrant_capital``) rather than scaling their number.
    """
    lt = LenderTypeConfig(entry_rate=4.0)
    for capital in (1e8, 1e9, 5e9):
        reg = RegulationConfig(online_entry_capital_cny=capital)
        assert OnlinePlatform.entry_rate(lt, 0.0, reg) == pytest.approx(4.0)
        assert OnlinePlatform.entry_rate(lt, 0.1, reg) == pytest.approx(8.0)


def test_platform_entrants_are_the_candidates_above_the_bar() -> None:
    """Candidates' capital is lognormal with the small-loan companies' mean capital
    (809.8bn / 7,551 = 107.2m CNY) and sigma = size_sigma; those at or above the bar enter.

    Sigma 1: the median is the mean x e^-0.5, so a bar at the mean x e^0.5 is one sigma
    above the median and a candidate enters with probability P(Z >= 1) = 0.158655;
    among 20,000 candidates (Poisson 20,000) the share admitted has a standard error
    of about 0.0026, so it lies within 0.013 (5 SE) of that. At money scale 0.1 every
    entrant holds at least a tenth of the bar.
    """
    mean = 809.8e9 / 7551
    lt = LenderTypeConfig(size_sigma=1.0)
    bar = mean * np.exp(0.5)
    reg = RegulationConfig(online_entry_capital_cny=bar)
    capital = OnlinePlatform.entrant_capital(
        np.array([1.0]), 20_000.0, reg, lt, np.random.default_rng(5), money_scale=0.1
    )
    candidates = np.random.default_rng(5).poisson(20_000.0)
    assert (capital >= 0.1 * bar).all()
    assert capital.size / candidates == pytest.approx(0.158655, abs=0.013)


def test_a_higher_bar_admits_a_subset_of_the_same_candidates() -> None:
    """Same candidates (same draws), bar 200m CNY instead of 100m: the entrants are those
    of the lower bar that also hold 200m, so fewer and each at least 200m.
    """
    lt = LenderTypeConfig(size_sigma=1.5)
    low, high = (
        OnlinePlatform.entrant_capital(
            np.array([1.0]),
            50.0,
            RegulationConfig(online_entry_capital_cny=bar),
            lt,
            np.random.default_rng(11),
        )
        for bar in (1e8, 2e8)
    )
    np.testing.assert_array_equal(high, low[low >= 2e8])
    assert 0 < high.size < low.size


def test_other_entrant_capital_between_a_tenth_and_half_the_median() -> None:
    """Median of 1, 3, 10, 100, 1000 is 10: entrants bring 1 to 5."""
    reg = RegulationConfig(online_entry_capital_cny=2e9)
    equity = np.array([1000.0, 1.0, 100.0, 3.0, 10.0])
    for cls in (CommercialBank, CreditCooperative, PolicyLender):
        capital = cls.entrant_capital(equity, 30.0, reg, LT, np.random.default_rng(7))
        assert capital.size == np.random.default_rng(7).poisson(30.0)
        assert capital.size > 0
        assert (capital >= 1.0).all() and (capital < 5.0).all()


def test_entrant_capital_without_incumbents_uses_the_reference() -> None:
    """With no lender of the type, the median is the 1bn reference: 0.1bn to 0.5bn."""
    reg = RegulationConfig(online_entry_capital_cny=2e9)
    capital = CommercialBank.entrant_capital(np.array([]), 30.0, reg, LT, np.random.default_rng(1))
    assert capital.size > 0
    assert (capital >= 1e8).all() and (capital < 5e8).all()


@pytest.mark.parametrize("cls", [CommercialBank, OnlinePlatform])
def test_no_entrant_at_rate_zero(cls: type[Lender]) -> None:
    """A Poisson count of rate 0 is always 0, so no entrant."""
    reg = RegulationConfig(online_entry_capital_cny=1e9)
    for seed in range(5):
        capital = cls.entrant_capital(np.array([5.0]), 0.0, reg, LT, np.random.default_rng(seed))
        assert capital.size == 0


# -------------------------------------------------------- capital support
def test_policy_capital_support_by_hand() -> None:
    """Support x max(target x loans - equity, 0) at support 0.6, target 0.1575.

    Lender 1: 0.1575 x 1000 - 50 = 107.5, times 0.6 = 64.5. Lender 2: equity 200
    is above 157.5, so 0. Row 0 (a bank) is not among the rows.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK, loans=1000.0, equity=0.0)
    book.add(POLICY, loans=1000.0, equity=50.0)
    book.add(POLICY, loans=1000.0, equity=200.0)
    target = np.array([0.5, 0.1575, 0.1575])
    injection = PolicyLender.capital_support(book, book.rows(POLICY), target, 0.6)
    np.testing.assert_allclose(injection, [64.5, 0.0])


@pytest.mark.parametrize("cls", [CommercialBank, CreditCooperative, OnlinePlatform])
def test_other_types_get_no_capital_support(cls: type[Lender]) -> None:
    """Without state funding, a lender far below its target gets zeros, one per row."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(cls.type_code, loans=1000.0, equity=1.0)
    book.add(cls.type_code, loans=1000.0, equity=1.0)
    injection = cls.capital_support(book, book.rows(cls.type_code), np.array([0.5, 0.5]), 1.0)
    np.testing.assert_array_equal(injection, [0.0, 0.0])


# ---------------------------------------------------------------- markups
def _markup_book() -> tuple[LenderBook, np.ndarray]:
    """Four banks and a policy lender with markups and capacity flags, and their shares."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK, markup=0.05, capacity_bound=True)
    book.add(BANK, markup=0.05, capacity_bound=False)
    book.add(BANK, markup=0.075, capacity_bound=True)
    book.add(BANK, markup=0.0105, capacity_bound=False)
    book.add(POLICY, markup=0.02, capacity_bound=True)
    share = np.array([0.2, 0.4, 0.1, 0.0, 0.3])
    return book, share


B = BehaviourConfig(
    markup_speed=0.1,
    markup_floor=0.01,
    markup_ceiling=0.08,
    rate_sensitivity=0.5,
    online_rate_sensitivity=2.0,
)
ONLINE = np.array([0.0, 1.0, 0.0, 0.0, 0.0])  # the second bank lends online only


def test_markups_adapt_by_hand() -> None:
    """Speed 0.1, floor 0.01, ceiling 0.08; target 1 / (alpha (1 - s)), alpha = 50 (x2 online).

    * bound, 0.05: up to 0.05 x 1.1 = 0.055;
    * not bound, 0.05, share 0.4, online: target 1 / (100 x 0.6) = 1/60, so
      0.05 + 0.1 x (1/60 - 0.05) = 0.0466667;
    * bound, 0.075: 0.0825, clipped to the ceiling 0.08;
    * not bound, 0.0105, share 0, offline: target 1/50 = 0.02, so 0.0105 + 0.1 x 0.0095
      = 0.01145;
    * the policy lender (row 4) is not among the rows: unchanged.
    """
    book, share = _markup_book()
    CommercialBank.adapt_markups(book, book.rows(BANK), share, ONLINE, B)
    np.testing.assert_allclose(
        book.markup, [0.055, 0.05 + 0.1 * (1 / 60 - 0.05), 0.08, 0.01145, 0.02]
    )


def test_policy_lender_keeps_its_markup() -> None:
    """A capacity-bound policy lender keeps its markup 0.02; the banks' rows are untouched."""
    book, share = _markup_book()
    PolicyLender.adapt_markups(book, book.rows(POLICY), share, ONLINE, B)
    np.testing.assert_array_equal(book.markup, [0.05, 0.05, 0.075, 0.0105, 0.02])


def test_owners_keep_capital_for_the_larger_of_the_book_and_its_year_trend() -> None:
    """Requirement 0.10, buffer 1.5, pay-out 0.3: the dividend never dips below 0.15 x base.

    Base is max(loans, trend). Row 0 (loans 100, trend 200, equity 50, profit 100)
    keeps 30: 30 % of its profit is 30 but only 20 lies above the buffer, so it pays
    20. Row 1 (loans 200, trend 100, equity 50, profit 10) pays 0.3 x 10 = 3 of its
    20 above the buffer. Row 2 (loans 0) pays nothing; row 3 (a loss) pays nothing.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    for loans, trend, profit in (
        (100.0, 200.0, 100.0),
        (200.0, 100.0, 10.0),
        (0.0, 100.0, 10.0),
        (100.0, 100.0, -5.0),
    ):
        book.add(BANK, loans=loans, loans_trend=trend, equity=50.0, cash=50.0, profit_ytd=profit)
    needed = 1.5 * 0.10 * Lender.capital_base(book, book.rows(BANK))
    paid = CommercialBank.pay_dividends(book, book.rows(BANK), needed, 0.3)
    np.testing.assert_allclose(paid, [20.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(book.equity, [30.0, 47.0, 50.0, 50.0])
    np.testing.assert_allclose(book.cash, [30.0, 47.0, 50.0, 50.0])


def test_lenders_price_a_thin_capital_cushion_and_policy_lenders_do_not() -> None:
    """Requirement 0.10, target 0.15, price 0.03.

    A bank at ratio 0.125 (equity 12.5 on loans 100) charges half the price, 0.015; a
    bank at 0.20 nothing; a policy lender at 0.10 nothing (its capital is the state's).
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    for equity in (12.5, 20.0):
        book.add(BANK, loans=100.0, equity=equity)
    book.add(POLICY, loans=100.0, equity=10.0, capital_charge=0.5)
    target, req = np.full(3, 0.15), np.full(3, 0.10)
    CommercialBank.price_capital(book, book.rows(BANK), target, req, 0.03)
    PolicyLender.price_capital(book, book.rows(POLICY), target, req, 0.03)
    np.testing.assert_allclose(book.capital_charge, [0.015, 0.0, 0.0])


def test_owners_judge_the_return_on_the_capital_the_business_needs() -> None:
    """Profit 12: on equity 200 of which 100 is needed, 12 / 100 = 0.12 (not 0.06).

    Equity 80 below a need of 100 gives 12 / 80 = 0.15; no book (need 0) gives
    12 / 200 = 0.06; no equity gives -1.
    """
    roe = return_on_capital_needed(
        np.full(4, 12.0), np.array([200.0, 80.0, 200.0, 0.0]), np.array([100.0, 100.0, 0.0, 50.0])
    )
    np.testing.assert_allclose(roe, [0.12, 0.15, 0.06, -1.0])


def test_owners_leave_after_years_below_their_cost_of_equity() -> None:
    """Cost of equity 0.08, two years to leave.

    Row 0 earned 0.05 for a second year (counter 1 -> 2): it leaves; row 1 earned
    0.10 (counter reset to 0); row 2 earned 0.05 for a first year (0 -> 1). A
    policy lender below its (zero) cost never leaves, though its counter runs.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(BANK, cost_of_equity=0.08, years_below_coe=1)
    book.add(BANK, cost_of_equity=0.08, years_below_coe=1)
    book.add(BANK, cost_of_equity=0.08)
    book.add(POLICY, cost_of_equity=0.0, years_below_coe=5)
    banks = book.rows(BANK)
    leaving = CommercialBank.decide_exit(book, banks, np.array([0.05, 0.10, 0.05]), 2)
    assert leaving.tolist() == [0]
    assert book.years_below_coe[:3].tolist() == [2, 0, 1]
    assert PolicyLender.decide_exit(book, book.rows(POLICY), np.array([-0.1]), 2).size == 0
    assert book.years_below_coe[3] == 6


def test_large_banks_behind_the_inclusive_target_cut_business_rates() -> None:
    """Target 30 %, response 0.05: a national bank that grew 10 % cuts 0.05 x 0.2 = 0.01.

    A national bank that grew 40 % has no gap; a regional bank is not bound; no
    target (0) means no cut; the cut never exceeds the markup (0.004).
    """
    book = LenderBook(n_regions=2, writeoff_months=2)
    for growth, national, markup in (
        (0.1, True, 0.03),
        (0.4, True, 0.03),
        (0.1, False, 0.03),
        (0.0, True, 0.004),
    ):
        row = book.add(
            BANK, business_lending=100.0 * (1 + growth), business_lending_last=100.0, markup=markup
        )
        book.national[row] = national
    b = BehaviourConfig(inclusive_response=0.05)
    CommercialBank.set_inclusive_push(book, book.rows(BANK), 0.30, 1.0, b)
    np.testing.assert_allclose(book.business_discount, [0.01, 0.0, 0.0, 0.004])
    CommercialBank.set_inclusive_push(book, book.rows(BANK), 0.0, 1.0, b)
    np.testing.assert_array_equal(book.business_discount, [0.0, 0.0, 0.0, 0.0])


# ------------------------------------------------------------- technology
TECH = BehaviourConfig(
    tech_investment=0.3,
    tech_efficiency=0.15,
    tech_scale_cost=2e9,
    tech_depreciation=0.05,
    online_growth=0.1,
)


def _tech_book() -> LenderBook:
    """A loss-making and a profitable bank, consistent balance sheets."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    # 1e9 + 1e10 = 1.1e10 = 9e9 + 2e9
    book.add(
        BANK,
        cash=1e9,
        loans=1e10,
        debt=9e9,
        equity=2e9,
        profit_ytd=-1e8,
        technology=0.5,
        online_capability=0.5,
    )
    # 5e9 + 5e10 = 5.5e10 = 4e10 + 1.5e10
    book.add(
        BANK,
        cash=5e9,
        loans=5e10,
        debt=4e10,
        equity=1.5e10,
        profit_ytd=1e10,
        technology=0.4,
        online_capability=0.2,
    )
    return book


def test_no_technology_spend_after_a_loss() -> None:
    """A loss means no spend: cash and equity unchanged; technology only depreciates.

    Technology 0.5 x (1 - 0.05) = 0.475; online 0.5 + 0.1 x 0.475 x 0.5 = 0.52375.
    """
    book = _tech_book()
    CommercialBank.invest_in_technology(book, np.array([0]), 0.5, TECH)
    assert book.cash[0] == 1e9 and book.equity[0] == 2e9 and book.profit_ytd[0] == -1e8
    assert book.technology[0] == pytest.approx(0.475)
    assert book.online_capability[0] == pytest.approx(0.52375)


def test_technology_spend_by_hand() -> None:
    """Profit 1e10: spend 0.3 x 1e10 = 3e9, the lender pays 3e9 x (1 - 0.5) = 1.5e9.

    Effective spend 3e9 x 1.5 = 4.5e9, scale 4.5 / (4.5 + 2) = 9/13;
    technology (0.4 + 0.15 x 9/13 x 0.6) x 0.95 = (0.4 + 0.81/13) x 0.95;
    online 0.2 + 0.1 x technology x 0.8.
    """
    book = _tech_book()
    CommercialBank.invest_in_technology(book, np.array([1]), 0.5, TECH)
    tech = (0.4 + 0.81 / 13) * 0.95
    assert book.technology[1] == pytest.approx(tech)
    assert book.online_capability[1] == pytest.approx(0.2 + 0.1 * tech * 0.8)
    assert book.cash[1] == pytest.approx(3.5e9)
    assert book.equity[1] == pytest.approx(1.35e10)
    assert book.profit_ytd[1] == pytest.approx(8.5e9)
    np.testing.assert_allclose(book.balance_residual(), 0.0, atol=1e-3)


def test_technology_follows_the_closed_form() -> None:
    """Both lenders at once: technology = ``technology_gain`` of their spends, other row kept."""
    book = _tech_book()
    book.add(COOP, technology=0.9, profit_ytd=1e10)
    CommercialBank.invest_in_technology(book, book.rows(BANK), 0.2, TECH)
    expected = technology_gain(np.array([0.5, 0.4]), np.array([0.0, 3e9]), 0.2, 0.15, 2e9, 0.05)
    np.testing.assert_allclose(book.technology[:2], expected)
    assert book.technology[2] == 0.9
    assert book.cash[1] == pytest.approx(5e9 - 3e9 * 0.8)


def test_local_only_rules_confine_a_regional_bank_to_its_regions() -> None:
    """A regional bank in 1 of the platform's 4 regions funds a quarter of its room there.

    Room without the rule: min(0.25 x 1000 - 0, (0.5 x 1000 - 0) / 1, 400) = 250;
    under local-only rules 250 x 1/4 = 62.5; a national bank keeps 250.
    """
    book = LenderBook(n_regions=4, writeoff_months=2)
    regional = book.add(BANK, equity=1000.0, loans=1000.0)
    national = book.add(BANK, equity=1000.0, loans=1000.0)
    platforms = np.array([book.add(PLATFORM), book.add(PLATFORM)])
    book.set_presence(regional, False, 1)
    book.set_presence(national, True, 4)
    for p in platforms:
        book.set_presence(int(p), True, 4)
    own_room = np.array([400.0, 400.0, 0.0, 0.0])
    for local, expected in ((False, [250.0, 250.0]), (True, [62.5, 250.0])):
        reg = RegulationConfig(
            co_lending_partner_cap=0.25, co_lending_total_cap=0.5, local_only_lending=local
        )
        room = CommercialBank.partner_room(
            book, np.array([regional, national]), np.zeros(2), own_room, reg, platforms
        )
        np.testing.assert_allclose(room, expected)


def test_incumbents_short_of_licence_capital_raise_it_or_lose_the_licence() -> None:
    """Entry capital 1bn binding on incumbents, cost of equity 10 %: raise if last year's
    profit pays 10 % on 1bn, i.e. at least 0.1bn.

    Equity 0.6bn with 0.12bn of profit raises 0.4bn; equity 0.6bn with 0.08bn (a
    13 % ROE on what it has, but 8 % on 1bn) loses its licence; one at 1.2bn is
    untouched; with the rule off for incumbents nobody is touched.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    raises = book.add(PLATFORM, equity=6e8, cash=0.0, profit_last_year=1.2e8, cost_of_equity=0.1)
    leaves = book.add(PLATFORM, equity=6e8, profit_last_year=8e7, cost_of_equity=0.1)
    fine = book.add(PLATFORM, equity=1.2e9)
    lt = LenderTypeConfig(regions_served=1)
    for binding in (False, True):
        reg = RegulationConfig(
            cross_province_capital_cny=5e9,
            online_entry_capital_cny=1e9,
            licence_capital_binds_incumbents=binding,
        )
        lost = OnlinePlatform.review_licences(book, book.rows(PLATFORM), reg, lt)
        if not binding:
            assert lost.size == 0 and book.equity[raises] == 6e8
    assert lost.tolist() == [leaves]
    assert book.equity[raises] == 1e9 and book.cash[raises] == 4e8
    assert book.equity[fine] == 1.2e9


def test_inclusive_push_compares_the_year_so_far_with_last_year() -> None:
    """Half a year in, 60 lent against 100 last year: growth 60 / 50 - 1 = 0.2.

    Target 0.3, response 0.05: the cut is 0.05 x 0.1 = 0.005.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    row = book.add(BANK, business_lending=60.0, business_lending_last=100.0, markup=0.03)
    book.national[row] = True
    b = BehaviourConfig(inclusive_response=0.05)
    CommercialBank.set_inclusive_push(book, book.rows(BANK), 0.30, 0.5, b)
    np.testing.assert_allclose(book.business_discount, [0.005])
