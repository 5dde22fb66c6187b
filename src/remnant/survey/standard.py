"""The national standard for survey and land release: its parameters, each with its source.

IMAS 07.11 (land release) and IMAS 07.14 (risk management) leave to each national mine
action authority the numbers that decide when land is hazardous and when it may be
released: the tolerable residual risk, the fade-out distance around direct evidence,
the quality-control sampling. Remnant reads them from a file — TOML or YAML, one
``[section.parameter]`` table per number with its ``value`` and the ``source`` it comes
from (the national clause) or the ``assumption`` under which it is used — checked on
load, every problem reported with its key path. ``standard.toml`` beside this module
is the default, every value an assumption stated as such (docs/survey.md).

References
----------
.. [1] IMAS 07.11 *Land release*, IMAS 07.14 *Risk management in mine action*,
   https://www.mineactionstandards.org/
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from remnant.errors import StandardError

DEFAULT_PATH = Path(__file__).with_name("standard.toml")
"""The default standard shipped with Remnant: assumptions for a programme without its own."""


@dataclass(frozen=True)
class Sourced:
    """One number of the standard and where it comes from.

    Parameters
    ----------
    value : float
        The number (unit in the parameter's name: ``_m``, ``_m2``; else a fraction).
    source : str
        The clause it comes from, or ``ASSUMPTION: …`` saying why it is used.
    """

    value: float
    source: str


@dataclass(frozen=True)
class HazardAreaRules:
    """How hazard areas are drawn from the estimate (:mod:`.delineation`).

    Parameters
    ----------
    block_m : Sourced
        Side of the square blocks in which land is judged hazardous. [m]
    p_any_threshold : Sourced
        Blocks that may hold an item with at least this probability are hazardous. [-]
    fade_out_m : Sourced
        Distance around direct evidence always inside a confirmed area. [m]
    merge_m : Sourced
        Pieces closer than this are merged. [m]
    simplify_m : Sourced
        Tolerance of the boundary's simplification. [m]
    min_area_m2 : Sourced
        Smallest area kept without direct evidence. [m²]
    """

    block_m: Sourced
    p_any_threshold: Sourced
    fade_out_m: Sourced
    merge_m: Sourced
    simplify_m: Sourced
    min_area_m2: Sourced


@dataclass(frozen=True)
class ReleaseRules:
    """When land may be released.

    Parameters
    ----------
    tolerable_p_any : Sourced
        Largest probability that any item remains in released land. [-]
    """

    tolerable_p_any: Sourced


@dataclass(frozen=True)
class QualityControlRules:
    """Compliance sampling of cleared land (:mod:`.compliance`).

    Parameters
    ----------
    confidence, acceptable : Sourced
        ``X`` and ``Y`` of the accept-on-zero design. [-]
    unit_area_m2 : Sourced
        Area of one inspection unit. [m²]
    """

    confidence: Sourced
    acceptable: Sourced
    unit_area_m2: Sourced


@dataclass(frozen=True)
class NationalStandard:
    """The numbers of a national standard that Remnant's survey work uses.

    Parameters
    ----------
    hazard_areas : HazardAreaRules
    release : ReleaseRules
    quality_control : QualityControlRules
    path : str
        The file it was read from.
    """

    hazard_areas: HazardAreaRules
    release: ReleaseRules
    quality_control: QualityControlRules
    path: str


# --------------------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ValueIn(_Model):
    """``[section.parameter]``: a value and its source or the assumption behind it."""

    value: float
    source: Annotated[str, Field(min_length=1)] | None = None
    assumption: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _sourced(self) -> _ValueIn:
        if (self.source is None) == (self.assumption is None):
            raise ValueError("give exactly one of `source` or `assumption`")
        return self

    def sourced(self) -> Sourced:
        text = self.source if self.source is not None else f"ASSUMPTION: {self.assumption}"
        return Sourced(float(self.value), " ".join(text.split()))


class _HazardAreasIn(_Model):
    block_m: _ValueIn
    p_any_threshold: _ValueIn
    fade_out_m: _ValueIn
    merge_m: _ValueIn
    simplify_m: _ValueIn
    min_area_m2: _ValueIn


class _ReleaseIn(_Model):
    tolerable_p_any: _ValueIn


class _QualityControlIn(_Model):
    confidence: _ValueIn
    acceptable: _ValueIn
    unit_area_m2: _ValueIn


class _StandardIn(_Model):
    hazard_areas: _HazardAreasIn
    release: _ReleaseIn
    quality_control: _QualityControlIn


_FRACTIONS = {
    ("hazard_areas", "p_any_threshold"): (0.0, 1.0),
    ("release", "tolerable_p_any"): (0.0, 1.0),
    ("quality_control", "confidence"): (0.0, 1.0),
    ("quality_control", "acceptable"): (0.0, 1.0),
}
"""Parameters that are fractions, open at both ends; every other one is a positive size."""


# --------------------------------------------------------------------------- loading


def load_standard(path: str | Path | None = None) -> NationalStandard:
    """Read and check a national standard (TOML, or YAML by its suffix); the default without.

    Raises
    ------
    StandardError
        The file cannot be read, or a value is missing, unknown, unsourced or out of
        range; every problem is listed with its key path.
    """
    file = Path(path) if path is not None else DEFAULT_PATH
    raw = _read(file)
    problems = _out_of_range(raw)
    try:
        checked = _StandardIn.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()] + problems
    if problems:
        raise StandardError(_message(file, problems))
    return _build(checked, str(file))


def _read(file: Path) -> dict[str, Any]:
    """The file's tables, by its suffix."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise StandardError(f"{file}: cannot be read ({exc.strerror})") from None
    if file.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StandardError(f"{file}: not valid YAML ({exc})") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StandardError(f"{file}: not valid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise StandardError(f"{file}: expected tables of parameters at the top level")
    return data


def _out_of_range(raw: dict[str, Any]) -> list[str]:
    """Fractions outside (0, 1) and sizes not above 0, each with its key path.

    Read from the file's tables as they are, so that they are reported together with
    the problems of shape (a value of the wrong type is left to those).
    """
    problems = []
    for section, rules in raw.items():
        for name, entry in rules.items() if isinstance(rules, dict) else ():
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            low, high = _FRACTIONS.get((section, name), (0.0, float("inf")))
            if not low < value < high:
                shown = f"({low:g}, {high:g})" if high < float("inf") else f"> {low:g}"
                problems.append(f"{section}.{name}.value: must be {shown}, got {value:g}")
    return problems


def _message(file: Path, problems: list[str]) -> str:
    return f"{file}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems)


def _build(checked: _StandardIn, path: str) -> NationalStandard:
    def sourced(rules: _Model) -> dict[str, Sourced]:
        return {name: entry.sourced() for name, entry in rules}

    return NationalStandard(
        hazard_areas=HazardAreaRules(**sourced(checked.hazard_areas)),
        release=ReleaseRules(**sourced(checked.release)),
        quality_control=QualityControlRules(**sourced(checked.quality_control)),
        path=path,
    )
