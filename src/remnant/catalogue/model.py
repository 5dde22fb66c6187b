"""The catalogue's domain objects: carriers, submunitions and their priors.

These are the contract every other room uses; :mod:`remnant.catalogue.loader` builds
them from the sourced data file ``munitions.toml``.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

from remnant.errors import CatalogueError

Kind = Literal["carrier", "item"]
"""What an id names: a carrier (``strikes.carrier``) or an item (``finds.item``)."""


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
    unit : str
        ``fraction`` (a rate), ``count``, ``m`` or ``m2``; empty when not stated.
    """

    name: str
    value: float
    source: str
    note: str = ""
    unit: str = ""


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
    quantiles : tuple of float
        Probability level at which each anchor was matched, in the order of
        ``anchors`` (``ppf(quantiles[i]) == anchors[i].value``). [-]
    rationale : str
        Why these anchors, in words.
    """

    alpha: float
    beta: float
    method: str = ""
    anchors: tuple[Figure, ...] = ()
    assumption: str = ""
    quantiles: tuple[float, ...] = ()
    rationale: str = ""

    @property
    def mean(self) -> float:
        """Prior mean failure rate. [-]"""
        return self.alpha / (self.alpha + self.beta)

    def ppf(self, q: float | np.ndarray) -> float | np.ndarray:
        """Quantile function of the prior."""
        return special.betaincinv(self.alpha, self.beta, q)

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Central credible interval at ``level``."""
        tail = (1.0 - level) / 2.0
        lo, hi = special.betaincinv(self.alpha, self.beta, [tail, 1.0 - tail])
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
    def share_inside(self) -> float:
        """Share of the submunitions inside the median ellipse, ``1 − e⁻²``. [-]

        The ellipse is the bivariate normal's 2-sigma contour, and the squared
        Mahalanobis distance of a bivariate normal point is chi-squared with 2 degrees
        of freedom: ``P(d² ≤ 4) = 1 − exp(−4/2)`` ≈ 0.865.
        """
        return -math.expm1(-2.0)

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
        ``shell``, ``rocket``, ``bomb`` or ``dispenser``; ``unknown`` for the
        ``unknown`` carrier.
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
    hints : tuple of str
        Names that are too ambiguous to resolve to this carrier (``Smerch`` also
        fires other payloads) but make it the suggestion in an error message.
    variant_submunitions : tuple of str
        Submunition ids that variants of this carrier are reported to hold instead
        of the nominal ones (9M27K: ``9N235``); a find of one of them may come
        from this carrier.
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
    hints: tuple[str, ...] = ()
    variant_submunitions: tuple[str, ...] = ()

    @property
    def expected_duds_per_carrier(self) -> float:
        """Prior mean of duds left by one carrier. [-]"""
        return self.submunitions_per_carrier * self.failure_rate.mean


@dataclass(frozen=True)
class EvidenceItem:
    """An item id of ``finds.item`` that is not a catalogued submunition.

    Parameters
    ----------
    id : str
        Catalogue id, e.g. ``fragments``.
    name : str
        Descriptive name.
    aliases : tuple of str
        Other spellings accepted on import.
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()


_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "ye",
    "ё": "e", "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
"""Russian-style transliteration, as Soviet designations are written in Latin
(``9М55К`` -> ``9m55k``, ``ШОАБ-0,5`` -> ``shoab0.5``)."""

_DROPPED = str.maketrans({c: None for c in " \t-_\u2010\u2011\u2012\u2013\u2014\u2212"})


def normalise_id(value: str) -> str:
    """Return the lookup key of an id or alias: what :meth:`Catalogue.resolve` compares.

    Unicode NFKC, case-folded, Cyrillic transliterated, decimal comma read as a
    point, and spaces, hyphens and underscores removed: ``"m-864"``, ``"M 864"`` and
    ``"М864"`` (Cyrillic) all give ``"m864"``.
    """
    text = unicodedata.normalize("NFKC", value).casefold().translate(_DROPPED)
    text = "".join(_CYRILLIC_TO_LATIN.get(c, c) for c in text)
    return text.replace(",", ".")


def _names(kind: Kind, catalogue: Catalogue) -> Iterable[tuple[str, str]]:
    """Yield ``(name, id)`` for every id and alias of ``kind``."""
    if kind == "carrier":
        for c in catalogue.carriers.values():
            yield from ((n, c.id) for n in (c.id, *c.aliases))
        return
    for s in catalogue.submunitions.values():
        yield from ((n, s.id) for n in (s.id, *s.aliases))
    for item_id in catalogue.evidence_items:
        item = catalogue.evidence.get(item_id)
        yield from ((n, item_id) for n in (item_id, *(item.aliases if item else ())))


def build_alias_index(catalogue: Catalogue) -> dict[str, str]:
    """Return ``{"<kind>:<key>": id}`` for every id and alias, and ``hint:<key>`` hints.

    Raises
    ------
    CatalogueError
        Two ids or aliases normalise to the same key but name different ids, or a
        hint is also a carrier id or alias (a hint must never resolve).
    """
    kinds: tuple[Kind, ...] = ("carrier", "item")
    entries: list[tuple[str, str, str]] = [
        (k, name, id_) for k in kinds for name, id_ in _names(k, catalogue)
    ]
    entries += [("hint", h, c.id) for c in catalogue.carriers.values() for h in c.hints]
    index: dict[str, str] = {}
    for kind, name, target in entries:
        key = f"{kind}:{normalise_id(name)}"
        if index.setdefault(key, target) != target:
            raise CatalogueError(f"{kind} name {name!r} of {target!r} is taken by {index[key]!r}")
    for key, target in index.items():
        if key.startswith("hint:") and f"carrier:{key[5:]}" in index:
            raise CatalogueError(f"hint of {target!r} {key[5:]!r} is also a carrier name")
    return index


@dataclass(frozen=True)
class Catalogue:
    """The munition catalogue: carriers, submunitions, evidence items, sources.

    Treat it as read-only: :func:`~remnant.catalogue.load_catalogue` returns one
    shared, cached instance. ``_aliases`` caches the lookup index of
    :meth:`resolve` (built on first use when not given).
    """

    carriers: Mapping[str, Carrier]
    submunitions: Mapping[str, Submunition]
    evidence_items: tuple[str, ...]
    sources: Mapping[str, Source]
    version: str = ""
    _aliases: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    evidence: Mapping[str, EvidenceItem] = field(default_factory=dict)
    generic_figures: tuple[Figure, ...] = ()

    @property
    def carrier_ids(self) -> tuple[str, ...]:
        """Every carrier id, ``unknown`` included."""
        return tuple(self.carriers)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every id valid in ``finds.item``: submunitions, then evidence items."""
        return (*self.submunitions, *self.evidence_items)

    def _index(self) -> dict[str, str]:
        if not self._aliases:
            self._aliases.update(build_alias_index(self))
        return self._aliases

    def resolve(self, value: str, kind: Kind) -> str | None:
        """Return the canonical id that ``value`` names, or ``None``.

        Case, spaces, hyphens, underscores, Cyrillic script and aliases do not
        matter (:func:`normalise_id`): ``resolve("m-864", "carrier") == "M864"``.
        Hints (``Smerch``) never resolve; see :meth:`suggest`.

        Parameters
        ----------
        value : str
            An id as written in a record.
        kind : {"carrier", "item"}
            ``carrier`` for ``strikes.carrier``; ``item`` for ``finds.item``
            (submunitions and evidence items).
        """
        _check_kind(kind)
        return self._index().get(f"{kind}:{normalise_id(value)}")

    def suggest(self, value: str, kind: Kind) -> str | None:
        """Return the id closest to ``value``, for a "did you mean" message, or ``None``.

        An exact id, alias or (for carriers) hint wins; otherwise the closest
        normalised id or alias by :func:`difflib.get_close_matches` (cutoff 0.6).
        """
        _check_kind(kind)
        kinds = (kind, "hint") if kind == "carrier" else (kind,)
        names: dict[str, str] = {}
        for prefixed, id_ in self._index().items():
            prefix, key = prefixed.split(":", 1)
            if prefix in kinds:
                names.setdefault(key, id_)
        key = normalise_id(value)
        if key in names:
            return names[key]
        close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
        return names[close[0]] if close else None

    def carrier(self, id: str) -> Carrier:
        """Return the carrier ``id`` names (any spelling :meth:`resolve` accepts).

        Raises
        ------
        CatalogueError
            No carrier matches; the message suggests the closest id.
        """
        found = self.resolve(id, "carrier")
        if found is None:
            raise CatalogueError(self._unknown_message(id, "carrier", self.carrier_ids))
        return self.carriers[found]

    def submunition(self, id: str) -> Submunition:
        """Return the submunition ``id`` names (any spelling :meth:`resolve` accepts).

        Raises
        ------
        CatalogueError
            No submunition matches (evidence items are not submunitions); the
            message suggests the closest item id.
        """
        found = self.resolve(id, "item")
        if found is None or found not in self.submunitions:
            raise CatalogueError(self._unknown_message(id, "item", tuple(self.submunitions)))
        return self.submunitions[found]

    def _unknown_message(self, value: str, kind: Kind, valid: tuple[str, ...]) -> str:
        what = "carrier" if kind == "carrier" else "submunition"
        guess = self.suggest(value, kind)
        if guess is not None:
            return f"unknown {what} {value!r}; did you mean {guess!r}?"
        return f"unknown {what} {value!r}; valid ids: {', '.join(valid)}"


def _check_kind(kind: str) -> None:
    if kind not in ("carrier", "item"):
        raise ValueError(f"kind must be 'carrier' or 'item', got {kind!r}")
