"""Lenders joining the market: the initial lenders, and each January's entrants.

How many lenders of a type enter and with what capital is the type's decision
(:meth:`agents.lenders.Lender.entry_rate`, :meth:`~agents.lenders.Lender.entrant_capital`);
this module creates them: a row in the book, a Mesa agent, costs and traits
from the type's config block, and the regions it is present in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from agents.lenders import LENDER_CLASSES, Lender

if TYPE_CHECKING:
    from sim.config import LenderTypeConfig
    from sim.model import MarketModel

ENTRANT_BRAND = 0.5  # calibration assumption: an entrant is half as visible as its type


def add_lender(
    model: MarketModel,
    cls: type[Lender],
    lt: LenderTypeConfig,
    technology_range: tuple[float, float],
    institutions: float = 1.0,
    **values: float,
) -> Lender:
    """A new lender of type ``cls`` with its type's costs and traits, and its Mesa agent.

    Its home region is drawn first, then its technology, uniform in ``technology_range``.
    It stands for ``institutions`` real institutions: its fixed cost is theirs
    (``fixed_cost_cny`` each, real CNY) at the money scale of the simulated balance sheets.
    """
    rng = model.rng
    home_region = int(rng.integers(model.cfg.market.n_regions))
    technology = float(np.clip(rng.uniform(*technology_range), 0.0, 1.0))
    row = model.book.add(
        cls.type_code,
        entry_month=model.month,
        home_region=home_region,
        funding_spread=lt.funding_spread,
        fixed_cost=lt.fixed_cost_cny * institutions * model.market.money_scale,
        cost_of_equity=lt.cost_of_equity,
        operating_cost=lt.operating_cost,
        technology=technology,
        online_capability=lt.online_capability,
        risk_appetite=lt.risk_appetite,
        markup=lt.markup,
        **{"brand": lt.brand, **values},
    )
    agent = cls(model, row)
    model.lenders_by_id[row] = agent
    return agent


def representative_sizes(count: int, sigma: float) -> np.ndarray:
    """``count`` lognormal sizes at the distribution's quantiles, largest first.

    The opening market is the same in every seed (a representative draw: the
    quantiles at ``(i + 0.5) / count``), so seeds differ by what happens in the
    market, not by how large its biggest lender happened to be drawn.
    """
    quantiles = (np.arange(count) + 0.5) / count
    return np.exp(sigma * ndtri(quantiles))[::-1]


def institutions_per_lender(sizes: np.ndarray, institutions: int) -> np.ndarray:
    """Real institutions each opening lender stands for: in proportion to its size, at least one.

    The type's ``institutions`` are shared out by size, so a lender's fixed cost
    follows the book it was built for, and the smallest lender is at least one
    institution (its fixed cost never exceeds a real institution's).
    """
    return np.maximum(institutions * sizes / sizes.sum(), 1.0)


def initial_lenders(model: MarketModel) -> np.ndarray:
    """Create the lenders of the start month; return each one's target share of the book.

    Sizes are lognormal within a type (largest first) and scaled to the type's
    initial share; the largest ``national_fraction`` of them are national. Each
    stands for a share of the type's real institutions in proportion to its size.
    """
    cfg = model.cfg
    weights = []
    for lender_type, cls in LENDER_CLASSES.items():
        lt = cfg.lenders[lender_type]
        if lt.count == 0:
            continue
        sizes = representative_sizes(lt.count, lt.size_sigma)
        institutions = institutions_per_lender(sizes, lt.institutions)
        sizes = lt.initial_share * sizes / sizes.sum()
        n_national = round(lt.national_fraction * lt.count)
        low, high = lt.technology - lt.technology_spread, lt.technology + lt.technology_spread
        for rank, size in enumerate(sizes):
            agent = add_lender(model, cls, lt, (low, high), float(institutions[rank]))
            model.book.set_presence(agent.lender_id, rank < n_national, lt.regions_served)
            weights.append(size)
    return np.array(weights)


def yearly_entrants(model: MarketModel) -> None:
    """January entry: per type, entrants drawn from the type's rate, capital set by the type.

    Each entrant is one new institution.
    """
    book, rng, reg = model.book, model.rng, model.regulator.levers
    for lender_type, cls in LENDER_CLASSES.items():
        lt = model.cfg.lenders[lender_type]
        if lt.entry_rate <= 0:
            continue
        mine = book.rows(cls.type_code)
        equity = book.equity[mine]
        roe = book.profit_ytd[mine].sum() / equity.sum() if equity.sum() > 0 else 0.0
        rate = cls.entry_rate(lt, roe, reg)
        capital = cls.entrant_capital(equity, rate, reg, lt, rng, model.market.money_scale)
        for equity_cny in capital:
            agent = add_lender(
                model,
                cls,
                lt,
                (lt.technology, lt.technology + lt.technology_spread),
                brand=ENTRANT_BRAND * lt.brand,
                equity=equity_cny,
                cash=equity_cny,
            )
            national = rng.random() < lt.national_fraction
            book.set_presence(agent.lender_id, national, lt.regions_served)
            model.events["entries"] += 1
