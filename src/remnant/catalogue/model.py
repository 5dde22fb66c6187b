"""The catalogue's domain objects: carriers, submunitions and their priors.

These are the contract every other room uses; :mod:`remnant.catalogue.loader` builds
them from the sourced data file ``munitions.toml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Source:
    """A public source of a figure.

    Parameters
    ----------
    key : str
        Short key used in the data file, e.g. ``hrw2008``.
    citation : str
        Author, title, publisher, date.
    url : str, optional
        Where it can be read.
    """

    key: str
    citation: str
    url: str | None = None


@dataclass(frozen=True)
class Figure:
    """A published number with its source.

    Parameters
    ----------
    name : str
        What it measures, e.g. ``failure_rate_test``.
    value : float
        The number (a rate as a fraction, not a percentage).
    source : str
        Key of the :class:`Source`.
    note : str
        Quote or context ("at least four of the 72 ...").
    """

    name: str
    value: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class BetaPrior:
    """Beta prior of a failure (dud) rate.

    Parameters
    ----------
    alpha, beta : float
        Shape parameters. [-]
    method : str
        How they were derived, e.g. ``quantile-match 5%/95%``.
    anchors : tuple of Figure
        The published figures the method matched.
    assumption : str
        Empty when fully sourced; otherwise what was assumed and why.
    """

    alpha: float
    beta: float
    method: str = ""
    anchors: tuple[Figure, ...] = ()
    assumption: str = ""

    @property
    def mean(self) -> float:
        """Prior mean failure rate. [-]"""
        return self.alpha / (self.alpha + self.beta)

    def ppf(self, q: float | np.ndarray) -> float | np.ndarray:
        """Quantile function of the prior."""
        return stats.beta.ppf(q, self.alpha, self.beta)  # type: ignore[no-any-return]

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Central credible interval at ``level``."""
        lo, hi = stats.beta.interval(level, self.alpha, self.beta)
        return float(lo), float(hi)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Draw failure rates from the prior."""
        return rng.beta(self.alpha, self.beta, size=size)


@dataclass(frozen=True)
class CountPrior:
    """A prior on a count: ``minimum + NegativeBinomial`` with given mean and dispersion.

    Parameters
    ----------
    mean : float
        Prior mean of the count. [-]
    minimum : int
        Smallest possible count (1 for carriers in an attack).
    dispersion : float
        Negative-binomial size ``r``; ``inf`` means Poisson.
    source : str
        Source key, or empty where the figure is an assumption.
    assumption : str
        What was assumed and why, when not sourced.
    """

    mean: float
    minimum: int = 1
    dispersion: float = math.inf
    source: str = ""
    assumption: str = ""

    @property
    def variance(self) -> float:
        """Prior variance of the count."""
        m = self.mean - self.minimum
        return m if math.isinf(self.dispersion) else m + m * m / self.dispersion

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Draw counts from the prior."""
        m = max(self.mean - self.minimum, 0.0)
        if m == 0:
            return np.full(size if size is not None else (), self.minimum, dtype=np.int64)
        if math.isinf(self.dispersion):
            extra = rng.poisson(m, size=size)
        else:
            r = self.dispersion
            extra = rng.negative_binomial(r, r / (r + m), size=size)
        return np.asarray(extra + self.minimum, dtype=np.int64)


@dataclass(frozen=True)
class Footprint:
    """Ground pattern of one carrier's submunitions.

    An ellipse of full axes ``length_m`` (along the line of fire or flight) by
    ``width_m``; submunitions follow a bivariate normal whose 2-sigma ellipse is that
    ellipse (``sigma = axis / 4``, about 86 % of the items inside). Scale uncertainty
    is log-normal on the linear size.

    Parameters
    ----------
    length_m, width_m : float
        Median full axes. [m]
    log_sd : float
        Standard deviation of the natural log of the linear scale. [-]
    source : str
        Source key of the size.
    assumption : str
        What was assumed (shape, aspect ratio, the size itself) and why.
    """

    length_m: float
    width_m: float
    log_sd: float = 0.3
    source: str = ""
    assumption: str = ""

    @property
    def area_m2(self) -> float:
        """Area of the median ellipse. [m²]"""
        return math.pi / 4.0 * self.length_m * self.width_m

    @property
    def sigma_m(self) -> tuple[float, float]:
        """Standard deviations of the bivariate normal along and across. [m]"""
        return self.length_m / 4.0, self.width_m / 4.0


@dataclass(frozen=True)
class Submunition:
    """A submunition type (an item id usable in ``finds.item``).

    Parameters
    ----------
    id : str
        Catalogue id, e.g. ``M42``.
    name : str
        Descriptive name.
    self_destruct : bool
        Whether it has a self-destruct mechanism.
    aliases : tuple of str
        Other spellings accepted on import.
    sources : tuple of str
        Source keys.
    """

    id: str
    name: str
    self_destruct: bool = False
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Carrier:
    """A cluster munition carrier with every prior a hazard model needs.

    Parameters
    ----------
    id : str
        Catalogue id, e.g. ``M864``; ``unknown`` is a valid carrier.
    name : str
        Descriptive name.
    kind : str
        ``shell``, ``rocket``, ``bomb`` or ``dispenser``.
    submunitions : Mapping[str, int]
        Submunition id → nominal count per carrier.
    submunitions_per_carrier : int
        Nominal total count per carrier. [-]
    failure_rate : BetaPrior
        Prior of the field failure (dud) rate.
    footprint : Footprint
        Ground pattern of one carrier.
    carrier_count : CountPrior
        Prior of carriers fired in one attack, used when a strike omits it.
    volley_spread_m : float
        1-sigma spread of the carriers' aim points around the attack point. [m]
    figures : tuple of Figure
        Every published figure kept for this carrier (disputed ones included).
    aliases : tuple of str
        Other spellings accepted on import.
    assumptions : tuple of str
        Every assumption made for this carrier, in words.
    """

    id: str
    name: str
    kind: str
    submunitions: Mapping[str, int]
    submunitions_per_carrier: int
    failure_rate: BetaPrior
    footprint: Footprint
    carrier_count: CountPrior
    volley_spread_m: float
    figures: tuple[Figure, ...] = ()
    aliases: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()

    @property
    def expected_duds_per_carrier(self) -> float:
        """Prior mean of duds left by one carrier. [-]"""
        return self.submunitions_per_carrier * self.failure_rate.mean


@dataclass(frozen=True)
class Catalogue:
    """The munition catalogue: carriers, submunitions, evidence items, sources."""

    carriers: Mapping[str, Carrier]
    submunitions: Mapping[str, Submunition]
    evidence_items: tuple[str, ...]
    sources: Mapping[str, Source]
    version: str = ""
    _aliases: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def carrier_ids(self) -> tuple[str, ...]:
        """Every carrier id, ``unknown`` included."""
        return tuple(self.carriers)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every id valid in ``finds.item``: submunitions, then evidence items."""
        return (*self.submunitions, *self.evidence_items)
