"""Tables of the estimate: failure rates per type, strikes, hazard areas, the total.

Each is a pure function of the evidence update (:class:`~remnant.hazard.evidence.Attribution`)
and the pass-2 moments (:class:`~remnant.hazard.accumulate.Moments`); counts are
summarised as in :mod:`remnant.hazard.cells` (negative binomial with the same mean
and variance), so a strike's, an area's and a cell's intervals mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
from scipy import special

from remnant.hazard.accumulate import Moments
from remnant.hazard.cells import bands
from remnant.hazard.evidence import Attribution
from remnant.hazard.inputs import Strikes
from remnant.hazard.integrals import Integrals
from remnant.hazard.kernels import weighted_sums


@dataclass(frozen=True)
class TotalRemaining:
    """The total number of items remaining in the study area.

    Parameters
    ----------
    mean : float
        Posterior mean. [items]
    lower, upper : float
        Bounds of the central credible interval of mass ``level``. [items]
    level : float
        [-]
    draws : ndarray of int64
        The posterior draws the bounds come from. [items]
    """

    mean: float
    lower: float
    upper: float
    level: float
    draws: npt.NDArray[np.int64]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def failure_rate_table(strikes: Strikes, result: Attribution, level: float) -> pd.DataFrame:
    """Per carrier type: the prior and the learned (field) failure rate with intervals.

    Columns: ``carrier``, ``strikes`` (recorded), ``pseudo_strikes``, ``found``
    (items found by searches attributed to the type), ``expected_found`` (their
    prior expectation, ``Σ E_prior[Λ_s] e_s``), ``prior_mean``, ``prior_lower``,
    ``prior_upper``, ``posterior_mean``, ``posterior_lower``, ``posterior_upper``
    (central interval of mass ``level``). One row per type with at least one strike.
    """
    post = result.posterior
    t = strikes.type_index
    n_types = len(strikes.types)
    tail = (1.0 - level) / 2.0
    a, b = strikes.prior_alpha, strikes.prior_beta
    lo, hi = post.interval(level)
    frame = pd.DataFrame(
        {
            "carrier": list(strikes.types),
            "strikes": np.bincount(t[~strikes.pseudo], minlength=n_types),
            "pseudo_strikes": np.bincount(t[strikes.pseudo], minlength=n_types),
            "found": weighted_sums(t, result.found, n_types),
            "expected_found": weighted_sums(t, strikes.prior_mean * result.exposure, n_types),
            "prior_mean": a / (a + b),
            "prior_lower": special.betaincinv(a, b, tail),
            "prior_upper": special.betaincinv(a, b, 1.0 - tail),
            "posterior_mean": post.mean,
            "posterior_lower": lo,
            "posterior_upper": hi,
        }
    )
    used = (frame["strikes"] + frame["pseudo_strikes"]) > 0
    return frame[used].reset_index(drop=True)


def strike_table(
    strikes: Strikes, result: Attribution, moments: Moments, crs: str, level: float
) -> pd.DataFrame:
    """Per strike: what it left, what was found of it, what remains.

    Columns: ``strike_id``, ``carrier``, ``pseudo``, ``date``, ``lon``, ``lat`` (the
    point used, WGS84), ``prior_duds`` and ``posterior_duds`` (mean duds left by the
    attack before any search), ``exposure`` (expected share found), ``found``,
    ``removed``, ``expected_remaining``, ``lower``, ``upper`` (central interval of
    mass ``level``) and ``p_any`` (probability that any of its items remains).
    """
    post = result.posterior
    share = (1.0 - result.exposure) * moments.keep
    mu = post.scale_mean * share
    var = mu + post.scale_var * share**2
    p_any, lower, upper = bands(mu, var, level=level)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
        strikes.x, strikes.y
    )
    days, which = np.unique(strikes.day, return_inverse=True)  # each day written once
    return pd.DataFrame(
        {
            "strike_id": strikes.ids,
            "carrier": np.asarray(strikes.types, dtype=object)[strikes.type_index],
            "pseudo": strikes.pseudo,
            "date": np.datetime_as_string(days.astype("datetime64[D]"))[which.ravel()],
            "lon": lon,
            "lat": lat,
            "prior_duds": strikes.prior_mean,
            "posterior_duds": post.scale_mean,
            "exposure": result.exposure,
            "found": result.found,
            "removed": result.removed,
            "expected_remaining": mu,
            "lower": lower,
            "upper": upper,
            "p_any": p_any,
        }
    )


def area_table(
    areas: pd.DataFrame,
    integrals: Integrals,
    strikes: Strikes,
    moments: Moments,
    background: FloatArray,
    cell_area_m2: float,
) -> pd.DataFrame:
    """Per hazard area: expected remaining items, probability of any, interval.

    The area's count is a sum over strikes of their items in it, with ``m_sA`` each
    strike's remaining mass in the area: mean ``Σ_s E_s m_sA + B_A`` with ``B_A`` the
    items of unrevealed unrecorded attacks in it (``background``), variance
    as a cell's (:mod:`.accumulate`) without the location term of recorded strikes
    (an area is large against a strike's point error), and with the clustering of an
    unrecorded attack's items, ``B_A · min(E[Λ_u](1 + V_u), κ_bg · cells)``:
    a large area holds all of one attack's items, a small one the share of pairs
    that fall in as many cells.

    Columns: ``area_id``, ``status``, ``area_m2`` (its cells' area), ``expected_remaining``,
    ``variance`` (of the items remaining, at least their mean: what a Gamma–Poisson
    prior of the area's count is fitted to, :mod:`remnant.survey.item_count`),
    ``p_any``, ``lower``, ``upper``, ``from_background`` (expected items of unrecorded
    attacks).
    """
    n = len(areas)
    a, s, m = integrals.area_strike_area, integrals.area_strike, integrals.area_mass
    contrib = moments.mean[s] * m
    bg = background
    mu = weighted_sums(a, contrib, n) + bg
    n_types = len(moments.type_rel_var)
    key = a * n_types + strikes.type_index[s]
    by_type = weighted_sums(key, contrib, n * n_types).reshape(n, n_types)
    by_type_sq = weighted_sums(key, contrib**2, n * n_types).reshape(n, n_types)
    var = mu + weighted_sums(a, moments.rel_var[s] * contrib**2, n)
    var += ((by_type**2 - by_type_sq) * moments.type_rel_var).sum(axis=1)
    clustered = np.minimum(
        moments.background_items, moments.background_cluster * integrals.area_cells
    )
    var += bg * clustered + moments.background_rel_var * bg**2
    var = np.maximum(var, mu)
    p_any, lower, upper = bands(mu, var, level=moments.level)
    return pd.DataFrame(
        {
            "area_id": areas["area_id"].to_numpy(dtype=object),
            "status": areas["status"].to_numpy(dtype=object),
            "area_m2": integrals.area_cells * cell_area_m2,
            "expected_remaining": mu,
            "variance": var,
            "p_any": p_any,
            "lower": lower,
            "upper": upper,
            "from_background": bg,
        }
    )


def total_remaining(
    strikes: Strikes,
    result: Attribution,
    moments: Moments,
    background: float,
    draws: int,
    seed: int = 0,
) -> TotalRemaining:
    """The total remaining over the study area, with its central interval.

    Recorded and pseudo-strikes: draws of ``Σ_s Λ_s (1 − e_s) ρ_s`` with the failure
    rates drawn from their posterior and each strike's scale from its conditional, so
    strikes of a type move together (:meth:`FailureRatePosterior.total_remaining_draws`),
    then Poisson. Unrevealed unrecorded attacks: a negative binomial with mean
    ``background`` and variance ``μ + μ E[Λ_u](1 + V_u) + V_bg μ²`` (their items come
    in clusters of one attack), drawn independently.
    """
    post = result.posterior
    share = (1.0 - result.exposure) * moments.keep
    from_strikes = post.total_remaining_draws(share, seed=seed)
    bg = background
    bg_var = bg + bg * moments.background_items + moments.background_rel_var * bg**2
    rng = np.random.default_rng(seed + 1)
    total = from_strikes + _nb_draws(rng, bg, bg_var, len(from_strikes))
    tail = (1.0 - moments.level) / 2.0
    lo, hi = np.quantile(total, [tail, 1.0 - tail])
    mean = float(np.sum(post.scale_mean * share) + bg)
    return TotalRemaining(mean, float(lo), float(hi), moments.level, total)


def _nb_draws(rng: np.random.Generator, mean: float, var: float, n: int) -> IntArray:
    """Draws of a negative binomial with given mean and variance (Poisson if ``var ≤ mean``)."""
    if mean <= 0:
        return np.zeros(n, dtype=np.int64)
    if var <= mean:
        return rng.poisson(mean, n).astype(np.int64)
    shape = mean**2 / (var - mean)
    return rng.poisson(rng.gamma(shape, mean / shape, n)).astype(np.int64)
