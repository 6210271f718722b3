"""Pure functions for pricing, screening, hazards and capital: the model's arithmetic.

Effect sizes quoted from the report (see ``docs/ODD.md``):

* smart contracts cut operating cost by up to 30 %  -> ``TECH_OPEX_CUT``;
* AI credit approval and risk control cut non-performing loans by 10-20 %,
  modelled as a sharper risk signal -> ``TECH_NOISE_CUT``.
"""

from __future__ import annotations

import numpy as np

TECH_OPEX_CUT = 0.30  # report: smart contracts cut operating cost by up to 30 %
TECH_NOISE_CUT = 0.50  # calibration assumption: full technology halves the screening noise
THIN_FILE_PENALTY = 1.0  # calibration assumption: an uncovered thin file doubles the noise
PRUDENCE = 1.0  # calibration assumption: lenders approve on the signal plus one sd of its noise
DATA_HALF_SHARE = 0.05  # calibration assumption: 5 % of the market's book gives half the data edge


def monthly_hazard(annual_pd: np.ndarray | float) -> np.ndarray | float:
    """Monthly default probability with the same annual survival: ``1 - (1 - p)^(1/12)``."""
    return 1.0 - (1.0 - np.asarray(annual_pd)) ** (1.0 / 12.0)


def effective_operating_cost(operating_cost: np.ndarray, technology: np.ndarray) -> np.ndarray:
    """Operating cost after the technology saving (up to ``TECH_OPEX_CUT`` at technology 1)."""
    return operating_cost * (1.0 - TECH_OPEX_CUT * technology)


def signal_noise(
    base: float,
    technology: np.ndarray,
    thin_file: np.ndarray,
    covered: np.ndarray,
    data_sharing_effect: float,
) -> np.ndarray:
    """Sd of the lender's log risk signal.

    It falls with the lender's technology; a thin credit file raises it, less so
    when shared credit data cover the borrower.
    """
    thin_factor = 1.0 + THIN_FILE_PENALTY * thin_file * (1.0 - data_sharing_effect * covered)
    return base * (1.0 - TECH_NOISE_CUT * technology) * thin_factor


def risk_signal(true_pd: np.ndarray, noise: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Noisy estimate of an annual PD, right in the median: ``pd * exp(s z)``, at most 1."""
    return np.minimum(true_pd * np.exp(noise * normal), 1.0)


def prudent_estimate(signal: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The PD a prudent lender screens on: the signal raised by ``PRUDENCE`` sds of its noise.

    Noisier signals (thin files, weak technology) are rationed harder, so
    shared credit data and better models let more thin-file borrowers in.
    """
    return signal * np.exp(PRUDENCE * noise)


def offered_rate(
    funding_cost: np.ndarray,
    operating_cost: np.ndarray,
    estimated_pd: np.ndarray,
    loss_given_default: float,
    markup: np.ndarray,
) -> np.ndarray:
    """Annual rate: funding + operating cost + expected loss + markup."""
    return funding_cost + operating_cost + estimated_pd * loss_given_default + markup


def lending_limit(
    equity: np.ndarray, min_capital_ratio: np.ndarray, max_leverage: np.ndarray
) -> np.ndarray:
    """Largest loan book the rules allow: ``equity * min(1 / ratio, leverage)``."""
    with np.errstate(divide="ignore"):
        by_ratio = np.where(
            min_capital_ratio > 0, 1.0 / np.maximum(min_capital_ratio, 1e-12), np.inf
        )
    return np.maximum(equity, 0.0) * np.minimum(by_ratio, max_leverage)


def limit_use_premium(loans: np.ndarray, limit: np.ndarray, premium: float) -> np.ndarray:
    """Funding-cost rise with the use of the lending limit: ``premium x loans / limit``.

    Creditors ask more of a lender the thinner its capital cushion: nothing
    without loans, ``premium`` at (and beyond) the limit its capital allows; a
    lender without equity (limit 0) pays the whole premium.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        use = np.where(limit > 0, loans / limit, np.where(loans > 0, 1.0, 0.0))
    return premium * np.clip(use, 0.0, 1.0)


def compliance_slack(
    risk_appetite_rank: np.ndarray,
    max_slack: float,
    inspection_probability: float,
    inspection_penalty: float,
    deterrence_scale: float,
) -> np.ndarray:
    """Fraction by which a lender is willing to overshoot its limit.

    Risk-loving lenders (rank near 1) try up to ``max_slack``; the expected
    yearly penalty (``12 * p * penalty``) deters them, fully at
    ``deterrence_scale * 12 * p * penalty >= 1``.
    """
    deterrence = min(1.0, deterrence_scale * 12.0 * inspection_probability * inspection_penalty)
    return max_slack * risk_appetite_rank * (1.0 - deterrence)


def co_lending_split(
    own_room: np.ndarray, partner_room: np.ndarray, min_own_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Own funding share and origination capacity of co-lending platforms.

    A platform prefers the smallest own share the rules allow; when its
    partner's room binds it funds more itself. Returns ``(own_share, capacity)``.
    """
    own_room = np.maximum(own_room, 0.0)
    partner_room = np.maximum(partner_room, 0.0)
    total = own_room + partner_room
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(total > 0, own_room / total, 1.0)
    own_share = np.maximum(min_own_share, needed)
    with np.errstate(divide="ignore", invalid="ignore"):
        capacity = np.where(own_share > 0, own_room / own_share, partner_room)
    return own_share, np.minimum(capacity, total)


def market_power_markup(
    rate_sensitivity: float,
    online_rate_sensitivity: float,
    online_share: np.ndarray,
    share: np.ndarray,
) -> np.ndarray:
    """The profit-maximising margin of a lender in a logit demand system: 1 / (alpha (1 - s)).

    ``alpha`` is the borrowers' weight on the rate (``rate_sensitivity`` per
    percentage point, so ``100 x`` that per unit of rate), raised by
    ``online_rate_sensitivity`` on the lender's online business; ``share`` is its
    share of the lending where it lends (held below 0.95). Concentration raises
    the margin, entry lowers it (the single-product logit-Bertrand first-order
    condition; Berry 1994, Anderson, de Palma and Thisse 1992).
    """
    alpha = 100.0 * rate_sensitivity * (1.0 + (online_rate_sensitivity - 1.0) * online_share)
    with np.errstate(divide="ignore", over="ignore"):  # blind to price: no limit to the margin
        return 1.0 / (alpha * (1.0 - np.minimum(share, 0.95)))


def next_markup(
    markup: np.ndarray,
    capacity_bound: np.ndarray,
    target: np.ndarray,
    speed: float,
    floor: float,
    ceiling: float,
) -> np.ndarray:
    """Markup after a month: toward the market-power ``target``, up when capacity bound.

    A lender with room to spare closes ``speed`` of the gap to its target
    margin; one that ran out of room raises its markup by the factor
    ``1 + speed`` (it rations by price). The result stays within ``[floor, ceiling]``.
    """
    up = markup * (1.0 + speed)
    toward = markup + speed * (np.minimum(target, ceiling) - markup)
    return np.clip(np.where(capacity_bound, up, toward), floor, ceiling)


def technology_gain(
    technology: np.ndarray,
    spend: np.ndarray,
    subsidy: float,
    efficiency: float,
    scale_cost: float,
    depreciation: float,
) -> np.ndarray:
    """Technology after a year's investment, with economies of scale in the spend."""
    effective = spend * (1.0 + subsidy)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(effective > 0, effective / (effective + scale_cost), 0.0)
    gained = technology + efficiency * scale * (1.0 - technology)
    return np.clip(gained * (1.0 - depreciation), 0.0, 1.0)


def return_on_capital_needed(
    profit: np.ndarray, equity: np.ndarray, needed: np.ndarray
) -> np.ndarray:
    """Return on the capital the business needs: ``profit / min(equity, needed)``.

    Owners judge a business on the capital it ties up (``needed``), not on the
    retained profit it holds beyond that; a lender without a book is judged on
    its equity, and one without equity returns -1.
    """
    base = np.where(needed > 0, np.minimum(equity, needed), equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((equity > 0) & (base > 0), profit / base, -1.0)


def capital_charge(
    capital_ratio: np.ndarray, target_ratio: np.ndarray, min_ratio: np.ndarray, price: float
) -> np.ndarray:
    """Markup add-on for a thin capital cushion: 0 at ``target_ratio``, ``price`` at ``min_ratio``.

    In proportion between (the shadow price of capital a lender charges as its
    cushion over the requirement thins); a lender whose target is its requirement
    pays ``price`` below it and nothing at or above it.
    """
    span = target_ratio - min_ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(span > 0, (target_ratio - capital_ratio) / span, capital_ratio < min_ratio)
    return price * np.clip(gap, 0.0, 1.0)


def data_noise_factor(
    book: np.ndarray, technology: np.ndarray, edge: float, half_share: float
) -> np.ndarray:
    """Screening-noise factor of each lender's own data: ``1 - edge x t x s / (s + half_share)``.

    ``s`` is the lender's share of the market's book: the more borrowers a lender
    has served, the more repayment data its models learn from (the data-network-
    activities loop of big-tech lending, BIS Annual Economic Report 2019), and the
    better its models (technology ``t``), the more they make of those data
    (Gambacorta, Huang, Qiu and Wang 2019); up to ``edge`` off the noise for a
    lender with full technology holding the whole market.
    """
    total = float(np.sum(np.maximum(book, 0.0)))
    share = np.maximum(book, 0.0) / total if total > 0 else np.zeros_like(book, dtype=float)
    return 1.0 - edge * np.clip(technology, 0.0, 1.0) * share / (share + half_share)
