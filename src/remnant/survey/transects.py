"""Transect spacing to find an elliptical target area (Gilbert et al. 2005; VSP).

Parallel transects — swaths of width ``w`` centred every ``s`` — cross a site that holds
a target area: an ellipse of semi-axes ``a ≥ b`` at an unknown place and a uniformly
random orientation. This is the design of Visual Sample Plan's "transect sampling to find
target areas" [1]_ [2]_ [3]_.

**Traverse.** With θ the angle between the major axis and the normal to the transects,
the ellipse's half-extent across the transects is

    h(θ) = sqrt(a² cos²θ + b² sin²θ) = a · sqrt(1 − m sin²θ),    m = 1 − b²/a².

A swath meets the ellipse when its centre lies within ``h + w/2`` of the ellipse's centre
(measured across the transects); the centres repeat every ``s`` and their offset is
uniform over one spacing, so

    P(θ) = min(1, (2h(θ) + w) / s),    P = (2/π) ∫₀^{π/2} P(θ) dθ.

For ``s ≥ 2a + w`` the minimum never binds and, by Cauchy's formula (the mean width of a
convex set is its perimeter over π) [4]_,

    P = (L/π + w) / s,    L = 4a E(m),

``L`` the ellipse's perimeter and ``E`` the complete elliptic integral of the second kind
[5]_. For ``2b + w < s < 2a + w`` the integrand is 1 up to the angle θ* at which
``2h(θ*) + w = s``, ``sin²θ* = (a² − h*²)/(a² − b²)`` with ``h* = (s − w)/2``, so

    P = (2/π) [θ* + (w (π/2 − θ*) + 2a (E(m) − E(θ* | m))) / s],

``E(· | m)`` the incomplete integral; ``P = 1`` for ``s ≤ 2b + w``.

**Find.** Items lie in the ellipse as a homogeneous Poisson process of density λ and an
item inside a swath is found with detection probability ``p``, independently of the
others. The ellipse is the affine image of the unit disc, and its strip between the lines
``u₁ < u₂`` across the transects is the image of the disc's strip between ``t = u/h``;
affine maps keep ratios of area, so the strip holds the fraction

    f(u₁, u₂) = (g(t₂) − g(t₁)) / π,    g(t) = t sqrt(1 − t²) + arcsin t,

(``t`` clipped to ``[−1, 1]``) of the area πab. Given θ and the offset ``x`` of the
transects the items found are Poisson with mean
``μ = λ p πab Σ_j f(x + js − w/2, x + js + w/2)``, and at least ``k`` are found with
probability

    P_find = (2/π) ∫₀^{π/2} (1/s) ∫₀^s P(k, μ(θ, x)) dx dθ,

``P(k, μ)`` the regularised lower incomplete gamma function (``P(N ≥ k)`` for ``N``
Poisson of mean μ). The double integral is taken by Gauss–Legendre quadrature on pieces:
in ``x`` split where a swath edge touches the ellipse (``x ≡ ±h ± w/2 mod s``, where the
integrand behaves like a power 3/2, removed by a smoothstep change of variable); in θ
sixteen equal pieces, split further where ``2h(θ) ∈ {js, js ± w}``, ``j = 1, 2``
(``2h + w = s`` is where the traverse probability saturates). It agrees with adaptive
quadrature (``scipy.integrate.quad``) to about 1e-8.

Assumptions: the whole ellipse lies inside the surveyed site; its position relative to
the transects and its orientation are uniform random; swaths do not overlap
(``s ≥ w``); detections are independent.

References
----------
.. [1] Gilbert, R. O., Wilson, J. E., Hassig, N. L., et al. (2005) "Statistical methods
   and tools for UXO characterization", *Subsurface Sensing Technologies and
   Applications* 6, 251–270.
.. [2] Visual Sample Plan (VSP), Pacific Northwest National Laboratory: "Transect
   sampling to find target areas". https://vsp.pnnl.gov/help/
.. [3] Matzke, B., Wilson, J., Newburn, L., et al. (2014) *Visual Sample Plan Version 7.0
   User's Guide*, PNNL-23211. https://vsp.pnnl.gov/docs/PNNL-23211.pdf
.. [4] Santaló, L. A. (1976) *Integral Geometry and Geometric Probability*,
   Addison-Wesley, ch. 1 — Cauchy's formula: mean width = perimeter / π.
.. [5] SciPy, ``scipy.special.ellipe`` and ``ellipeinc`` (parameter ``m = k²``).
   https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.ellipe.html
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

FloatArray = npt.NDArray[np.float64]

OFFSET_NODES = 12
"""Gauss–Legendre nodes per piece of the offset integral. [-]"""

ANGLE_NODES = 6
"""Gauss–Legendre nodes per piece of the orientation integral. [-]"""

ANGLE_PIECES = 16
"""Equal pieces of ``[0, π/2]`` in the orientation integral, before the kinks. [-]"""

CHUNK_SIZE = 2_000_000
"""Largest (angle × offset × swath) block evaluated at once; bounds memory. [-]"""

M2_PER_KM2 = 1e6
"""Square metres in a square kilometre. [m²/km²]"""


@dataclass(frozen=True)
class TransectDesign:
    """A transect spacing with the probabilities it reaches.

    Parameters
    ----------
    spacing : float
        Distance between the centre lines of neighbouring transects. [m]
    width : float
        Width of the swath searched along each transect. [m]
    semi_major, semi_minor : float
        Semi-axes of the elliptical target area. [m]
    traverse_probability : float
        Probability that a transect crosses the target area. [-]
    find_probability : float or None
        Probability that at least ``min_items`` items of the target area are found;
        ``None`` when the design asked only for a traverse. [-]
    """

    spacing: float
    width: float
    semi_major: float
    semi_minor: float
    traverse_probability: float
    find_probability: float | None = None

    @property
    def length_per_km2(self) -> float:
        """Transect length per square kilometre of site, ``1e6 / spacing``. [m/km²]"""
        return M2_PER_KM2 / self.spacing

    @property
    def coverage(self) -> float:
        """Fraction of the site inside a swath, ``width / spacing``. [-]"""
        return self.width / self.spacing


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_axes(semi_major: float, semi_minor: float) -> None:
    _check_positive("semi_major", semi_major)
    _check_positive("semi_minor", semi_minor)
    if semi_minor > semi_major:
        raise ValueError(
            f"semi_minor must lie in (0, semi_major] = (0, {semi_major}], got {semi_minor}"
        )


def _check_design(spacing: float, width: float, semi_major: float, semi_minor: float) -> None:
    """Raise ``ValueError`` naming the first argument out of its valid range."""
    _check_positive("width", width)
    _check_axes(semi_major, semi_minor)
    _check_positive("spacing", spacing)
    if spacing < width:
        raise ValueError(f"spacing must be >= width = {width} (swaths may not overlap)")


def _check_items(density: float, detection_probability: float, min_items: int) -> None:
    _check_positive("density", density)
    if not 0 < detection_probability <= 1:
        raise ValueError(f"detection_probability must lie in (0, 1], got {detection_probability!r}")
    if int(min_items) != min_items or min_items < 1:
        raise ValueError(f"min_items must be an integer >= 1, got {min_items!r}")


def ellipse_perimeter(semi_major: float, semi_minor: float) -> float:
    """Return the perimeter of an ellipse, ``4a E(1 − b²/a²)``.

    Parameters
    ----------
    semi_major, semi_minor : float
        Semi-axes ``a ≥ b > 0``. [m]

    Returns
    -------
    float
        Perimeter. [m]
    """
    _check_axes(semi_major, semi_minor)
    return 4 * semi_major * float(special.ellipe(1 - (semi_minor / semi_major) ** 2))


def traverse_probability(
    spacing: float, width: float, semi_major: float, semi_minor: float
) -> float:
    """Return the probability that parallel transects cross an elliptical target area.

    The ellipse is placed uniformly at random relative to the transects and at a
    uniformly random orientation; closed forms in the module docstring.

    Parameters
    ----------
    spacing : float
        Distance between the centre lines of neighbouring transects, ``≥ width``. [m]
    width : float
        Width of the swath searched along each transect, ``> 0``. [m]
    semi_major, semi_minor : float
        Semi-axes ``a ≥ b > 0`` of the target area. [m]

    Returns
    -------
    float
        Probability that at least one swath overlaps the ellipse. [-]

    Raises
    ------
    ValueError
        An argument out of the range given above.
    """
    _check_design(spacing, width, semi_major, semi_minor)
    a, b, s, w = semi_major, semi_minor, spacing, width
    if s <= 2 * b + w:
        return 1.0
    if s >= 2 * a + w:
        return (ellipse_perimeter(a, b) / math.pi + w) / s
    m = 1 - (b / a) ** 2
    theta = math.asin(math.sqrt((a**2 - ((s - w) / 2) ** 2) / (a**2 - b**2)))
    arc = float(special.ellipe(m) - special.ellipeinc(theta, m))
    return 2 / math.pi * (theta + (w * (math.pi / 2 - theta) + 2 * a * arc) / s)


def max_find_probability(
    semi_major: float,
    semi_minor: float,
    density: float,
    detection_probability: float = 1.0,
    min_items: int = 1,
) -> float:
    """Return the probability that searching the whole target area finds ``min_items``.

    The limit of :func:`find_probability` as the spacing falls to the width:
    ``P(k, λ p πab)``, the Poisson probability of at least ``k`` finds.

    Parameters
    ----------
    semi_major, semi_minor : float
        Semi-axes ``a ≥ b > 0`` of the target area. [m]
    density : float
        Mean density of items in the target area, ``> 0``. [items/m²]
    detection_probability : float
        Probability that an item inside a swath is found, in ``(0, 1]``. [-]
    min_items : int
        Number of items that must be found, ``≥ 1``. [items]

    Returns
    -------
    float
        Probability of at least ``min_items`` finds. [-]
    """
    _check_axes(semi_major, semi_minor)
    _check_items(density, detection_probability, min_items)
    mean = density * detection_probability * math.pi * semi_major * semi_minor
    return float(special.gammainc(min_items, mean))


def _strip_fraction(t1: FloatArray, t2: FloatArray) -> FloatArray:
    """Fraction of the unit disc's area between the chords at ``t1 < t2`` (clipped)."""
    t1, t2 = np.clip(t1, -1, 1), np.clip(t2, -1, 1)
    g1 = t1 * np.sqrt(1 - t1**2) + np.arcsin(t1)
    g2 = t2 * np.sqrt(1 - t2**2) + np.arcsin(t2)
    return np.asarray((g2 - g1) / math.pi, dtype=np.float64)


def _pieces(
    edges: FloatArray, nodes: int, smoothstep: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Gauss–Legendre nodes and weights on each piece between sorted ``edges``.

    ``edges`` has shape ``(..., n + 1)``; the result has shape ``(..., n·nodes)`` and the
    weights sum to ``edges[..., -1] − edges[..., 0]``. With ``smoothstep`` each piece is
    mapped by ``x = lo + (hi − lo)(3τ² − 2τ³)``, whose derivative vanishes at both ends:
    an integrand behaving like ``|x − lo|^{3/2}`` (a swath edge touching the ellipse)
    becomes polynomial in τ, so the rule converges geometrically again.
    """
    x, wx = np.polynomial.legendre.leggauss(nodes)
    tau, dtau = (x + 1) / 2, wx / 2
    if smoothstep:
        tau, dtau = tau**2 * (3 - 2 * tau), 6 * tau * (1 - tau) * dtau
    lo, hi = edges[..., :-1, np.newaxis], edges[..., 1:, np.newaxis]
    shape = (*edges.shape[:-1], -1)
    return (lo + (hi - lo) * tau).reshape(shape), ((hi - lo) * dtau).reshape(shape)


def _offset_nodes(h: FloatArray, spacing: float, width: float) -> tuple[FloatArray, FloatArray]:
    """Offsets over one spacing, split where a swath edge touches the ellipse.

    Returns nodes and weights of shape ``(len(h), 5·OFFSET_NODES)``; weights sum to 1.
    """
    touch = np.stack([h + width / 2, h - width / 2, -h + width / 2, -h - width / 2], axis=-1)
    ends = np.broadcast_to([0.0, spacing], (h.size, 2))
    edges = np.sort(np.concatenate([np.mod(touch, spacing), ends], axis=-1), axis=-1)
    points, weights = _pieces(edges, OFFSET_NODES, smoothstep=True)
    return points, weights / spacing


def _angle_nodes(
    spacing: float, width: float, semi_major: float, semi_minor: float
) -> tuple[FloatArray, FloatArray]:
    """Orientations θ in ``[0, π/2]`` and weights summing to 1.

    Pieces: :data:`ANGLE_PIECES` equal ones, further split where ``2h(θ)`` equals
    ``js`` or ``js ± w`` for ``j ≤ 2`` (the strongest kinks; ``j = 1``, ``2h + w = s``,
    is where the traverse probability saturates).
    """
    a, b, s, w = semi_major, semi_minor, spacing, width
    h = np.array([s - w, s, s + w, 2 * s - w, 2 * s, 2 * s + w]) / 2
    h = h[(h > b) & (h < a)]
    kinks = np.arcsin(np.sqrt((a**2 - h**2) / (a**2 - b**2)))
    edges = np.union1d(np.linspace(0, math.pi / 2, ANGLE_PIECES + 1), kinks)
    points, weights = _pieces(edges, ANGLE_NODES)
    return points, weights * 2 / math.pi


def _found_fraction(offsets: FloatArray, h: FloatArray, spacing: float, width: float) -> FloatArray:
    """Fraction of the ellipse's area inside a swath, per (orientation, offset)."""
    reach = math.ceil((float(h.max()) + width) / spacing) + 1
    centres = offsets[..., np.newaxis] + spacing * np.arange(-reach, reach + 1)
    scale = h[:, np.newaxis, np.newaxis]
    strips = _strip_fraction((centres - width / 2) / scale, (centres + width / 2) / scale)
    return np.asarray(np.clip(strips.sum(axis=-1), 0, 1), dtype=np.float64)  # rounding


def find_probability(
    spacing: float,
    width: float,
    semi_major: float,
    semi_minor: float,
    density: float,
    detection_probability: float = 1.0,
    min_items: int = 1,
) -> float:
    """Return the probability that parallel transects find items of a target area.

    Items lie in the ellipse as a homogeneous Poisson process and each one inside a
    swath is found independently; the ellipse's place and orientation are uniform random
    (formulas in the module docstring).

    Parameters
    ----------
    spacing : float
        Distance between the centre lines of neighbouring transects, ``≥ width``. [m]
    width : float
        Width of the swath searched along each transect, ``> 0``. [m]
    semi_major, semi_minor : float
        Semi-axes ``a ≥ b > 0`` of the target area. [m]
    density : float
        Mean density of items in the target area, ``> 0``. [items/m²]
    detection_probability : float
        Probability that an item inside a swath is found, in ``(0, 1]``. [-]
    min_items : int
        Number of items that must be found, ``≥ 1``. [items]

    Returns
    -------
    float
        Probability that at least ``min_items`` items are found; never above
        :func:`traverse_probability` nor :func:`max_find_probability`. [-]

    Raises
    ------
    ValueError
        An argument out of the range given above.
    """
    _check_design(spacing, width, semi_major, semi_minor)
    _check_items(density, detection_probability, min_items)
    a, b = semi_major, semi_minor
    theta, w_theta = _angle_nodes(spacing, width, a, b)
    h = np.sqrt((a * np.cos(theta)) ** 2 + (b * np.sin(theta)) ** 2)
    mean_all = density * detection_probability * math.pi * a * b
    block = max(1, CHUNK_SIZE // (5 * OFFSET_NODES * (2 * math.ceil((a + width) / spacing) + 3)))
    total = 0.0
    for start in range(0, h.size, block):
        part = slice(start, start + block)
        offsets, w_offset = _offset_nodes(h[part], spacing, width)
        fraction = _found_fraction(offsets, h[part], spacing, width)
        found = special.gammainc(min_items, mean_all * fraction)
        total += float(w_theta[part] @ (found * w_offset).sum(axis=-1))
    return min(total, 1.0)


def _traverse_spacing(
    probability: float, width: float, semi_major: float, semi_minor: float
) -> float:
    """Largest spacing whose traverse probability reaches ``probability``."""
    a, b, w = semi_major, semi_minor, width
    widest = ellipse_perimeter(a, b) / math.pi + w
    if probability <= widest / (2 * a + w):
        return widest / probability
    if probability == 1:
        return 2 * b + w

    def gap(s: float) -> float:
        return traverse_probability(s, w, a, b) - probability

    return float(optimize.brentq(gap, 2 * b + w, 2 * a + w, xtol=1e-12 * a, rtol=1e-14))


def _find_spacing(
    probability: float,
    width: float,
    semi_major: float,
    semi_minor: float,
    items: tuple[float, float, int],
) -> float:
    """Spacing whose find probability equals ``probability`` (assumed reachable)."""

    def gap(s: float) -> float:
        return find_probability(s, width, semi_major, semi_minor, *items) - probability

    high = _traverse_spacing(probability, width, semi_major, semi_minor)
    if gap(high) >= 0:  # found whenever traversed, to rounding (a huge density)
        return high
    low = high
    while low > width:
        high, low = low, max(low / 2, width)
        if gap(low) >= 0:
            return float(optimize.brentq(gap, low, high, xtol=1e-10 * high, rtol=1e-12))
    return width  # the limit, reached only to quadrature rounding


def spacing_for(
    probability: float,
    width: float,
    semi_major: float,
    semi_minor: float,
    density: float | None = None,
    detection_probability: float = 1.0,
    min_items: int = 1,
) -> float:
    """Return the transect spacing at which a required probability is just reached.

    Without ``density`` the requirement is on :func:`traverse_probability`, else on
    :func:`find_probability`. Both fall as the spacing grows (the traverse probability
    provably, the find probability on every case tested), so any spacing below the one
    returned reaches the requirement too. The spacing is found in closed form (traverse,
    ``s ≥ 2a + w``) or by Brent's method; for a find, between the traverse spacing
    (an upper bound, as a find needs a traverse) and successive halvings of it.

    Parameters
    ----------
    probability : float
        Required probability, in ``(0, 1]``. [-]
    width : float
        Width of the swath searched along each transect, ``> 0``. [m]
    semi_major, semi_minor : float
        Semi-axes ``a ≥ b > 0`` of the target area. [m]
    density : float or None
        Mean density of items in the target area; ``None`` to require a traverse
        only. [items/m²]
    detection_probability : float
        Probability that an item inside a swath is found, in ``(0, 1]``. [-]
    min_items : int
        Number of items that must be found, ``≥ 1``. [items]

    Returns
    -------
    float
        Spacing between transect centre lines, ``≥ width``. [m]

    Raises
    ------
    ValueError
        An argument out of range, or a find probability out of reach even when the
        whole target area is searched (:func:`max_find_probability`).
    """
    if not 0 < probability <= 1:
        raise ValueError(f"probability must lie in (0, 1], got {probability!r}")
    _check_positive("width", width)
    _check_axes(semi_major, semi_minor)
    if density is None:
        return _traverse_spacing(probability, width, semi_major, semi_minor)
    reach = max_find_probability(semi_major, semi_minor, density, detection_probability, min_items)
    if reach < probability:
        mean = density * detection_probability * math.pi * semi_major * semi_minor
        raise ValueError(
            f"a find probability of {probability} is out of reach: even searching the whole "
            f"target area finds at least {min_items} item(s) with probability only {reach:.4g} "
            f"(it holds {mean:.3g} detectable items on average = density × detection "
            "probability × πab); lower min_items or the required probability, or check the "
            "density and the detection probability"
        )
    items = (density, detection_probability, min_items)
    return _find_spacing(probability, width, semi_major, semi_minor, items)


def design_transects(
    probability: float,
    width: float,
    semi_major: float,
    semi_minor: float,
    density: float | None = None,
    detection_probability: float = 1.0,
    min_items: int = 1,
) -> TransectDesign:
    """Return the spacing of :func:`spacing_for` with the probabilities it reaches.

    Parameters are those of :func:`spacing_for`.

    Returns
    -------
    TransectDesign
        Spacing, target area, traverse and find probabilities, and the transect length
        per square kilometre (survey effort).
    """
    spacing = spacing_for(
        probability, width, semi_major, semi_minor, density, detection_probability, min_items
    )
    found = None
    if density is not None:
        found = find_probability(
            spacing, width, semi_major, semi_minor, density, detection_probability, min_items
        )
    traverse = traverse_probability(spacing, width, semi_major, semi_minor)
    return TransectDesign(spacing, width, semi_major, semi_minor, traverse, found)
