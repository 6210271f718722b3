"""Market-structure statistics against hand calculations and closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.metrics import (
    HHI_HIGHLY_CONCENTRATED,
    HHI_SIGNIFICANT_CHANGE,
    concentration_ratio,
    entropy,
    group_shares,
    hannah_kay,
    hhi,
    safe_ratio,
    shares,
    weighted_mean,
)

THREE = np.array([0.5, 0.3, 0.2])  # hand example: HHI 2,500 + 900 + 400 = 3,800
EMPTY_MARKETS = [np.array([]), np.zeros(3)]

positive_amounts = st.lists(
    st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)


def test_guideline_constants() -> None:
    """The thresholds are those of the 2023 US merger guidelines."""
    assert HHI_HIGHLY_CONCENTRATED == 1800.0
    assert HHI_SIGNIFICANT_CHANGE == 100.0


# ------------------------------------------------------------------ shares


def test_shares_by_hand() -> None:
    """Amounts 1, 2, 3, 4 (total 10) give shares 0.1, 0.2, 0.3, 0.4."""
    np.testing.assert_allclose(shares(np.array([1.0, 2.0, 3.0, 4.0])), [0.1, 0.2, 0.3, 0.4])


def test_shares_of_zero_total_are_zero() -> None:
    """A market with no lending has all-zero shares of the same length."""
    np.testing.assert_array_equal(shares(np.zeros(3)), np.zeros(3))


def test_shares_of_empty_vector_are_empty() -> None:
    """No lenders give an empty share vector."""
    assert shares(np.array([])).shape == (0,)


@pytest.mark.parametrize("bad", [[1.0, -0.5], [1.0, float("nan")], [float("inf")]])
def test_shares_reject_negative_or_non_finite(bad: list[float]) -> None:
    """Negative, nan or infinite amounts are errors, not silently shared."""
    with pytest.raises(ValueError):
        shares(np.array(bad))


@given(positive_amounts)
def test_shares_sum_to_one(amounts: list[float]) -> None:
    """For any positive amounts the shares are in [0, 1] and sum to 1."""
    result = shares(np.array(amounts))
    assert result.sum() == pytest.approx(1.0)
    assert np.all((result >= 0) & (result <= 1))


# --------------------------------------------------------------------- HHI


def test_hhi_monopoly() -> None:
    """One lender with the whole market has HHI 10,000, with or without idle rivals."""
    assert hhi(np.array([1.0])) == 10_000.0
    assert hhi(np.array([0.0, 1.0, 0.0])) == 10_000.0


@pytest.mark.parametrize("n", [1, 2, 4, 5, 10, 100])
def test_hhi_of_equal_lenders(n: int) -> None:
    """N equal lenders have HHI 10,000 / n."""
    assert hhi(np.full(n, 1.0 / n)) == pytest.approx(10_000.0 / n)


def test_hhi_by_hand() -> None:
    """Shares 0.5, 0.3, 0.2 give 10,000 * (0.25 + 0.09 + 0.04) = 3,800."""
    assert hhi(THREE) == pytest.approx(3800.0)


@pytest.mark.parametrize("market", EMPTY_MARKETS)
def test_hhi_of_empty_market_is_nan(market: np.ndarray) -> None:
    """Concentration of a market with no lending is undefined: nan."""
    assert math.isnan(hhi(market))


def test_hhi_of_shares_from_amounts() -> None:
    """Amounts 50, 30, 20 give the same HHI as their shares, 3,800."""
    assert hhi(shares(np.array([50.0, 30.0, 20.0]))) == pytest.approx(3800.0)


@given(positive_amounts)
def test_hhi_between_equal_split_and_monopoly(amounts: list[float]) -> None:
    """For n positive amounts 10,000 / n <= HHI <= 10,000."""
    value = hhi(shares(np.array(amounts)))
    n = len(amounts)
    assert 10_000.0 / n * (1 - 1e-9) <= value <= 10_000.0 * (1 + 1e-9)


@given(positive_amounts, st.randoms(use_true_random=False))
def test_indices_are_permutation_invariant(amounts: list[float], random: object) -> None:
    """Reordering the lenders changes none of HHI, CR2, entropy or Hannah-Kay."""
    shuffled = list(amounts)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = shares(np.array(amounts)), shares(np.array(shuffled))
    assert hhi(a) == pytest.approx(hhi(b))
    assert concentration_ratio(a, 2) == pytest.approx(concentration_ratio(b, 2))
    assert entropy(a) == pytest.approx(entropy(b), abs=1e-12)
    assert hannah_kay(a, 3.0) == pytest.approx(hannah_kay(b, 3.0))


# ------------------------------------------------------ concentration ratio


def test_concentration_ratio_by_hand() -> None:
    """For shares 0.2, 0.5, 0.3 (unsorted), CR1 = 0.5 and CR2 = 0.5 + 0.3 = 0.8."""
    market = np.array([0.2, 0.5, 0.3])
    assert concentration_ratio(market, 1) == pytest.approx(0.5)
    assert concentration_ratio(market, 2) == pytest.approx(0.8)


def test_concentration_ratio_with_fewer_lenders_than_n() -> None:
    """CR5 of a three-lender market is the whole market, 1."""
    assert concentration_ratio(THREE, 5) == pytest.approx(1.0)


@pytest.mark.parametrize("market", EMPTY_MARKETS)
def test_concentration_ratio_of_empty_market_is_nan(market: np.ndarray) -> None:
    """CRn of a market with no lending is nan."""
    assert math.isnan(concentration_ratio(market, 5))


def test_concentration_ratio_rejects_n_below_one() -> None:
    """CR0 is meaningless and raises ValueError."""
    with pytest.raises(ValueError):
        concentration_ratio(THREE, 0)


# ----------------------------------------------------------------- entropy


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_entropy_of_equal_lenders(n: int) -> None:
    """N equal lenders have entropy ln n (0 for a monopoly)."""
    assert entropy(np.full(n, 1.0 / n)) == pytest.approx(math.log(n), abs=1e-12)


def test_entropy_ignores_zero_shares() -> None:
    """0 * ln 0 counts as 0: shares 0.5, 0.5, 0 have entropy ln 2."""
    assert entropy(np.array([0.5, 0.5, 0.0])) == pytest.approx(math.log(2))


def test_entropy_by_hand() -> None:
    """Shares 0.5, 0.3, 0.2 give -(0.5 ln 0.5 + 0.3 ln 0.3 + 0.2 ln 0.2)."""
    expected = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    assert entropy(THREE) == pytest.approx(expected)


@pytest.mark.parametrize("market", EMPTY_MARKETS)
def test_entropy_of_empty_market_is_nan(market: np.ndarray) -> None:
    """Entropy of a market with no lending is nan."""
    assert math.isnan(entropy(market))


# -------------------------------------------------------------- Hannah-Kay


@pytest.mark.parametrize("n", [1, 2, 5, 20])
@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_hannah_kay_of_equal_lenders(n: int, alpha: float) -> None:
    """N equal lenders are equivalent to n equal lenders for every alpha."""
    assert hannah_kay(np.full(n, 1.0 / n), alpha) == pytest.approx(n)


def test_hannah_kay_two_is_inverse_hhi() -> None:
    """With alpha = 2 the index is 10,000 / HHI: 10,000 / 3,800 for shares 0.5, 0.3, 0.2."""
    assert hannah_kay(THREE) == pytest.approx(10_000.0 / 3800.0)
    assert hannah_kay(THREE, 2.0) == pytest.approx(10_000.0 / hhi(THREE))


def test_hannah_kay_alpha_three_by_hand() -> None:
    """Shares 0.5, 0.5 with alpha 3: (0.125 + 0.125) ** (1 / -2) = 0.25 ** -0.5 = 2."""
    assert hannah_kay(np.array([0.5, 0.5]), 3.0) == pytest.approx(2.0)


def test_hannah_kay_tends_to_exp_entropy_at_one() -> None:
    """As alpha approaches 1 the index approaches exp(entropy)."""
    assert hannah_kay(THREE, 1.0 + 1e-7) == pytest.approx(math.exp(entropy(THREE)), rel=1e-5)


def test_hannah_kay_does_not_underflow() -> None:
    """1,000 equal lenders at alpha 200 give 1,000, though 0.001 ** 200 underflows."""
    assert hannah_kay(np.full(1000, 0.001), 200.0) == pytest.approx(1000.0)


@pytest.mark.parametrize("alpha", [1.0, 0.0, -1.0, float("nan")])
def test_hannah_kay_rejects_bad_alpha(alpha: float) -> None:
    """Alpha must be positive and not 1."""
    with pytest.raises(ValueError):
        hannah_kay(THREE, alpha)


@pytest.mark.parametrize("market", EMPTY_MARKETS)
def test_hannah_kay_of_empty_market_is_nan(market: np.ndarray) -> None:
    """The numbers-equivalent of a market with no lending is nan."""
    assert math.isnan(hannah_kay(market))


@given(positive_amounts)
def test_hannah_kay_times_hhi_is_ten_thousand(amounts: list[float]) -> None:
    """For any market, Hannah-Kay(2) * HHI = 10,000 and 1 <= Hannah-Kay(2) <= n."""
    market = shares(np.array(amounts))
    number = hannah_kay(market)
    assert number * hhi(market) == pytest.approx(10_000.0)
    assert 1 - 1e-9 <= number <= len(amounts) * (1 + 1e-9)


# ------------------------------------------------------------ group shares

NAMES = ["bank", "credit_cooperative", "online_platform"]


def test_group_shares_by_label() -> None:
    """Amounts 10, 30, 60 of bank, online, bank: banks 0.7, online 0.3, cooperatives 0."""
    result = group_shares(
        np.array([10.0, 30.0, 60.0]), np.array(["bank", "online_platform", "bank"]), NAMES
    )
    assert list(result) == NAMES
    assert result == pytest.approx({"bank": 0.7, "credit_cooperative": 0.0, "online_platform": 0.3})


def test_group_shares_by_code() -> None:
    """Integer codes index group_names: codes 0, 2, 0 equal labels bank, online, bank."""
    result = group_shares(np.array([10.0, 30.0, 60.0]), np.array([0, 2, 0]), NAMES)
    assert result == pytest.approx({"bank": 0.7, "credit_cooperative": 0.0, "online_platform": 0.3})


def test_group_shares_of_empty_market() -> None:
    """No entities, or no lending, give every group share 0."""
    zero = dict.fromkeys(NAMES, 0.0)
    assert group_shares(np.array([]), np.array([]), NAMES) == zero
    assert group_shares(np.zeros(2), np.array([0, 1]), NAMES) == zero


@pytest.mark.parametrize(
    "groups", [np.array(["bank", "pawnshop"]), np.array([0, 3]), np.array([0, -1])]
)
def test_group_shares_rejects_unknown_groups(groups: np.ndarray) -> None:
    """A label or code outside group_names is an error, so the shares always sum to 1."""
    with pytest.raises(ValueError):
        group_shares(np.array([1.0, 2.0]), groups, NAMES)


def test_group_shares_rejects_length_mismatch() -> None:
    """Each amount needs exactly one group label."""
    with pytest.raises(ValueError):
        group_shares(np.array([1.0, 2.0]), np.array([0]), NAMES)


@given(st.lists(st.tuples(st.integers(0, 2), st.floats(1e-6, 1e9)), min_size=1, max_size=30))
def test_group_shares_sum_to_one(pairs: list[tuple[int, float]]) -> None:
    """For any positive amounts in known groups the group shares sum to 1."""
    codes, amounts = zip(*pairs, strict=True)
    result = group_shares(np.array(amounts), np.array(codes), NAMES)
    assert sum(result.values()) == pytest.approx(1.0)


# ------------------------------------------------------ means and ratios


def test_weighted_mean_by_hand() -> None:
    """Rates 10 % on 3 and 20 % on 1 average (0.3 + 0.2) / 4 = 12.5 %."""
    assert weighted_mean(np.array([0.1, 0.2]), np.array([3.0, 1.0])) == pytest.approx(0.125)


def test_weighted_mean_ignores_zero_weight_values() -> None:
    """A value with zero weight, even nan, does not affect the mean."""
    assert weighted_mean(np.array([0.1, np.nan]), np.array([1.0, 0.0])) == pytest.approx(0.1)


@pytest.mark.parametrize("weights", [np.array([]), np.zeros(2)])
def test_weighted_mean_without_weight_is_nan(weights: np.ndarray) -> None:
    """With no weight (no lending, or no lenders) the mean is nan."""
    assert math.isnan(weighted_mean(np.full(weights.size, 0.1), weights))


def test_weighted_mean_rejects_bad_weights() -> None:
    """Negative weights and mismatched lengths are errors."""
    with pytest.raises(ValueError):
        weighted_mean(np.array([0.1, 0.2]), np.array([1.0, -1.0]))
    with pytest.raises(ValueError):
        weighted_mean(np.array([0.1, 0.2]), np.array([1.0]))


def test_safe_ratio() -> None:
    """1 / 4 = 0.25; anything over 0, including 0 / 0, is nan."""
    assert safe_ratio(1.0, 4.0) == 0.25
    assert math.isnan(safe_ratio(1.0, 0.0))
    assert math.isnan(safe_ratio(0.0, 0.0))
