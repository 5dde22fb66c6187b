"""How the catalogue turns published figures into priors: small pure functions.

Every prior in ``munitions.toml`` is derived here from the figures it cites, so
that a test can check that the prior reproduces them:

* :func:`beta_from_quantiles` - a Beta failure-rate prior whose two quantiles equal
  two published rates (quantile matching, [1]_, [2]_);
* :func:`lognormal_from_interval` - median and log-sd of a size read as an interval;
* :func:`ellipse_from_area` - full axes of an ellipse of given area and aspect ratio;
* :func:`footprint_from_extremes` - a footprint from its smallest and largest
  published patterns;
* :func:`sigma_from_radius` - the 1-sigma spread of aim points from a radius.

References
----------
.. [1] O'Hagan, A. et al. (2006). *Uncertain Judgements: Eliciting Experts'
   Probabilities*. Wiley, ch. 6 (fitting a distribution to elicited quantiles).
   https://doi.org/10.1002/0470033312
.. [2] Johnson, N. L., Kotz, S. and Balakrishnan, N. (1995). *Continuous Univariate
   Distributions*, vol. 2, 2nd ed., ch. 25 (the beta distribution). Wiley.
"""

from __future__ import annotations

import math

from scipy import optimize, special

_LOG_KAPPA_RANGE = (-10.0, 30.0)
"""Bracket of ``log(alpha + beta)`` searched by :func:`beta_from_quantiles`. [-]"""

_LOGIT_MEAN_RANGE = (-60.0, 60.0)
"""Bracket of ``logit(alpha / (alpha + beta))`` searched for a given concentration."""

_TOLERANCE = 1e-9
"""Largest accepted error of a fitted quantile. [-]"""


def _check_open_unit(name: str, value: float) -> None:
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def _check_quantile_pair(lower: float, upper: float, q_lower: float, q_upper: float) -> None:
    for name, value in (("lower", lower), ("upper", upper), ("q_lower", q_lower)):
        _check_open_unit(name, value)
    _check_open_unit("q_upper", q_upper)
    if not lower < upper:
        raise ValueError(f"lower ({lower!r}) must be < upper ({upper!r})")
    if not q_lower < q_upper:
        raise ValueError(f"q_lower ({q_lower!r}) must be < q_upper ({q_upper!r})")


def _shapes(logit_mean: float, log_kappa: float) -> tuple[float, float]:
    kappa = math.exp(log_kappa)
    return float(special.expit(logit_mean) * kappa), float(special.expit(-logit_mean) * kappa)


def _logit_mean_matching(value: float, q: float, log_kappa: float) -> float:
    """Solve for the mean (as a logit) at which quantile ``q`` equals ``value``.

    At fixed concentration the ``q``-quantile rises monotonically with the mean,
    from 0 (mean -> 0) to 1 (mean -> 1), so the root is unique and bracketed.
    """

    def gap(t: float) -> float:
        return float(special.betaincinv(*_shapes(t, log_kappa), q)) - value

    lo, hi = _LOGIT_MEAN_RANGE
    return float(optimize.brentq(gap, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=500))


def _upper_gap(
    log_kappa: float, lower: float, upper: float, q_lower: float, q_upper: float
) -> float:
    t = _logit_mean_matching(lower, q_lower, log_kappa)
    return float(special.betaincinv(*_shapes(t, log_kappa), q_upper)) - upper


def beta_from_quantiles(
    lower: float, upper: float, q_lower: float = 0.05, q_upper: float = 0.95
) -> tuple[float, float]:
    """Return the Beta distribution whose ``q_lower`` and ``q_upper`` quantiles are given.

    Quantile matching [1]_: find ``alpha, beta`` with ``F^-1(q_lower) = lower`` and
    ``F^-1(q_upper) = upper``. Solved as two nested one-dimensional root searches:
    for a concentration ``kappa = alpha + beta`` the mean is chosen so that the lower
    quantile matches (unique, monotone); the upper quantile then falls monotonically
    as ``kappa`` grows (from near 1 to ``lower``), which fixes ``kappa``.

    Parameters
    ----------
    lower, upper : float
        The two quantile values, ``0 < lower < upper < 1``. [-]
    q_lower, q_upper : float
        Their probability levels, ``0 < q_lower < q_upper < 1``; default the 5 % and
        95 % quantiles (a central 90 % interval). [-]

    Returns
    -------
    alpha, beta : float
        Shape parameters. [-]

    Raises
    ------
    ValueError
        Input outside those ranges, or quantiles no Beta distribution with shape
        sum in ``[e^-10, e^30]`` can reach (an interval narrower than about
        ``1e-8`` of the mean, or one hugging 0 or 1 beyond double precision).

    References
    ----------
    .. [1] O'Hagan, A. et al. (2006). *Uncertain Judgements: Eliciting Experts'
       Probabilities*. Wiley, ch. 6. https://doi.org/10.1002/0470033312

    Examples
    --------
    >>> a, b = beta_from_quantiles(0.0235, 0.14)
    >>> round(a, 3), round(b, 3)
    (1.986, 23.795)
    """
    _check_quantile_pair(lower, upper, q_lower, q_upper)
    args = (lower, upper, q_lower, q_upper)
    lo, hi = _LOG_KAPPA_RANGE
    if not _upper_gap(lo, *args) > 0.0 > _upper_gap(hi, *args):
        raise ValueError(
            f"no Beta distribution reaches quantiles {lower!r} at {q_lower!r} and "
            f"{upper!r} at {q_upper!r} within the searched shape range"
        )
    log_kappa = optimize.brentq(_upper_gap, lo, hi, args=args, xtol=1e-13, rtol=1e-15)
    alpha, beta = _shapes(_logit_mean_matching(lower, q_lower, log_kappa), log_kappa)
    _verify_quantiles(alpha, beta, args)
    return alpha, beta


def _verify_quantiles(alpha: float, beta: float, args: tuple[float, float, float, float]) -> None:
    lower, upper, q_lower, q_upper = args
    got = special.betaincinv(alpha, beta, [q_lower, q_upper])
    if abs(got[0] - lower) > _TOLERANCE or abs(got[1] - upper) > _TOLERANCE:
        raise ValueError(
            f"Beta fit did not converge for quantiles {lower!r}, {upper!r}: "
            f"got {float(got[0])!r}, {float(got[1])!r}"
        )


def lognormal_from_interval(low: float, high: float, coverage: float = 0.9) -> tuple[float, float]:
    """Return the median and log-sd of a log-normal whose central interval is given.

    Parameters
    ----------
    low, high : float
        Ends of the central interval, ``0 < low < high``. [any unit]
    coverage : float
        Probability inside ``[low, high]``, ``0 < coverage < 1``. [-]

    Returns
    -------
    median : float
        ``sqrt(low * high)``. [unit of ``low``]
    log_sd : float
        ``ln(high / low) / (2 z)`` with ``z`` the standard normal quantile at
        ``(1 + coverage) / 2``. [-]

    Raises
    ------
    ValueError
        Non-positive ends, ``low >= high`` or ``coverage`` outside (0, 1).
    """
    if not 0.0 < low < high:
        raise ValueError(f"need 0 < low < high, got {low!r}, {high!r}")
    _check_open_unit("coverage", coverage)
    z = float(special.ndtri(0.5 + coverage / 2.0))
    return math.sqrt(low * high), math.log(high / low) / (2.0 * z)


def ellipse_from_area(area_m2: float, aspect_ratio: float) -> tuple[float, float]:
    """Return the full axes of an ellipse of given area and length-to-width ratio.

    Parameters
    ----------
    area_m2 : float
        Area ``pi / 4 * length * width``. [m²]
    aspect_ratio : float
        ``length / width``, at least 1. [-]

    Returns
    -------
    length_m, width_m : float
        Full axes. [m]

    Raises
    ------
    ValueError
        Non-positive area or an aspect ratio below 1.
    """
    if not area_m2 > 0.0:
        raise ValueError(f"area_m2 must be > 0, got {area_m2!r}")
    if not aspect_ratio >= 1.0:
        raise ValueError(f"aspect_ratio (length / width) must be >= 1, got {aspect_ratio!r}")
    width = math.sqrt(4.0 * area_m2 / (math.pi * aspect_ratio))
    return aspect_ratio * width, width


def footprint_from_extremes(
    smallest: tuple[float, float], largest: tuple[float, float], coverage: float = 0.9
) -> tuple[float, float, float]:
    """Return median axes and log-sd of a footprint published as a range of patterns.

    The smallest and largest published patterns are read as the ends of a central
    interval of a log-normal linear scale (:func:`lognormal_from_interval`): each
    median axis is the geometric mean of its two ends, and the log-sd is taken from
    the geometric-mean scale ``sqrt(length * width)`` so that one number describes
    both axes, as :class:`~remnant.catalogue.model.Footprint` requires.

    Parameters
    ----------
    smallest, largest : tuple of float
        ``(length, width)`` of the smallest and the largest pattern. [m]
    coverage : float
        Probability that a pattern lies between them. [-]

    Returns
    -------
    length_m, width_m : float
        Median full axes. [m]
    log_sd : float
        Standard deviation of the log linear scale. [-]
    """
    length, _ = lognormal_from_interval(smallest[0], largest[0], coverage)
    width, _ = lognormal_from_interval(smallest[1], largest[1], coverage)
    _, log_sd = lognormal_from_interval(
        math.sqrt(smallest[0] * smallest[1]), math.sqrt(largest[0] * largest[1]), coverage
    )
    return length, width, log_sd


def sigma_from_radius(radius_m: float, k: float = 2.0) -> float:
    """Return the 1-sigma spread of a bivariate normal whose ``k``-sigma circle is given.

    The same convention as :class:`~remnant.catalogue.model.Footprint` (``k = 2``: a
    circle of radius ``2 sigma`` holds ``1 - exp(-2)``, about 86 %, of the points).

    Parameters
    ----------
    radius_m : float
        Radius within which an attack's items are reported to land. [m]
    k : float
        How many standard deviations that radius is. [-]

    Returns
    -------
    float
        Standard deviation per axis. [m]
    """
    if not radius_m > 0.0 or not k > 0.0:
        raise ValueError(f"radius_m and k must be > 0, got {radius_m!r}, {k!r}")
    return radius_m / k
