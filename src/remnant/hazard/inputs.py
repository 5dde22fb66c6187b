"""From records to the arrays of the hazard model: strikes, searches, evidence.

The only place where the hazard room reads record tables (canonical GeoDataFrames in
EPSG:4326, :mod:`remnant.records.frame`) and the munition catalogue; everything after
it works on the plain arrays of :class:`Strikes`, :class:`Searches` and
:class:`Evidence`, in a projected metre CRS, with dates as day numbers. Records dated
after the estimate's ``as_of`` day are left out here (docs/model.md §7).

Kernel widths (docs/model.md §1 and §6). For a carrier with footprint sigmas
``σ_L, σ_W`` (``axis / 4``), log-normal scale jitter of log-sd ``ℓ``
(``k = E[s²] = E[s⁻²] = e^{2ℓ²}``), aim-point spread ``σ_v`` and location error
``σ_e``:

- mean density: ``σ² = k(σ_L² + σ_W²)/2 + σ_v² + σ_e²`` (heading unknown; the moment
  match of the footprint averaged over a uniform heading), or along/across
  ``kσ_{L,W}² + σ_v² + σ_e²`` for a known heading;
- second moment within one carrier's pattern: ``E[f_c²] ≈ A c_w N(σ_w)`` with
  ``c_w = k / (4π σ_L σ_W)`` and ``σ_w² = k(σ_L² + σ_W²)/4 + σ_v² + σ_e²``
  (the square of a normal density is a normal density of half the variance);
- second moment across two carriers of one attack: ``c_x = 1 / (4π √(v_L v_W))``
  and ``σ_x² = (v_L + v_W)/4 + σ_e²`` with ``v_{L,W} = kσ_{L,W}² + σ_v²``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from remnant.catalogue.model import Carrier, Catalogue
from remnant.hazard.config import HazardConfig
from remnant.hazard.kernels import mix64
from remnant.hazard.search import detection_probabilities, log_keep
from remnant.records.defaults import DEFAULT_SOURCE_TYPE, LOCATION_ERROR_M

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

UNKNOWN_CARRIER = "unknown"
"""The catalogue carrier of an attack whose carrier is not known; also the type of
the pseudo-strikes inferred from unexplained evidence."""

SEARCHED, REPORTED, EVIDENCE, ACCIDENT = 0, 1, 2, 3
"""Kinds of evidence point: a dud found by a search of known detection probability;
a dud removed without such a search (EOD spot task, civilian report, no activity);
an evidence item (fragments, container, strike marks, NTS direct evidence); an
accident (a dud that exploded)."""

FIND_SPREAD_M = 5.0
"""1-sigma error of a recorded find point (handheld GNSS). [m] ASSUMPTION."""
ACCIDENT_SPREAD_M = 50.0
"""1-sigma error of a recorded accident point (recorded after the event, often
from a victim's account). [m] ASSUMPTION."""


def day_numbers(values: pd.Series | npt.ArrayLike, column: str = "date") -> IntArray:
    """Return ISO 8601 dates (or date-times) as days since 1970-01-01. [day]

    Raises
    ------
    ValueError
        A value is missing or not a date (records are validated on import, so this
        means the table did not come from the store).
    """
    text = pd.Series(np.asarray(values, dtype=object)).astype("string").str.slice(0, 10)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    if parsed.isna().any():
        first = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        value = np.asarray(values, dtype=object)[first]
        raise ValueError(f"{column}: not an ISO date at position {first}: {value!r}")
    return np.asarray(parsed.to_numpy().astype("datetime64[D]").astype(np.int64))


# -- strikes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Strikes:
    """The attacks of the model, recorded and inferred, one element per strike.

    Parameters
    ----------
    ids : ndarray of object
        Record id (``strike_id``), or ``PSEUDO-…`` for a pseudo-strike.
    x, y : ndarray of float64
        Reported point in the model CRS. [m]
    day : ndarray of int64
        Day of the attack. [day since 1970-01-01]
    type_index : ndarray of int64
        Carrier type, an index into ``types``.
    per_carrier : ndarray of float64
        Submunitions per carrier ``n``. [items]
    count_mean, count_var : ndarray of float64
        Mean and variance of the effective carrier count ``C·ε`` (count times the
        attack's dud-rate factor, docs/model.md §4). [carriers], [carriers²]
    carriers_min, carriers_extra, carriers_size : ndarray of float64
        The count ``C``: the recorded count (``extra`` 0), or the catalogue's prior
        ``minimum + NB(mean extra, size)`` (``size`` inf for a Poisson).
        [carriers], [carriers], [-]
    heading : ndarray of float64
        Direction of fire, clockwise from grid north; NaN when unknown. [°]
    pseudo : ndarray of bool
        Inferred from unexplained evidence, not recorded.
    location_error : ndarray of float64
        1-sigma error of the point ``(x, y)``, ``σ_e``. [m]
    pattern_along2, pattern_across2 : ndarray of float64
        Variances of one carrier's items around its aim point along and across the
        line of fire, ``kσ_L²`` and ``kσ_W²`` (``k = e^{2ℓ²}``, the scale jitter). [m²]
    volley_var : ndarray of float64
        Variance of the aim points around the point of impact, ``σ_v²``. [m²]
    coef_pattern : ndarray of float64
        ``k / (4π σ_L σ_W)``: the integral of the squared pattern density, per unit
        area — how tightly one carrier's items cluster. [1/m²]
    types : tuple of str
        Carrier id of each type index.
    prior_alpha, prior_beta : ndarray of float64, shape (types,)
        Beta prior of each type's failure rate (catalogue). [-]
    """

    ids: npt.NDArray[np.object_]
    x: FloatArray
    y: FloatArray
    day: IntArray
    type_index: IntArray
    per_carrier: FloatArray
    count_mean: FloatArray
    count_var: FloatArray
    carriers_min: FloatArray
    carriers_extra: FloatArray
    carriers_size: FloatArray
    heading: FloatArray
    pseudo: npt.NDArray[np.bool_]
    location_error: FloatArray
    pattern_along2: FloatArray
    pattern_across2: FloatArray
    volley_var: FloatArray
    coef_pattern: FloatArray
    types: tuple[str, ...]
    prior_alpha: FloatArray
    prior_beta: FloatArray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def prior_mean(self) -> FloatArray:
        """Prior mean of the duds of each strike, ``n C̄ E[π]``. [items]"""
        rate = self.prior_alpha / (self.prior_alpha + self.prior_beta)
        return self.per_carrier * self.count_mean * rate[self.type_index]

    @property
    def pattern_var(self) -> FloatArray:
        """``σ_f² = k(σ_L² + σ_W²)/2``: one carrier's pattern per axis, over headings. [m²]"""
        return (self.pattern_along2 + self.pattern_across2) / 2.0

    def concat(self, other: Strikes) -> Strikes:
        """Return these strikes followed by ``other`` (same types)."""
        if other.types != self.types:
            raise ValueError("cannot join strikes with different type lists")
        fields = {
            name: np.concatenate([getattr(self, name), getattr(other, name)])
            for name in _PER_STRIKE
        }
        return Strikes(
            **fields, types=self.types, prior_alpha=self.prior_alpha, prior_beta=self.prior_beta
        )

    def with_counts(
        self, index: npt.ArrayLike, mean: FloatArray, var: FloatArray, dispersion: float
    ) -> Strikes:
        """These strikes with the carrier counts of ``index`` replaced (mean, variance of ``C``).

        ``count_mean`` and ``count_var`` are recomputed as those of ``C·ε``
        (:func:`effective_count`); the count prior itself is kept.
        """
        i = np.asarray(index, dtype=np.int64)
        eff_mean, eff_var = effective_count(np.full(len(i), np.nan), mean, var, dispersion)
        count_mean, count_var = self.count_mean.copy(), self.count_var.copy()
        count_mean[i], count_var[i] = eff_mean, eff_var
        fields = {name: getattr(self, name) for name in _PER_STRIKE}
        fields.update(count_mean=count_mean, count_var=count_var)
        return Strikes(
            **fields, types=self.types, prior_alpha=self.prior_alpha, prior_beta=self.prior_beta
        )

    def take(self, index: npt.ArrayLike) -> Strikes:
        """Return the strikes at ``index`` (same types)."""
        i = np.asarray(index)
        fields = {name: getattr(self, name)[i] for name in _PER_STRIKE}
        return Strikes(
            **fields, types=self.types, prior_alpha=self.prior_alpha, prior_beta=self.prior_beta
        )


_PER_STRIKE = (
    "ids", "x", "y", "day", "type_index", "per_carrier", "count_mean", "count_var",
    "carriers_min", "carriers_extra", "carriers_size", "heading", "pseudo",
    "location_error", "pattern_along2", "pattern_across2", "volley_var", "coef_pattern",
)  # fmt: skip


def strike_types(catalogue: Catalogue, carriers: npt.ArrayLike) -> tuple[str, ...]:
    """The carrier types of the model: those named by ``carriers``, and ``unknown``."""
    named = {c.id for c in carriers_of(catalogue, carriers)}
    return tuple(sorted(named | {UNKNOWN_CARRIER}))


def carriers_of(catalogue: Catalogue, carriers: npt.ArrayLike) -> list[Carrier]:
    """The catalogue's carrier of each value, each spelling resolved once.

    A country's 80,000 strikes name a dozen carriers: resolving every record took
    0.6 s, twice an estimate. An unknown carrier raises as
    :meth:`~remnant.catalogue.model.Catalogue.carrier` does, the first in the order
    of ``carriers``.
    """
    values = [str(c) for c in np.asarray(carriers, dtype=object)]
    found = {value: catalogue.carrier(value) for value in dict.fromkeys(values)}
    return [found[value] for value in values]


def effective_count(
    known: npt.ArrayLike, prior_mean: npt.ArrayLike, prior_var: npt.ArrayLike, dispersion: float
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of ``C·ε``, the carrier count times the attack's dud-rate factor.

    ``ε ~ Gamma(φ, φ)`` (mean 1); ``C`` is the recorded count (fixed) or the
    catalogue's count prior. ``Var(Cε) = E[C]²((1 + V_C)(1 + 1/φ) − 1)`` with
    ``V_C`` the squared coefficient of variation of ``C`` (docs/model.md §4).

    Parameters
    ----------
    known : array_like
        Recorded count, NaN where omitted. [carriers]
    prior_mean, prior_var : array_like
        Count prior, used where ``known`` is NaN. [carriers], [carriers²]
    dispersion : float
        ``φ``; ``inf`` for no attack-to-attack factor. [-]
    """
    c = np.asarray(known, dtype=np.float64)
    omitted = np.isnan(c)
    mean = np.where(omitted, np.asarray(prior_mean, dtype=np.float64), c)
    v_c = np.where(omitted, np.asarray(prior_var, dtype=np.float64) / mean**2, 0.0)
    inv_phi = 0.0 if math.isinf(dispersion) else 1.0 / dispersion
    return mean, mean**2 * ((1.0 + v_c) * (1.0 + inv_phi) - 1.0)


def strikes_from_records(
    strikes: gpd.GeoDataFrame,
    catalogue: Catalogue,
    crs: str,
    config: HazardConfig,
    as_of_day: int,
    types: tuple[str, ...] | None = None,
) -> Strikes:
    """Return the recorded strikes dated on or before ``as_of_day`` as model arrays.

    Parameters
    ----------
    strikes : geopandas.GeoDataFrame
        The canonical ``strikes`` table (EPSG:4326).
    catalogue : Catalogue
        The munition catalogue.
    crs : str
        The model's projected metre CRS.
    config : HazardConfig
        ``strike_dispersion`` is used.
    as_of_day : int
        Day of the estimate; later strikes are left out. [day]
    types : tuple of str, optional
        The carrier types; default :func:`strike_types` of the table.
    """
    kept = strikes[day_numbers(strikes["date"]) <= as_of_day] if len(strikes) else strikes
    types = types or strike_types(catalogue, kept["carrier"])
    carriers = carriers_of(catalogue, kept["carrier"])
    position = {t: i for i, t in enumerate(types)}
    type_index = np.array([position[c.id] for c in carriers], dtype=np.int64)
    source = kept["source_type"].fillna(DEFAULT_SOURCE_TYPE)
    error = kept["location_error_m"].astype("float64").fillna(source.map(LOCATION_ERROR_M))
    heading = kept["heading_deg"].astype("float64").to_numpy()
    recorded = kept["carrier_count"].astype("float64").to_numpy()
    mean, var = effective_count(
        recorded,
        [c.carrier_count.mean for c in carriers],
        [c.carrier_count.variance for c in carriers],
        config.strike_dispersion,
    )
    x, y = _project(kept.geometry, crs)
    return _strike_arrays(
        ids=kept["strike_id"].to_numpy(dtype=object),
        x=x,
        y=y,
        day=day_numbers(kept["date"]),
        type_index=type_index,
        carriers=carriers,
        location_error_m=error.to_numpy(dtype=np.float64),
        heading=heading,
        count=(mean, var),
        recorded_count=recorded,
        pseudo=np.zeros(len(kept), dtype=bool),
        types=types,
        catalogue=catalogue,
    )


def pseudo_strikes(
    x: FloatArray,
    y: FloatArray,
    day: IntArray,
    location_error_m: FloatArray,
    catalogue: Catalogue,
    types: tuple[str, ...],
    config: HazardConfig,
    first: int = 1,
) -> Strikes:
    """Return strikes of carrier ``unknown`` inferred from clusters of evidence.

    Their size is the ``unknown`` carrier's prior (count prior, failure rate, the
    attack factor of ``config``), learned from the evidence like any strike's.

    Parameters
    ----------
    x, y : ndarray
        Centre of each cluster of unexplained evidence, model CRS. [m]
    day : ndarray
        Day before the cluster's first evidence. [day]
    location_error_m : ndarray
        1-sigma uncertainty of the attack point given the cluster. [m]
    catalogue, types, config
        As in :func:`strikes_from_records`.
    first : int
        Number of the first one's id, ``PSEUDO-{first:06d}``.
    """
    n = len(x)
    carrier = catalogue.carriers[UNKNOWN_CARRIER]
    mean, var = effective_count(
        np.full(n, np.nan),
        np.full(n, carrier.carrier_count.mean),
        np.full(n, carrier.carrier_count.variance),
        config.strike_dispersion,
    )
    return _strike_arrays(
        ids=np.array([f"PSEUDO-{first + i:06d}" for i in range(n)], dtype=object),
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.float64),
        day=np.asarray(day, dtype=np.int64),
        type_index=np.full(n, types.index(UNKNOWN_CARRIER), dtype=np.int64),
        carriers=[carrier] * n,
        location_error_m=np.asarray(location_error_m, dtype=np.float64),
        heading=np.full(n, np.nan),
        count=(mean, var),
        recorded_count=np.full(n, np.nan),
        pseudo=np.ones(n, dtype=bool),
        types=types,
        catalogue=catalogue,
    )


def _strike_arrays(
    *,
    ids: npt.NDArray[np.object_],
    x: FloatArray,
    y: FloatArray,
    day: IntArray,
    type_index: IntArray,
    carriers: list[Carrier],
    location_error_m: FloatArray,
    heading: FloatArray,
    count: tuple[FloatArray, FloatArray],
    recorded_count: FloatArray,
    pseudo: npt.NDArray[np.bool_],
    types: tuple[str, ...],
    catalogue: Catalogue,
) -> Strikes:
    priors = [catalogue.carriers[t].failure_rate for t in types]
    pattern = carrier_patterns(carriers)
    counts = np.asarray(recorded_count, dtype=np.float64)
    known = ~np.isnan(counts)
    return Strikes(
        ids=ids,
        x=x,
        y=y,
        day=day,
        type_index=type_index,
        per_carrier=np.array([c.submunitions_per_carrier for c in carriers], dtype=np.float64),
        count_mean=count[0],
        count_var=count[1],
        carriers_min=np.where(known, counts, [c.carrier_count.minimum for c in carriers]),
        carriers_extra=np.where(
            known, 0.0, [c.carrier_count.mean - c.carrier_count.minimum for c in carriers]
        ),
        carriers_size=np.array([c.carrier_count.dispersion for c in carriers], dtype=np.float64),
        heading=heading,
        pseudo=pseudo,
        location_error=location_error_m,
        pattern_along2=pattern[0],
        pattern_across2=pattern[1],
        volley_var=pattern[2],
        coef_pattern=pattern[3],
        types=types,
        prior_alpha=np.array([p.alpha for p in priors], dtype=np.float64),
        prior_beta=np.array([p.beta for p in priors], dtype=np.float64),
    )


def carrier_patterns(
    carriers: list[Carrier],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``kσ_L²``, ``kσ_W²``, ``σ_v²`` and ``k/(4πσ_Lσ_W)`` of each carrier (module docstring).

    ``σ_L, σ_W`` are the catalogue footprint's sigmas (axis / 4), ``k = e^{2ℓ²}`` with
    ``ℓ`` its log-sd of scale (``E[s²] = E[s⁻²] = k`` for a log-normal scale ``s``),
    ``σ_v`` the aim-point spread. [m²], [m²], [m²], [1/m²]
    """
    fp = np.array([c.footprint.sigma_m for c in carriers], dtype=np.float64).reshape(-1, 2)
    k = np.exp(2.0 * np.array([c.footprint.log_sd for c in carriers], dtype=np.float64) ** 2)
    volley = np.array([c.volley_spread_m for c in carriers], dtype=np.float64)
    return (
        k * fp[:, 0] ** 2,
        k * fp[:, 1] ** 2,
        volley**2,
        k / (4.0 * math.pi * fp[:, 0] * fp[:, 1]),
    )


def _project(geometry: gpd.GeoSeries, crs: str) -> tuple[FloatArray, FloatArray]:
    """Point coordinates of ``geometry`` in ``crs`` (NaN for a missing point). [m]

    The coordinates go through the transformation ``GeoSeries.to_crs`` uses (pyproj's,
    ``always_xy``), to the bit, without building the projected points: for a country's
    million finds 1.0 s less.
    """
    if len(geometry) == 0:
        return np.empty(0), np.empty(0)
    if geometry.crs is None:
        raise ValueError("points without a CRS cannot be projected")
    points = geometry.to_numpy()
    other = shapely.get_type_id(points) > shapely.GeometryType.POINT  # not missing either
    if other.any():
        first = int(np.flatnonzero(other)[0])
        raise ValueError(f"not a point at position {first}: {points[first].geom_type}")
    points = np.where(shapely.is_empty(points), None, points)  # GEOS has no x of an empty one
    x, y = shapely.get_x(points), shapely.get_y(points)
    target = CRS.from_user_input(crs)
    if geometry.crs.is_exact_same(target):
        return x, y
    there = ~np.isnan(x)  # missing and empty points stay NaN
    transform = Transformer.from_crs(geometry.crs, target, always_xy=True).transform
    x[there], y[there] = transform(x[there], y[there])
    return x, y


# -- searches -------------------------------------------------------------------------


@dataclass(frozen=True)
class Searches:
    """The activities in force on the estimate's day, as polygons that thin items.

    Parameters
    ----------
    ids : ndarray of object
        ``activity_id``.
    day : ndarray of int64
        Day the activity ended: it thins the items of strikes dated before. [day]
    log_keep : ndarray of float64, shape (n, 2)
        ``log(1 − p)`` of its detection probability (recorded, else by method, else
        by type), and ``log(1 − q)`` for an NTS with outcome ``no_evidence`` (0 for
        every other activity): the chance it would have noticed an attack that fell
        inside, which moves where the attack may have fallen, not how many items it
        left (docs/model.md §2). [-]
    detection : ndarray of float64
        The detection probability of finds ``p`` (without the NTS evidence term). [-]
    polygons : ndarray of shapely.Geometry
        The polygons in the model CRS. [m]
    """

    ids: npt.NDArray[np.object_]
    day: IntArray
    log_keep: FloatArray
    detection: FloatArray
    polygons: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.ids)


def searches_from_records(
    activities: gpd.GeoDataFrame, crs: str, config: HazardConfig, as_of_day: int
) -> Searches:
    """Return the activities that ended on or before ``as_of_day`` as model arrays.

    Parameters
    ----------
    activities : geopandas.GeoDataFrame
        The canonical ``activities`` table (EPSG:4326).
    crs : str
        The model's projected metre CRS.
    config : HazardConfig
        ``nts_no_evidence_weight`` is used.
    as_of_day : int
        Day of the estimate. [day]
    """
    kept = activities
    if len(activities):
        kept = activities[day_numbers(activities["end_date"], "end_date") <= as_of_day]
    p = detection_probabilities(
        kept["type"].to_numpy(dtype=object),
        kept["method"].to_numpy(dtype=object),
        kept["detection_probability"].astype("float64").to_numpy(),
    )
    no_evidence = (kept["type"] == "non_technical_survey") & (kept["outcome"] == "no_evidence")
    q = np.where(no_evidence.to_numpy(dtype=bool), config.nts_no_evidence_weight, 0.0)
    polygons = kept.geometry.to_crs(crs).to_numpy() if len(kept) else np.empty(0, dtype=object)
    return Searches(
        ids=kept["activity_id"].to_numpy(dtype=object),
        day=day_numbers(kept["end_date"], "end_date"),
        log_keep=np.column_stack([log_keep(p), log_keep(q)]),
        detection=p,
        polygons=np.asarray(polygons, dtype=object),
    )


# -- evidence -------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Points that tell of items: finds, accidents, NTS direct evidence.

    Parameters
    ----------
    ids : ndarray of str
        Record id (``find_id``, ``accident_id`` or the NTS ``activity_id``), as
        fixed-width text: a saved basis maps a country's million from its file,
        never made into Python strings (:func:`remnant.hazard.update.update`).
    x, y : ndarray of float64
        Point in the model CRS. [m]
    day : ndarray of int64
        Day of the find or accident. [day]
    quantity : ndarray of float64
        Items the point stands for (0 for evidence items). [items]
    kind : ndarray of int8
        :data:`SEARCHED`, :data:`REPORTED`, :data:`EVIDENCE` or :data:`ACCIDENT`.
    item : ndarray of int64
        Index of the item in ``items`` (``""`` when not given).
    spread_m : ndarray of float64
        1-sigma error of the point. [m]
    items : tuple of str
        Item ids.
    compat : ndarray of float64, shape (items, types)
        Weight of a strike of each type as the source of each item (1 when the
        carrier holds it, or when either is unknown; else
        ``HazardConfig.wrong_carrier_weight``). [-]
    """

    ids: npt.NDArray[np.str_]
    x: FloatArray
    y: FloatArray
    day: IntArray
    quantity: FloatArray
    kind: npt.NDArray[np.int8]
    item: IntArray
    spread_m: FloatArray
    items: tuple[str, ...]
    compat: FloatArray

    def __len__(self) -> int:
        return len(self.ids)

    def concat(self, other: Evidence) -> Evidence:
        """These points followed by ``other``'s (same items and compatibilities)."""
        if other.items != self.items or not np.array_equal(other.compat, self.compat):
            raise ValueError("evidence of another catalogue or carrier types")
        fields = {n: np.concatenate([getattr(self, n), getattr(other, n)]) for n in _PER_POINT}
        return Evidence(**fields, items=self.items, compat=self.compat)


_PER_POINT = ("ids", "x", "y", "day", "quantity", "kind", "item", "spread_m")


def compatibility(
    catalogue: Catalogue, types: tuple[str, ...], config: HazardConfig
) -> tuple[tuple[str, ...], FloatArray]:
    """Return the item ids (``""`` first) and their weight as coming from each type."""
    items = ("", *catalogue.item_ids)
    compat = np.ones((len(items), len(types)))
    for j, t in enumerate(types):
        if t == UNKNOWN_CARRIER:
            continue
        carrier = catalogue.carriers[t]
        held = set(carrier.submunitions) | set(carrier.variant_submunitions)
        for i, item in enumerate(items):
            if item in catalogue.submunitions and item not in held:
                compat[i, j] = config.wrong_carrier_weight
    return items, compat


def evidence_from_records(
    finds: gpd.GeoDataFrame,
    accidents: gpd.GeoDataFrame,
    activities: gpd.GeoDataFrame,
    detection: Mapping[str, float],
    catalogue: Catalogue,
    types: tuple[str, ...],
    crs: str,
    config: HazardConfig,
    as_of_day: int,
    found_in: npt.ArrayLike = (),
) -> Evidence:
    """Return finds, accidents and NTS direct evidence dated on or before ``as_of_day``.

    A find of a submunition (or ``unknown_submunition``) is :data:`SEARCHED` when its
    activity is in force (in ``detection``, the :attr:`Searches.detection` of each
    search by id) with a detection probability above 0, else :data:`REPORTED`; a
    find of ``fragments``, ``container`` or ``strike_marks`` is :data:`EVIDENCE`. An
    NTS with outcome ``direct_evidence`` and no find of its own (in ``finds``, or
    among the activities ``found_in`` of finds read before) is an :data:`EVIDENCE`
    point at its polygon's representative point, spread over its size.
    """
    items, compat = compatibility(catalogue, types, config)

    def with_finds(ids: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
        """Which of these activities have finds, now or read before."""
        now = pd.Index(ids, dtype=object).isin(finds["activity_id"].dropna())
        before = positions_among(found_in, ids) >= 0
        return np.asarray(now | before, dtype=bool)

    parts = [
        _finds(finds, detection, catalogue, items, crs, as_of_day),
        _accidents(accidents, catalogue, items, crs, as_of_day),
        _nts_direct(activities, with_finds, items, crs, as_of_day),
    ]
    ids, x, y, day, qty, kind, item, spread = (
        np.concatenate([p[i] for p in parts]) for i in range(8)
    )
    return Evidence(
        ids=ids.astype(np.str_),
        x=x.astype(np.float64),
        y=y.astype(np.float64),
        day=day.astype(np.int64),
        quantity=qty.astype(np.float64),
        kind=kind.astype(np.int8),
        item=item.astype(np.int64),
        spread_m=spread.astype(np.float64),
        items=items,
        compat=compat,
    )


_Part = tuple[np.ndarray, ...]


def positions_among(pool: npt.ArrayLike, ids: npt.ArrayLike) -> IntArray:
    """Position in ``pool`` of each of ``ids`` (its first; ``-1`` where it is not there).

    For a few new ids among the million of a saved basis, which maps them as
    fixed-width text from its file (:class:`Evidence`): they are not made into Python
    strings. The hash of each id of ``pool`` (:func:`text_hashes`) is looked for
    among those of ``ids``, and only the ids whose hash is found are compared as text.
    """
    want = np.asarray(ids, dtype=np.str_)
    among = np.asarray(pool, dtype=np.str_)
    out = np.full(len(want), -1, dtype=np.int64)
    if want.size == 0 or among.size == 0:
        return out
    keys = np.sort(text_hashes(want))
    hashes = text_hashes(among)
    at = np.minimum(np.searchsorted(keys, hashes), keys.size - 1)
    first: dict[str, int] = {}
    for row in np.flatnonzero(keys[at] == hashes):  # ascending: the first of each kept
        first.setdefault(str(among[row]), int(row))
    out[:] = [first.get(str(w), -1) for w in want]
    return out


def text_hashes(text: npt.NDArray[np.str_]) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each string of a fixed-width array, over its code points.

    The code points up to the first 0 (the width's padding) are mixed in turn
    (:func:`.kernels.mix64`), so that the hash is the text's whatever the width.
    """
    width = text.dtype.itemsize // 4
    codes = np.ascontiguousarray(text).view(np.uint32).reshape(len(text), width)
    return _row_hashes(codes)


@numba.njit(parallel=True, cache=True)
def _row_hashes(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    """:func:`text_hashes` of each row of code points, rows on all cores (numba)."""
    out = np.empty(codes.shape[0], dtype=np.uint64)
    for i in numba.prange(codes.shape[0]):
        h = np.uint64(0)
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c == 0:
                break
            h = mix64(h, np.uint64(c))
        out[i] = h
    return out


def _item_index(values: pd.Series, catalogue: Catalogue, items: tuple[str, ...]) -> IntArray:
    """Index in ``items`` of each value's catalogue item (0 where empty).

    Each distinct value is resolved once: a country holds a million finds of a few
    dozen items.
    """
    lookup = {name: i for i, name in enumerate(items)}
    codes, distinct = pd.factorize(values.to_numpy(dtype=object))  # -1: missing
    index = [
        lookup[catalogue.resolve(v, "item") or v] if isinstance(v, str) and v else 0
        for v in distinct
    ]
    return np.append(np.asarray(index, dtype=np.int64), 0)[codes]


def _finds(
    finds: gpd.GeoDataFrame,
    detection: Mapping[str, float],
    catalogue: Catalogue,
    items: tuple[str, ...],
    crs: str,
    as_of_day: int,
) -> _Part:
    day = day_numbers(finds["date"]) if len(finds) else np.empty(0, np.int64)
    kept = day <= as_of_day
    finds, day = finds[kept], day[kept]
    item = _item_index(finds["item"], catalogue, items)
    dud = np.isin(
        np.asarray(items, dtype=object)[item], [*catalogue.submunitions, "unknown_submunition"]
    )
    codes, activity = pd.factorize(finds["activity_id"])  # each activity looked up once
    p = np.append([detection.get(a, 0.0) for a in activity], 0.0)[codes]  # -1: none
    kind = np.where(dud, np.where(p > 0, SEARCHED, REPORTED), EVIDENCE)
    qty = finds["quantity"].astype("float64").fillna(1.0).to_numpy()
    x, y = _project(finds.geometry, crs)
    return (
        finds["find_id"].to_numpy(dtype=object),
        x,
        y,
        day,
        np.where(dud, qty, 0.0),
        kind,
        item,
        np.full(len(finds), FIND_SPREAD_M),
    )


def _accidents(
    accidents: gpd.GeoDataFrame,
    catalogue: Catalogue,
    items: tuple[str, ...],
    crs: str,
    as_of_day: int,
) -> _Part:
    if len(accidents):
        accidents = accidents[day_numbers(accidents["date"]) <= as_of_day]
    x, y = _project(accidents.geometry, crs)
    n = len(accidents)
    return (
        accidents["accident_id"].to_numpy(dtype=object),
        x,
        y,
        day_numbers(accidents["date"]),
        np.ones(n),
        np.full(n, ACCIDENT),
        _item_index(accidents["item"], catalogue, items),
        np.full(n, ACCIDENT_SPREAD_M),
    )


def _nts_direct(
    activities: gpd.GeoDataFrame,
    with_finds: Callable[[npt.NDArray[np.object_]], npt.NDArray[np.bool_]],
    items: tuple[str, ...],
    crs: str,
    as_of_day: int,
) -> _Part:
    direct = activities[
        (activities["type"] == "non_technical_survey")
        & (activities["outcome"] == "direct_evidence")
    ]
    direct = direct[~with_finds(direct["activity_id"].to_numpy(dtype=object))]
    if len(direct):
        direct = direct[day_numbers(direct["end_date"], "end_date") <= as_of_day]
    polygons = direct.geometry.to_crs(crs) if len(direct) else gpd.GeoSeries([], crs=crs)
    points = shapely.point_on_surface(polygons.to_numpy())
    n = len(direct)
    radius = np.sqrt(shapely.area(polygons.to_numpy()) / math.pi) if n else np.empty(0)
    return (
        direct["activity_id"].to_numpy(dtype=object),
        shapely.get_x(points) if n else np.empty(0),
        shapely.get_y(points) if n else np.empty(0),
        day_numbers(direct["end_date"], "end_date"),
        np.zeros(n),
        np.full(n, EVIDENCE),
        np.zeros(n, dtype=np.int64),
        radius / 2.0,
    )
