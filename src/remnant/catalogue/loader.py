"""Load the munition catalogue from its TOML data file, checked on load.

Three steps, each a small function:

1. read the TOML (:mod:`tomllib`);
2. check it: its shape and value ranges with pydantic models (unknown keys
   forbidden), then its cross-references (every source key exists, every
   submunition and figure a carrier names exists, anchors in order, counts that add
   up); every problem is reported, each with its key path;
3. build the frozen dataclasses of :mod:`remnant.catalogue.model`, deriving every
   prior with :mod:`remnant.catalogue.priors`.

The layout of the file is described at its top and in ``docs/catalogue.md``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic import ValidationError as PydanticValidationError

from remnant.catalogue import priors
from remnant.catalogue.model import (
    BetaPrior,
    Carrier,
    Catalogue,
    CountPrior,
    EvidenceItem,
    Figure,
    Footprint,
    Source,
    Submunition,
    build_alias_index,
)
from remnant.errors import CatalogueError

DEFAULT_PATH = Path(__file__).with_name("munitions.toml")
"""The catalogue shipped with Remnant."""

UNKNOWN_CARRIER = "unknown"
"""Carrier id every catalogue must have: the carrier of a strike of unknown type."""

UNKNOWN_SUBMUNITION = "unknown_submunition"
"""Evidence item the ``unknown`` carrier may name as its submunition."""

Problem = tuple[str, str]
"""A key path in the file and what is wrong there."""

Text = Annotated[str, StringConstraints(min_length=1)]
Unit = Literal["fraction", "count", "m", "m2"]


# --------------------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceIn(_Model):
    """``[sources.<key>]``: a citation and, where known, its URL."""

    citation: Text
    url: Text | None = None


class FigureIn(_Model):
    """``[...figures.<name>]``: a published number, its unit and source key."""

    value: Annotated[float, Field(gt=0)]
    unit: Unit
    source: Text
    note: str = ""

    @model_validator(mode="after")
    def _in_range(self) -> FigureIn:
        if not math.isfinite(self.value):
            raise ValueError("value must be finite")
        if self.unit == "fraction" and not self.value < 1:
            raise ValueError("a fraction must be < 1")
        if self.unit == "count" and not float(self.value).is_integer():
            raise ValueError("a count must be a whole number")
        return self


class ValueIn(_Model):
    """A parameter: ``{figure = name}`` or ``{value = x, assumption = why[, source]}``."""

    figure: Text | None = None
    value: Annotated[float, Field(gt=0)] | None = None
    source: Text | None = None
    assumption: Text | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ValueIn:
        if (self.figure is None) == (self.value is None):
            raise ValueError("give exactly one of `figure` or `value`")
        if self.value is not None and self.assumption is None:
            raise ValueError("a `value` needs an `assumption` saying why it is used")
        if self.figure is not None and self.source is not None:
            raise ValueError("`source` belongs to the figure, not here")
        return self


class AnchorIn(_Model):
    """A failure-rate anchor: the figure matched and its probability level ``q``."""

    figure: Text
    q: Annotated[float, Field(gt=0, lt=1)]
    assumption: Text | None = None


class FailureRateIn(_Model):
    """``[carriers.<id>.failure_rate]``: two anchors and why they were chosen."""

    lower: AnchorIn
    upper: AnchorIn
    rationale: Text
    assumption: str = ""


_FOOTPRINT_FORMS: dict[str, tuple[str, ...]] = {
    "axes": ("length_m", "width_m", "log_sd"),
    "area": ("area_m2", "aspect_ratio", "log_sd"),
    "extremes": ("min_length_m", "min_width_m", "max_length_m", "max_width_m", "coverage"),
}
"""The three ways a footprint can be given, by the keys each needs."""


class FootprintIn(_Model):
    """``[carriers.<id>.footprint]`` in one of the forms of ``_FOOTPRINT_FORMS``."""

    length_m: ValueIn | None = None
    width_m: ValueIn | None = None
    area_m2: ValueIn | None = None
    aspect_ratio: ValueIn | None = None
    log_sd: ValueIn | None = None
    min_length_m: ValueIn | None = None
    min_width_m: ValueIn | None = None
    max_length_m: ValueIn | None = None
    max_width_m: ValueIn | None = None
    coverage: ValueIn | None = None

    @property
    def form(self) -> str:
        """``axes``, ``area`` or ``extremes``."""
        given = {k for k in type(self).model_fields if getattr(self, k) is not None}
        return next((f for f, keys in _FOOTPRINT_FORMS.items() if given == set(keys)), "")

    @model_validator(mode="after")
    def _one_form(self) -> FootprintIn:
        if not self.form:
            forms = "; or ".join(", ".join(keys) for keys in _FOOTPRINT_FORMS.values())
            raise ValueError(f"give exactly {forms}")
        return self


class CountIn(_Model):
    """``[carriers.<id>.carrier_count]``: carriers per attack."""

    mean: ValueIn
    dispersion: ValueIn
    minimum: Annotated[int, Field(ge=1)] = 1


class VolleyIn(_Model):
    """``[carriers.<id>.volley]``: radius within which one attack's items land."""

    radius_m: ValueIn


class CarrierIn(_Model):
    """``[carriers.<id>]``."""

    name: Text
    kind: Literal["shell", "rocket", "bomb", "dispenser", "unknown"]
    submunitions: Annotated[dict[str, Annotated[int, Field(gt=0)]], Field(min_length=1)]
    submunitions_per_carrier: ValueIn
    failure_rate: FailureRateIn
    footprint: FootprintIn
    carrier_count: CountIn
    volley: VolleyIn
    figures: dict[str, FigureIn] = {}
    aliases: list[Text] = []
    hints: list[Text] = []
    variant_submunitions: list[Text] = []
    assumptions: list[Text] = []


class SubmunitionIn(_Model):
    """``[submunitions.<id>]``."""

    name: Text
    self_destruct: bool = False
    aliases: list[Text] = []
    sources: list[Text] = []


class EvidenceIn(_Model):
    """``[evidence_items.<id>]``."""

    name: Text
    aliases: list[Text] = []


class MetaIn(_Model):
    """``[catalogue]``."""

    version: Text
    description: str = ""


class CatalogueIn(_Model):
    """The whole file."""

    catalogue: MetaIn
    sources: dict[str, SourceIn]
    submunitions: dict[str, SubmunitionIn]
    evidence_items: dict[str, EvidenceIn]
    carriers: dict[str, CarrierIn]
    generic_figures: dict[str, FigureIn] = {}


# --------------------------------------------------------------------------- load


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load, check and build the munition catalogue.

    Parameters
    ----------
    path : str or Path, optional
        A catalogue TOML file; default the one shipped with Remnant
        (:data:`DEFAULT_PATH`), loaded once and cached.

    Returns
    -------
    Catalogue
        With every prior derived (:mod:`remnant.catalogue.priors`). Shared when
        cached: treat it as read-only.

    Raises
    ------
    CatalogueError
        The file cannot be read, is not TOML, or breaks the schema; the message
        names the file and the key path of every problem, e.g.
        ``munitions.toml: carriers.M864.failure_rate.lower: must be < upper``.
    """
    if path is None:
        return _load_default()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _load_default() -> Catalogue:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> Catalogue:
    doc = _parse(path, _read_toml(path))
    problems = check_references(doc)
    if problems:
        raise CatalogueError(_report(path, problems))
    try:
        return build_catalogue(doc)
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from exc


def _parse(path: Path, raw: dict[str, Any]) -> CatalogueIn:
    try:
        return CatalogueIn.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [
            (".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise CatalogueError(_report(path, problems)) from exc


def _report(path: Path, problems: list[Problem]) -> str:
    lines = [f"{path}: {where or '(top level)'}: {why}" for where, why in problems]
    head = f"{len(problems)} problem(s) in the munition catalogue:\n" if len(lines) > 1 else ""
    return head + "\n".join(lines)


# --------------------------------------------------------------------------- references


_VALUE_UNITS: dict[str, tuple[str, ...]] = {
    "submunitions_per_carrier": ("count",),
    "length_m": ("m",),
    "width_m": ("m",),
    "min_length_m": ("m",),
    "min_width_m": ("m",),
    "max_length_m": ("m",),
    "max_width_m": ("m",),
    "area_m2": ("m2",),
    "coverage": ("fraction",),
    "mean": ("count",),
    "radius_m": ("m",),
}
"""Units a parameter may take from a figure; parameters absent take only values."""


def _values(carrier: CarrierIn) -> Iterator[tuple[str, ValueIn]]:
    """Yield ``(key path within the carrier, parameter)`` for every parameter."""
    yield "submunitions_per_carrier", carrier.submunitions_per_carrier
    for key in type(carrier.footprint).model_fields:
        value = getattr(carrier.footprint, key)
        if value is not None:
            yield f"footprint.{key}", value
    yield "carrier_count.mean", carrier.carrier_count.mean
    yield "carrier_count.dispersion", carrier.carrier_count.dispersion
    yield "volley.radius_m", carrier.volley.radius_m


def find_figure(doc: CatalogueIn, carrier_id: str, ref: str) -> tuple[FigureIn | None, bool]:
    """Return the figure ``ref`` names from ``carrier_id``, and whether it is borrowed.

    ``name`` is the carrier's own figure or else a generic one; ``other:name`` is a
    figure of carrier ``other`` (borrowed, by analogy).
    """
    if ":" in ref:
        other, name = ref.split(":", 1)
        carrier = doc.carriers.get(other)
        return (carrier.figures.get(name) if carrier else None), True
    own = doc.carriers[carrier_id].figures.get(ref)
    return (own if own is not None else doc.generic_figures.get(ref)), False


def check_references(doc: CatalogueIn) -> list[Problem]:
    """Return every cross-reference problem of a schema-valid file (empty if none)."""
    problems = list(_check_sources(doc))
    problems += list(_check_top_level(doc))
    for carrier_id in doc.carriers:
        problems += _check_carrier(doc, carrier_id)
    return problems


def value_of(doc: CatalogueIn, carrier_id: str, value: ValueIn) -> float:
    """Return the number a checked parameter stands for (its figure's, or its own)."""
    fig = find_figure(doc, carrier_id, value.figure)[0] if value.figure is not None else None
    number = fig.value if fig is not None else value.value
    if number is None:
        raise CatalogueError(f"carriers.{carrier_id}: no figure {value.figure!r}")
    return float(number)


def _source_uses(doc: CatalogueIn) -> Iterator[tuple[str, str]]:
    for name, fig in doc.generic_figures.items():
        yield f"generic_figures.{name}.source", fig.source
    for sid, sub in doc.submunitions.items():
        yield from ((f"submunitions.{sid}.sources.{i}", k) for i, k in enumerate(sub.sources))
    for cid, carrier in doc.carriers.items():
        for name, fig in carrier.figures.items():
            yield f"carriers.{cid}.figures.{name}.source", fig.source
        for where, value in _values(carrier):
            if value.source is not None:
                yield f"carriers.{cid}.{where}.source", value.source


def _check_sources(doc: CatalogueIn) -> Iterator[Problem]:
    for where, key in _source_uses(doc):
        if key not in doc.sources:
            yield where, f"unknown source key {key!r}: add it to [sources]"


def _check_top_level(doc: CatalogueIn) -> Iterator[Problem]:
    if UNKNOWN_CARRIER not in doc.carriers:
        yield "carriers", f"must include the carrier {UNKNOWN_CARRIER!r}"
    for cid, carrier in doc.carriers.items():
        for name in carrier.figures:
            if name in doc.generic_figures or ":" in name:
                yield (
                    f"carriers.{cid}.figures.{name}",
                    "name clashes with a generic figure or has ':'",
                )


def _check_carrier(doc: CatalogueIn, cid: str) -> list[Problem]:
    carrier, base = doc.carriers[cid], f"carriers.{cid}"
    problems = list(_check_submunition_ids(doc, carrier, base))
    for where, value in _values(carrier):
        problems += _check_value(doc, cid, f"{base}.{where}", value)
    problems += _check_failure_rate(doc, cid, carrier.failure_rate, f"{base}.failure_rate")
    if not problems:  # the numbers below need every reference resolved
        problems += _check_consistency(doc, cid)
    return problems


def _check_submunition_ids(doc: CatalogueIn, carrier: CarrierIn, base: str) -> Iterator[Problem]:
    allowed = set(doc.submunitions)
    if UNKNOWN_SUBMUNITION in doc.evidence_items:
        allowed.add(UNKNOWN_SUBMUNITION)
    for sid in carrier.submunitions:
        if sid not in allowed:
            yield f"{base}.submunitions.{sid}", f"no submunition {sid!r} in [submunitions]"
    for i, sid in enumerate(carrier.variant_submunitions):
        if sid not in doc.submunitions:
            yield f"{base}.variant_submunitions.{i}", f"no submunition {sid!r} in [submunitions]"


def _check_value(doc: CatalogueIn, cid: str, where: str, value: ValueIn) -> list[Problem]:
    key = where.rsplit(".", 1)[1]
    if value.figure is None:
        finite = value.value is not None and math.isfinite(value.value)
        return [] if finite or key == "dispersion" else [(where, "must be finite")]
    units = _VALUE_UNITS.get(key, ())
    if not units:
        return [(where, "must be a `value` with an `assumption`, not a figure")]
    return _check_figure_ref(doc, cid, where, value.figure, value.assumption, units)


def _check_figure_ref(
    doc: CatalogueIn, cid: str, where: str, ref: str, assumption: str | None, units: tuple[str, ...]
) -> list[Problem]:
    fig, borrowed = find_figure(doc, cid, ref)
    if fig is None:
        return [(where, f"no figure {ref!r} (own, generic_figures, or '<carrier>:<name>')")]
    if fig.unit not in units:
        return [(where, f"figure {ref!r} is in {fig.unit!r}; expected {' or '.join(units)}")]
    if borrowed and not assumption:
        return [(where, f"figure {ref!r} of another carrier needs an `assumption` (analogy)")]
    return []


def _check_failure_rate(
    doc: CatalogueIn, cid: str, rate: FailureRateIn, base: str
) -> list[Problem]:
    problems: list[Problem] = []
    for end, a in (("lower", rate.lower), ("upper", rate.upper)):
        where = f"{base}.{end}"
        problems += _check_figure_ref(doc, cid, where, a.figure, a.assumption, ("fraction",))
    if not problems:
        lo, hi = (find_figure(doc, cid, a.figure)[0] for a in (rate.lower, rate.upper))
        if lo is not None and hi is not None and not lo.value < hi.value:
            problems.append((f"{base}.lower", f"must be < upper ({lo.value:g} >= {hi.value:g})"))
    if not rate.lower.q < rate.upper.q:
        problems.append(
            (f"{base}.lower.q", f"must be < upper.q ({rate.lower.q:g} >= {rate.upper.q:g})")
        )
    return problems


def _check_consistency(doc: CatalogueIn, cid: str) -> list[Problem]:
    carrier, base = doc.carriers[cid], f"carriers.{cid}"
    total, listed = (
        value_of(doc, cid, carrier.submunitions_per_carrier),
        sum(carrier.submunitions.values()),
    )
    problems: list[Problem] = []
    if total != listed:
        problems.append(
            (
                f"{base}.submunitions",
                f"counts add up to {listed}, but submunitions_per_carrier is {total:g}",
            )
        )
    problems += _check_footprint_numbers(doc, cid, carrier.footprint, f"{base}.footprint")
    count = carrier.carrier_count
    if value_of(doc, cid, count.mean) < count.minimum:
        problems.append((f"{base}.carrier_count.mean", f"must be >= minimum ({count.minimum})"))
    return problems


def _check_footprint_numbers(
    doc: CatalogueIn, cid: str, fp: FootprintIn, base: str
) -> list[Problem]:
    def num(key: str) -> float:
        return value_of(doc, cid, getattr(fp, key))

    problems: list[Problem] = []
    if fp.form == "area" and num("aspect_ratio") < 1:
        problems.append((f"{base}.aspect_ratio", "must be >= 1 (length / width)"))
    if fp.form == "extremes":
        for axis in ("length_m", "width_m"):
            if not num(f"min_{axis}") < num(f"max_{axis}"):
                problems.append((f"{base}.min_{axis}", f"must be < max_{axis}"))
        if not num("coverage") < 1:
            problems.append((f"{base}.coverage", "must be < 1"))
    return problems


# --------------------------------------------------------------------------- build


def build_catalogue(doc: CatalogueIn) -> Catalogue:
    """Build the :class:`Catalogue` of a checked file, deriving every prior.

    Raises
    ------
    CatalogueError
        A prior cannot be derived, or two ids or aliases collide.
    """
    catalogue = Catalogue(
        carriers={cid: _carrier(doc, cid) for cid in doc.carriers},
        submunitions={sid: _submunition(sid, s) for sid, s in doc.submunitions.items()},
        evidence_items=tuple(doc.evidence_items),
        sources={k: Source(k, s.citation, s.url) for k, s in doc.sources.items()},
        version=doc.catalogue.version,
        evidence={
            k: EvidenceItem(k, e.name, tuple(e.aliases)) for k, e in doc.evidence_items.items()
        },
        generic_figures=tuple(_figure(n, f) for n, f in doc.generic_figures.items()),
    )
    catalogue._aliases.update(build_alias_index(catalogue))
    return catalogue


def _figure(name: str, fig: FigureIn) -> Figure:
    return Figure(
        name=name, value=float(fig.value), source=fig.source, note=fig.note, unit=fig.unit
    )


def _submunition(sid: str, sub: SubmunitionIn) -> Submunition:
    return Submunition(
        id=sid,
        name=sub.name,
        self_destruct=sub.self_destruct,
        aliases=tuple(sub.aliases),
        sources=tuple(sub.sources),
    )


def _carrier(doc: CatalogueIn, cid: str) -> Carrier:
    c = doc.carriers[cid]
    return Carrier(
        id=cid,
        name=c.name,
        kind=c.kind,
        submunitions=dict(c.submunitions),
        submunitions_per_carrier=round(value_of(doc, cid, c.submunitions_per_carrier)),
        failure_rate=_beta_prior(doc, cid, c.failure_rate),
        footprint=_footprint(doc, cid, c.footprint),
        carrier_count=_count_prior(doc, cid, c.carrier_count),
        volley_spread_m=priors.sigma_from_radius(value_of(doc, cid, c.volley.radius_m)),
        figures=tuple(_figure(n, f) for n, f in c.figures.items()),
        aliases=tuple(c.aliases),
        assumptions=_assumptions(c),
        hints=tuple(c.hints),
        variant_submunitions=tuple(c.variant_submunitions),
    )


def _anchor(doc: CatalogueIn, cid: str, anchor: AnchorIn) -> Figure:
    fig, _ = find_figure(doc, cid, anchor.figure)
    if fig is None:
        raise CatalogueError(f"carriers.{cid}.failure_rate: no figure {anchor.figure!r}")
    return _figure(anchor.figure, fig)


def _beta_prior(doc: CatalogueIn, cid: str, rate: FailureRateIn) -> BetaPrior:
    lo, hi = _anchor(doc, cid, rate.lower), _anchor(doc, cid, rate.upper)
    q_lo, q_hi = rate.lower.q, rate.upper.q
    try:
        alpha, beta = priors.beta_from_quantiles(lo.value, hi.value, q_lo, q_hi)
    except ValueError as exc:
        raise CatalogueError(f"carriers.{cid}.failure_rate: {exc}") from exc
    return BetaPrior(
        alpha=alpha,
        beta=beta,
        method=f"beta_from_quantiles: {q_lo:.0%} at {lo.name}, {q_hi:.0%} at {hi.name}",
        anchors=(lo, hi),
        assumption=_join(rate.assumption, rate.lower.assumption, rate.upper.assumption),
        quantiles=(q_lo, q_hi),
        rationale=rate.rationale,
    )


def _footprint_axes(num: Callable[[str], float]) -> tuple[float, float, float]:
    return num("length_m"), num("width_m"), num("log_sd")


def _footprint_area(num: Callable[[str], float]) -> tuple[float, float, float]:
    length, width = priors.ellipse_from_area(num("area_m2"), num("aspect_ratio"))
    return length, width, num("log_sd")


def _footprint_extremes(num: Callable[[str], float]) -> tuple[float, float, float]:
    smallest = num("min_length_m"), num("min_width_m")
    largest = num("max_length_m"), num("max_width_m")
    return priors.footprint_from_extremes(smallest, largest, num("coverage"))


_FOOTPRINT_BUILDERS: dict[str, Callable[[Callable[[str], float]], tuple[float, float, float]]] = {
    "axes": _footprint_axes,
    "area": _footprint_area,
    "extremes": _footprint_extremes,
}


def _footprint(doc: CatalogueIn, cid: str, fp: FootprintIn) -> Footprint:
    def num(key: str) -> float:
        return value_of(doc, cid, getattr(fp, key))

    length, width, log_sd = _FOOTPRINT_BUILDERS[fp.form](num)
    given = [(k, getattr(fp, k)) for k in _FOOTPRINT_FORMS[fp.form]]
    sources = [_source_of(doc, cid, v) for _, v in given]
    return Footprint(
        length_m=length,
        width_m=width,
        log_sd=log_sd,
        source=next((s for s in sources if s), ""),
        assumption=_join(*(f"{k}: {v.assumption}" for k, v in given if v.assumption)),
    )


def _count_prior(doc: CatalogueIn, cid: str, count: CountIn) -> CountPrior:
    return CountPrior(
        mean=value_of(doc, cid, count.mean),
        minimum=count.minimum,
        dispersion=value_of(doc, cid, count.dispersion),
        source=_source_of(doc, cid, count.mean),
        assumption=_join(
            *(
                f"{k}: {v.assumption}"
                for k, v in (("mean", count.mean), ("dispersion", count.dispersion))
                if v.assumption
            )
        ),
    )


def _source_of(doc: CatalogueIn, cid: str, value: ValueIn) -> str:
    if value.figure is None:
        return value.source or ""
    fig, _ = find_figure(doc, cid, value.figure)
    return fig.source if fig is not None else ""


def _assumptions(carrier: CarrierIn) -> tuple[str, ...]:
    rate = carrier.failure_rate
    found = list(carrier.assumptions)
    found += [f"{where}: {v.assumption}" for where, v in _values(carrier) if v.assumption]
    found += [
        f"failure_rate.{end}: {a.assumption}"
        for end, a in (("lower", rate.lower), ("upper", rate.upper))
        if a.assumption
    ]
    if rate.assumption:
        found.append(f"failure_rate: {rate.assumption}")
    return tuple(found)


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)
