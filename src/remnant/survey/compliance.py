"""Compliance sampling after clearance: accept on zero (docs/survey.md, "Compliance sampling").

Quality control of released land (IMAS 07.40; the withdrawn IMAS 09.20 post-clearance
inspection that is still practised) divides a cleared area into ``N`` units (lanes,
boxes) and inspects ``n`` of them at random. The area is accepted when none of the
``n`` holds an item ("accept on zero", ``c = 0``). If ``D`` units are unacceptable,
the chance of accepting is hypergeometric:

    P(accept) = C(N − D, n) / C(N, n).

To be ``X`` confident that at least a fraction ``Y`` of the units is acceptable, the
design guards against ``D = N (1 − Y)`` unacceptable units: ``P(accept) ≤ 1 − X``.
Bowen and Bennett [1]_ approximate the hypergeometric probability by

    1 − X ≈ (1 − 2n / (2N − D + 1))^D,   so   n = (1 − (1 − X)^{1/D}) (N − (D − 1)/2),

rounded up; Visual Sample Plan uses this for its compliance sampling [2]_, and so do
:func:`units_to_inspect` and the ``remnant design compliance`` command, which also
give the exact hypergeometric answer (:func:`exact_units_to_inspect`) and how far it
differs. With ``N → ∞`` both tend to the binomial ``n = ln(1 − X) / ln Y``.

Given ``n``, :func:`confidence_of` gives the confidence ``X`` reached for a fraction
``Y``, and :func:`acceptable_fraction` the fraction ``Y`` that ``n`` units show with
confidence ``X``.

References
----------
.. [1] Bowen, W. M. and Bennett, C. A. (1988) *Statistical Methods for Nuclear
   Material Management*, NUREG/CR-4604, U.S. Nuclear Regulatory Commission, §12.
   https://www.osti.gov/biblio/6584765
.. [2] Matzke, B. D. et al. (2014) *Visual Sample Plan Version 7.0 User's Guide*,
   PNNL-23211, Pacific Northwest National Laboratory, "Compliance sampling".
   https://vsp.pnnl.gov/docs/PNNL-23211.pdf
.. [3] GICHD (2019) IMAS 07.40 *Monitoring of mine action organisations* and the
   withdrawn IMAS 09.20 *Post-clearance inspection of land* (sampling of cleared land).
   https://www.mineactionstandards.org/
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, special

ROUNDING = 1e-12
"""Slack in comparing a computed probability with ``1 − X``: ``C(N − D, n) / C(N, n)``
by log-gamma functions is exact only to about this, and a design that reaches the
confidence exactly (``N = 20, D = 1, n = 16``: 4/20 = 0.2) must count as reaching it. [-]"""


@dataclass(frozen=True)
class ComplianceDesign:
    """An accept-on-zero design: the units to inspect and what they show.

    Parameters
    ----------
    units : int
        ``N``, units the cleared area is divided into. [units]
    confidence : float
        ``X``, confidence wanted. [-]
    acceptable : float
        ``Y``, fraction of units that must be acceptable. [-]
    unacceptable_units : float
        ``D = N (1 − Y)``, the unacceptable units guarded against. [units]
    inspect : int
        ``n`` by Bowen and Bennett's approximation, rounded up: the design. [units]
    inspect_exact : int
        ``n`` by the exact hypergeometric probability. [units]
    confidence_exact : float
        The confidence that ``inspect`` units give exactly. [-]
    """

    units: int
    confidence: float
    acceptable: float
    unacceptable_units: float
    inspect: int
    inspect_exact: int
    confidence_exact: float


def compliance_design(units: int, confidence: float, acceptable: float) -> ComplianceDesign:
    """The accept-on-zero design for ``units`` units (module doc).

    Parameters
    ----------
    units : int
        ``N``, units of the cleared area. [units]
    confidence : float
        ``X`` in (0, 1). [-]
    acceptable : float
        ``Y`` in (0, 1). [-]
    """
    n = units_to_inspect(units, confidence, acceptable)
    d = unacceptable_units(units, acceptable)
    return ComplianceDesign(
        units=units,
        confidence=confidence,
        acceptable=acceptable,
        unacceptable_units=d,
        inspect=n,
        inspect_exact=exact_units_to_inspect(units, confidence, acceptable),
        confidence_exact=confidence_of(n, units, acceptable, exact=True),
    )


def unacceptable_units(units: int, acceptable: float) -> float:
    """``D = N (1 − Y)``: the unacceptable units the design guards against. [units]"""
    _check_units(units)
    _check_fraction("acceptable", acceptable)
    return units * (1.0 - acceptable)


def units_to_inspect(units: int, confidence: float, acceptable: float) -> int:
    """Units to inspect, by Bowen and Bennett's approximation (module doc). [units]

    ``n = (1 − (1 − X)^{1/D}) (N − (D − 1)/2)`` rounded up, at least 1 and at most
    ``N``.
    """
    _check_fraction("confidence", confidence)
    d = unacceptable_units(units, acceptable)
    if d < 1.0:
        return units  # fewer than one unacceptable unit tolerated: inspect them all
    n = -math.expm1(math.log1p(-confidence) / d) * (units - (d - 1.0) / 2.0)
    return min(units, max(1, math.ceil(n - 1e-9)))


def exact_units_to_inspect(units: int, confidence: float, acceptable: float) -> int:
    """Units to inspect by the exact hypergeometric probability. [units]

    The smallest ``n`` with ``C(N − D, n) / C(N, n) ≤ 1 − X``, ``D`` rounded up to a
    whole number of units.
    """
    _check_fraction("confidence", confidence)
    d = _whole(unacceptable_units(units, acceptable))
    if d < 1:
        return units
    lo, hi = 0, units - d + 1  # with n > N − D an unacceptable unit is sure to be drawn
    while lo < hi:  # P(accept) falls as n grows: bisect for the first n that is enough
        mid = (lo + hi) // 2
        if _accept_exact(units, d, mid) <= 1.0 - confidence + ROUNDING:
            hi = mid
        else:
            lo = mid + 1
    return lo


def confidence_of(inspected: int, units: int, acceptable: float, exact: bool = False) -> float:
    """The confidence ``X`` that ``inspected`` units found acceptable give. [-]

    ``1 − (1 − 2n / (2N − D + 1))^D`` (Bowen and Bennett), or with ``exact`` the
    hypergeometric ``1 − C(N − D, n) / C(N, n)`` with ``D`` rounded up.
    """
    _check_inspected(inspected, units)
    d = unacceptable_units(units, acceptable)
    if exact:
        return 1.0 - _accept_exact(units, _whole(d), inspected)
    return 1.0 - _accept_approx(units, d, inspected)


def acceptable_fraction(inspected: int, units: int, confidence: float) -> float:
    """The fraction ``Y`` of acceptable units that ``inspected`` clean units show. [-]

    The ``Y`` at which Bowen and Bennett's approximation gives the confidence ``X``
    exactly: ``D`` solves ``(1 − 2n / (2N − D + 1))^D = 1 − X``.
    """
    _check_inspected(inspected, units)
    _check_fraction("confidence", confidence)
    if inspected == units:
        return 1.0

    def gap(d: float) -> float:
        return _accept_approx(units, d, inspected) - (1.0 - confidence)

    if gap(float(units)) > 0.0:  # not even all units unacceptable would likely be seen
        return 0.0
    d = optimize.brentq(gap, 1e-9, float(units), xtol=1e-9)
    return 1.0 - d / units


def _whole(d: float) -> int:
    """``D`` rounded up to whole units, as the exact answer needs (``10.000000001`` is 10)."""
    return math.ceil(d - 1e-9)


def _accept_approx(units: int, d: float, n: int) -> float:
    """Bowen and Bennett's ``(1 − 2n / (2N − D + 1))^D``. [-]"""
    base = 1.0 - 2.0 * n / (2.0 * units - d + 1.0)
    return float(max(base, 0.0) ** d)


def _accept_exact(units: int, d: int, n: int) -> float:
    """Hypergeometric ``C(N − D, n) / C(N, n)``: no unacceptable unit among ``n``. [-]"""
    if n > units - d:
        return 0.0
    log = (
        special.gammaln(units - d + 1)
        - special.gammaln(units - d - n + 1)
        - special.gammaln(units + 1)
        + special.gammaln(units - n + 1)
    )
    return float(math.exp(log))


def _check_units(units: int) -> None:
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a whole number of at least 1, got {units!r}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def _check_inspected(inspected: int, units: int) -> None:
    _check_units(units)
    if isinstance(inspected, bool) or not isinstance(inspected, int):
        raise ValueError(f"inspected must be a whole number of units, got {inspected!r}")
    if not 0 <= inspected <= units:
        raise ValueError(f"inspected must lie in [0, units = {units}], got {inspected}")
