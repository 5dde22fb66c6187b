"""Land release decisions: which route releases a hazard area, and what each route leaves.

IMAS 07.11 releases land in three ways — *cancelled* by non-technical survey,
*reduced* by technical survey, *cleared* — each against the tolerable residual risk
the national authority sets (IMAS 07.14; :class:`.standard.ReleaseRules`). For an
active hazard area, :func:`release_routes` gives each route's residual risk, from the
estimate's figures of the area (docs/survey.md, "Release decisions"):

- **cancel**: nothing is searched; the land keeps what the estimate expects in it,
  ``N`` with mean ``μ`` and variance ``σ²`` (``area_summary.csv``), whose probability
  of holding any item is the estimate's ``p_any`` for the area;
- **reduce**: the part that no proposed area covers is released as it is, the rest
  kept as hazardous; the residual is the released part's, its expected items and the
  upper bound ``min(1, Σ_c p_c)`` over its cells (:func:`.delineation.compare_areas`);
- **clear**: all of the area is searched with the clearance detection probability
  ``p``, which leaves ``M | λ ~ Poisson(λ(1 − p))``; with the Gamma–Poisson fitted to
  ``μ, σ²`` (:meth:`.item_count.GammaPoisson.from_moments`), ``λ(1 − p)`` is Gamma
  with the rate divided by ``1 − p``, so ``P(M = 0) = (β'/(β' + 1))^α`` with
  ``β' = β/(1 − p)`` (Poisson prior: ``exp(−μ(1 − p))``).

The recommended route is the first of cancel, reduce, clear whose residual
probability of any item is within the tolerable risk: the least work that releases
the land. When even clearance leaves more, clearance is still recommended, flagged:
the method (detection, depth) or a second pass must do better, and the quality control
after it (:mod:`.compliance`) must be the stricter.

References
----------
.. [1] IMAS 07.11 *Land release*; IMAS 07.14 *Risk management in mine action*.
   https://www.mineactionstandards.org/
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from remnant.survey.item_count import GammaPoisson, Poisson

ROUTES = ("cancel", "reduce", "clear")
"""The three ways to release land, least work first (IMAS 07.11)."""


@dataclass(frozen=True)
class Route:
    """One way to release an area, and the residual risk it leaves in the released land.

    Parameters
    ----------
    name : str
        ``cancel``, ``reduce`` or ``clear``.
    released_m2 : float
        Land released by it. [m²]
    expected_items : float
        Items expected to remain in the released land. [items]
    p_any : float
        Probability that the released land holds any item (an upper bound for
        ``reduce``). [-]
    tolerable : bool
        Whether ``p_any`` is within the tolerable residual risk.
    """

    name: str
    released_m2: float
    expected_items: float
    p_any: float
    tolerable: bool


@dataclass(frozen=True)
class AreaFigures:
    """What the estimate and the proposals say of one hazard area.

    Parameters
    ----------
    area_m2 : float
        Its area. [m²]
    expected_items, variance : float
        The estimate's expected items in it and their variance. [items, items²]
    p_any : float
        The estimate's probability that it holds any item. [-]
    free_m2, free_items, free_p_any_upper : float
        The part that no proposed area covers: its area [m²], expected items
        [items] and the upper bound of its probability of any item [-].
    """

    area_m2: float
    expected_items: float
    variance: float
    p_any: float
    free_m2: float
    free_items: float
    free_p_any_upper: float


@dataclass(frozen=True)
class ReleaseDecision:
    """The routes of one area and the one recommended.

    Parameters
    ----------
    routes : tuple of Route
        Cancel, reduce (when part of the area lies outside the proposals), clear.
    recommended : str
        The first route within the tolerable risk, else ``clear``.
    reason : str
        Why, in words.
    """

    routes: tuple[Route, ...]
    recommended: str
    reason: str


def release_routes(
    figures: AreaFigures, tolerable_p_any: float, clearance_detection: float
) -> ReleaseDecision:
    """Each route's residual risk, and the least work within ``tolerable_p_any`` (module doc).

    Parameters
    ----------
    figures : AreaFigures
        The estimate's figures of the area.
    tolerable_p_any : float
        Largest tolerable probability of any item in released land. [-]
    clearance_detection : float
        Probability that clearance finds an item of the area, in ``(0, 1]``. [-]
    """
    f = figures
    routes = [Route("cancel", f.area_m2, f.expected_items, f.p_any, f.p_any <= tolerable_p_any)]
    if 0.0 < f.free_m2 < f.area_m2:
        routes.append(Route("reduce", f.free_m2, f.free_items, f.free_p_any_upper,
                            f.free_p_any_upper <= tolerable_p_any))  # fmt: skip
    left, p_left = cleared_residual(f.expected_items, f.variance, clearance_detection)
    routes.append(Route("clear", f.area_m2, left, p_left, p_left <= tolerable_p_any))
    for route in routes:
        if route.tolerable:
            return ReleaseDecision(tuple(routes), route.name, _reason(route, tolerable_p_any))
    reason = (
        f"even clearance leaves a {p_left:.1%} chance of an item, above the tolerable "
        f"{tolerable_p_any:.1%}: a better method or a second pass, and strict quality control"
    )
    return ReleaseDecision(tuple(routes), "clear", reason)


def cleared_residual(mean: float, variance: float, detection: float) -> tuple[float, float]:
    """Expected items left by a clearance of detection ``p``, and the chance of any. [items, -]

    ``M | λ ~ Poisson(λ(1 − p))`` with the Gamma–Poisson of ``mean`` and ``variance``
    (module doc).
    """
    if not 0.0 < detection <= 1.0:
        raise ValueError(f"detection must lie in (0, 1], got {detection!r}")
    keep = 1.0 - detection
    if mean <= 0.0 or keep == 0.0:
        return 0.0, 0.0
    prior = GammaPoisson.from_moments(mean, max(variance, 0.0))
    if isinstance(prior, Poisson):
        return mean * keep, -math.expm1(-mean * keep)
    rate = prior.rate / keep
    return mean * keep, -math.expm1(prior.shape * math.log(rate / (rate + 1.0)))


def _reason(route: Route, tolerable: float) -> str:
    what = {"cancel": "no search is needed", "reduce": "the part outside the proposed areas",
            "clear": "clearance"}[route.name]  # fmt: skip
    return (
        f"{what}: a {route.p_any:.1%} chance of an item in the released land, within the "
        f"tolerable {tolerable:.1%}"
    )
