"""Loading the catalogue: schema errors name the file and key path; id lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from remnant.catalogue import (
    DEFAULT_PATH,
    Carrier,
    Catalogue,
    Submunition,
    load_catalogue,
    normalise_id,
)
from remnant.errors import CatalogueError

PACKAGED = DEFAULT_PATH.read_text(encoding="utf-8")


def _broken(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """Write the packaged catalogue with each ``(old, new)`` edit applied once."""
    text = PACKAGED
    for old, new in edits:
        assert text.count(old) == 1, f"edit target not unique: {old!r}"
        text = text.replace(old, new)
    path = tmp_path / "munitions.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert str(path) in message  # names the file
    return message


# ---------------------------------------------------------------- loading


def test_default_is_cached():
    assert load_catalogue() is load_catalogue()


def test_explicit_path_loads_the_same_content():
    again = load_catalogue(DEFAULT_PATH)
    assert again is not load_catalogue()
    assert again == load_catalogue()


def test_packaged_file_round_trips_unchanged(tmp_path):
    assert load_catalogue(_broken(tmp_path)) == load_catalogue()


def test_missing_file(tmp_path):
    assert "cannot read" in _error(tmp_path / "nowhere.toml")


def test_not_toml(tmp_path):
    path = tmp_path / "munitions.toml"
    path.write_text("[carriers\n", encoding="utf-8")
    assert "not valid TOML" in _error(path)


# ---------------------------------------------------------------- one test per kind of error


def test_unknown_source_key(tmp_path):
    path = _broken(
        tmp_path,
        (
            'value = 202\nunit = "count"\nsource = "bbc2003"',
            'value = 202\nunit = "count"\nsource = "bbc2004"',
        ),
    )
    message = _error(path)
    assert "carriers.CBU-87.figures.submunitions.source" in message
    assert "bbc2004" in message


def test_negative_count(tmp_path):
    path = _broken(tmp_path, ("submunitions = { M77 = 644 }", "submunitions = { M77 = -644 }"))
    assert "carriers.M26.submunitions.M77: Input should be greater than 0" in _error(path)


def test_lower_above_upper(tmp_path):
    path = _broken(
        tmp_path,
        (
            'lower = { figure = "failure_rate_test_2020"',
            'lower = { figure = "failure_rate_grenades_known"',
        ),
        (
            'upper = { figure = "failure_rate_grenades_known"',
            'upper = { figure = "failure_rate_test_2020"',
        ),
    )
    message = _error(path)
    assert "munitions.toml: carriers.M864.failure_rate.lower: must be < upper" in message


def test_quantile_levels_out_of_order(tmp_path):
    path = _broken(tmp_path, ('"failure_rate_usaf", q = 0.05', '"failure_rate_usaf", q = 0.97'))
    assert "carriers.CBU-87.failure_rate.lower.q: must be < upper.q" in _error(path)


def test_missing_submunition(tmp_path):
    path = _broken(tmp_path, ("submunitions = { BLU-97 = 202 }", "submunitions = { BLU-98 = 202 }"))
    assert "carriers.CBU-87.submunitions.BLU-98: no submunition 'BLU-98'" in _error(path)


def test_extra_key(tmp_path):
    path = _broken(
        tmp_path,
        (
            'kind = "rocket"\naliases = ["M26 MLRS"',
            'kind = "rocket"\ncalibre_mm = 227\naliases = ["M26 MLRS"',
        ),
    )
    assert "carriers.M26.calibre_mm: Extra inputs are not permitted" in _error(path)


def test_rate_not_a_fraction(tmp_path):
    path = _broken(tmp_path, ("value = 0.14\n", "value = 1.4\n"))
    assert "carriers.M864.figures.failure_rate_grenades_known: a fraction must be < 1" in _error(
        path
    )


def test_wrong_type(tmp_path):
    path = _broken(tmp_path, ("value = 644\n", 'value = "644"\n'))
    assert "carriers.M26.figures.submunitions.value: Input should be a valid number" in _error(path)


def test_missing_figure(tmp_path):
    path = _broken(
        tmp_path, ('mean = { figure = "volley_rockets" }', 'mean = { figure = "volley_rocket" }')
    )
    assert "carriers.M26.carrier_count.mean: no figure 'volley_rocket'" in _error(path)


def test_figure_of_wrong_unit(tmp_path):
    path = _broken(
        tmp_path,
        ('radius_m = { figure = "volley_radius" }', 'radius_m = { figure = "volley_rockets" }'),
    )
    assert "carriers.M26.volley.radius_m: figure 'volley_rockets' is in 'count'" in _error(path)


def test_value_without_assumption(tmp_path):
    old = "radius_m = { value = 300, assumption = \"A battery's rounds"
    path = _broken(tmp_path, (old, 'radius_m = { value = 300 }\nx = { assumption = "'))
    message = _error(path)
    assert "carriers.M864.volley.radius_m: a `value` needs an `assumption`" in message


def test_borrowed_figure_needs_an_assumption(tmp_path):
    old = ', q = 0.95, assumption = "Same grenades as the M864." }'
    path = _broken(tmp_path, (old, ", q = 0.95 }"))
    message = _error(path)
    assert (
        "carriers.M483A1.failure_rate.upper: figure 'M864:failure_rate_grenades_known'" in message
    )
    assert "of another carrier needs an `assumption`" in message


def test_footprint_in_two_forms(tmp_path):
    path = _broken(
        tmp_path,
        (
            'length_m = { figure = "footprint_length" }',
            'length_m = { figure = "footprint_length" }\narea_m2 = { figure = "footprint_length" }',
        ),
    )
    assert "carriers.M26.footprint: give exactly" in _error(path)


def test_counts_must_add_up(tmp_path):
    path = _broken(
        tmp_path, ("submunitions = { M42 = 48, M46 = 24 }", "submunitions = { M42 = 48, M46 = 25 }")
    )
    assert (
        "carriers.M864.submunitions: counts add up to 73, but submunitions_per_carrier is 72"
        in _error(path)
    )


def test_unknown_carrier_is_required(tmp_path):
    path = _broken(
        tmp_path,
        ("[carriers.unknown]\n", "[carriers.unknown_type]\n"),
        *[
            (f"[carriers.unknown.{t}]", f"[carriers.unknown_type.{t}]")
            for t in ("failure_rate", "footprint", "carrier_count", "volley")
        ],
    )
    assert "carriers: must include the carrier 'unknown'" in _error(path)


def test_every_problem_is_reported(tmp_path):
    path = _broken(
        tmp_path,
        ("submunitions = { M77 = 644 }", "submunitions = { M77 = 0 }"),
        ("submunitions = { BLU-97 = 202 }", "submunitions = { BLU-97 = 202.5 }"),
    )
    message = _error(path)
    assert "carriers.M26.submunitions.M77" in message
    assert "carriers.CBU-87.submunitions.BLU-97" in message


def test_alias_collision(tmp_path):
    path = _broken(tmp_path, ('aliases = ["M483"]', 'aliases = ["M483", "m-864"]'))
    message = _error(path)
    assert "'m-864'" in message and "'M864'" in message


def test_hint_must_not_resolve(tmp_path):
    path = _broken(tmp_path, ('hints = ["MLRS"]', 'hints = ["MLRS", "M-26"]'))
    assert "is also a carrier name" in _error(path)


# ---------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m-864", "M864"),
        ("M 864", "M864"),
        (" m864 ", "M864"),
        ("M483", "M483A1"),
        ("CBU-24/26", "CBU-26"),
        ("cbu 87/b", "CBU-87"),
        ("rbk500_shoab", "RBK-500-ShOAB"),
        ("9М55К", "9M55K"),  # Cyrillic М and К
        ("РБК-500 ШОАБ-0,5", "RBK-500-ShOAB"),
        ("Unknown", "unknown"),
        ("Smerch", None),  # a hint: Smerch also fires other payloads
        ("M864X", None),
    ],
)
def test_resolve_carrier(catalogue, value, expected):
    assert catalogue.resolve(value, "carrier") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m42", "M42"),
        ("9n235", "9N235"),
        ("9Н210", "9N210"),  # Cyrillic Н
        ("ShOAB 0,5", "ShOAB-0.5"),
        ("blu97", "BLU-97"),
        ("Fragment", "fragments"),
        ("strike marks", "strike_marks"),
        ("unknown", "unknown_submunition"),
        ("M864", None),  # a carrier is not an item
    ],
)
def test_resolve_item(catalogue, value, expected):
    assert catalogue.resolve(value, "item") == expected


def test_resolve_rejects_unknown_kind(catalogue):
    with pytest.raises(ValueError, match="kind"):
        catalogue.resolve("M864", "strike")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("M846", "carrier", "M864"),
        ("Smerch", "carrier", "9M55K"),
        ("Uragan", "carrier", "9M27K"),
        ("RBK-500", "carrier", "RBK-500-ShOAB"),
        ("CBU87", "carrier", "CBU-87"),
        ("M43", "item", "M46"),
        ("fragmets", "item", "fragments"),
        ("zzzz", "carrier", None),
    ],
)
def test_suggest(catalogue, value, kind, expected):
    assert catalogue.suggest(value, kind) == expected


def test_carrier_lookup(catalogue):
    assert isinstance(catalogue.carrier("M864"), Carrier)
    assert catalogue.carrier("m-864") is catalogue.carriers["M864"]


def test_carrier_lookup_suggests(catalogue):
    with pytest.raises(CatalogueError, match="unknown carrier 'M846'; did you mean 'M864'"):
        catalogue.carrier("M846")


def test_carrier_lookup_lists_ids_without_a_suggestion(catalogue):
    with pytest.raises(CatalogueError, match="valid ids: M864, M483A1"):
        catalogue.carrier("zzzz")


def test_submunition_lookup(catalogue):
    assert isinstance(catalogue.submunition("m77"), Submunition)
    with pytest.raises(CatalogueError, match="unknown submunition 'M43'; did you mean 'M46'"):
        catalogue.submunition("M43")


def test_evidence_item_is_not_a_submunition(catalogue):
    assert "fragments" in catalogue.item_ids
    with pytest.raises(CatalogueError, match="unknown submunition 'fragments'"):
        catalogue.submunition("fragments")


def test_lookups_on_a_catalogue_built_by_hand(catalogue):
    # Other rooms may build a Catalogue without the loader: the index is built lazily.
    small = Catalogue(
        carriers={"M26": catalogue.carriers["M26"]},
        submunitions={"M77": catalogue.submunitions["M77"]},
        evidence_items=("fragments",),
        sources=catalogue.sources,
    )
    assert small.resolve("m 26", "carrier") == "M26"
    assert small.resolve("FRAGMENTS", "item") == "fragments"
    assert small.suggest("M62", "carrier") == "M26"


def test_normalise_id():
    assert normalise_id("M-864") == normalise_id("m 864") == normalise_id("м864") == "m864"
    assert normalise_id("ШОАБ-0,5") == "shoab0.5"
