"""The packaged munitions.toml against the published figures it cites.

Reference values come from /work/shared/reference/munitions.md; the source of each is
named beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from remnant.catalogue import Catalogue

CARRIERS = (
    "M864",
    "M483A1",
    "M26",
    "M395",
    "M396",
    "9M55K",
    "9M27K",
    "RBK-500-ShOAB",
    "CBU-87",
    "CBU-26",
    "unknown",
)
SUBMUNITIONS = ("M42", "M46", "M77", "M85", "9N235", "9N210", "ShOAB-0.5", "BLU-97", "BLU-26")
EVIDENCE = ("unknown_submunition", "fragments", "container", "strike_marks")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"


def test_every_reference_carrier_and_item_is_catalogued(catalogue: Catalogue):
    assert set(CARRIERS) <= set(catalogue.carrier_ids)
    assert set(SUBMUNITIONS) <= set(catalogue.submunitions)
    assert set(EVIDENCE) <= set(catalogue.evidence_items)


@pytest.mark.parametrize(
    ("carrier", "count"),
    [
        ("M864", 72),  # Washington Post, 2023-07-07
        ("M483A1", 88),  # 64 M42 + 24 M46, widely cited, not verified
        ("M26", 644),  # HRW, "Cluster munition Q&A: M26 rocket", 2006-08-18
        ("M395", 63),  # HRW, Flooding South Lebanon, 2008
        ("M396", 49),  # HRW, Flooding South Lebanon, 2008
        ("9M55K", 72),  # HRW, 2022-03-04
        ("9M27K", 30),  # HRW, 2023-07-06
        ("RBK-500-ShOAB", 565),  # Interregional Humanitarian Demining Centre, 2024-03-07
        ("CBU-87", 202),  # BBC 2003; HRW, Fatally Flawed, 2002
        ("CBU-26", 650),  # midpoint of "about 630-670" (weak sources)
    ],
)
def test_submunitions_per_carrier(catalogue: Catalogue, carrier, count):
    c = catalogue.carrier(carrier)
    assert c.submunitions_per_carrier == count
    assert sum(c.submunitions.values()) == count


def test_submunition_types(catalogue: Catalogue):
    # munitions.md, column "carrier (submunition)".
    assert dict(catalogue.carrier("M483A1").submunitions) == {"M42": 64, "M46": 24}
    assert set(catalogue.carrier("M864").submunitions) == {"M42", "M46"}
    assert dict(catalogue.carrier("M26").submunitions) == {"M77": 644}
    assert dict(catalogue.carrier("9M27K").submunitions) == {"9N210": 30}
    assert catalogue.carrier("9M27K").variant_submunitions == ("9N235",)  # HRW 2023
    assert set(catalogue.carrier("RBK-500-ShOAB").submunitions) == {"ShOAB-0.5"}
    assert catalogue.submunition("M85").self_destruct


@pytest.mark.parametrize("carrier", CARRIERS)
def test_prior_reproduces_its_anchor_figures(catalogue: Catalogue, carrier):
    prior = catalogue.carrier(carrier).failure_rate
    assert len(prior.anchors) == len(prior.quantiles) == 2
    for anchor, q in zip(prior.anchors, prior.quantiles, strict=True):
        assert prior.ppf(q) == pytest.approx(anchor.value, abs=1e-6), anchor.name


def _figure(catalogue: Catalogue, carrier: str, name: str) -> float:
    figures = {f.name: f.value for f in catalogue.carrier(carrier).figures}
    return figures[name]


@pytest.mark.parametrize(
    ("carrier", "figure", "value"),
    [
        ("M864", "failure_rate_test_2020", 0.0235),  # Pentagon, "no higher than 2.35 %"
        ("M864", "failure_rate_pentagon_estimate", 0.06),  # Washington Post 2023
        ("M864", "failure_rate_seed_article", 4 / 72),  # "at least four of the 72"
        ("M864", "failure_rate_grenades_known", 0.14),  # NYT 2023, "14 % or more"
        ("M26", "failure_rate_test_low", 0.05),  # HRW 2008: 5-23 % in tests
        ("M26", "failure_rate_test_high", 0.23),
        ("M395", "failure_rate_test_uk_2005", 0.023),  # NPA 2007 annex
        ("M395", "failure_rate_test_norway_2006", 0.0204),  # NPA 2007 annex
        ("RBK-500-ShOAB", "failure_rate_ihdc", 0.30),  # IHDC 2024: "about 30 %"
        ("CBU-87", "failure_rate_usaf", 0.05),  # HRW 2002
        ("CBU-87", "failure_rate_afghanistan_deminers", 0.22),  # HRW 2002
        ("CBU-87", "failure_rate_kosovo_unmacc", 0.07),  # HRW 2002
        ("CBU-26", "failure_rate_state_department", 0.33),  # "nearly one-third"
    ],
)
def test_published_figures_kept(catalogue: Catalogue, carrier, figure, value):
    assert _figure(catalogue, carrier, figure) == pytest.approx(value, abs=1e-4)


def test_m864_interval_holds_the_seed_article_and_the_6_percent(catalogue: Catalogue):
    lower, upper = catalogue.carrier("M864").failure_rate.interval(0.9)
    for name in ("failure_rate_seed_article", "failure_rate_pentagon_estimate"):
        assert lower < _figure(catalogue, "M864", name) < upper


@pytest.mark.parametrize(
    ("carrier", "figure"),
    [
        ("CBU-87", "failure_rate_kosovo_unmacc"),  # a field figure between the anchors
        ("CBU-26", "failure_rate_dod_high"),
        ("RBK-500-ShOAB", "failure_rate_us_officials_high"),
        ("9M55K", "failure_rate_us_officials_low"),
        ("M395", "failure_rate_test_uk_2005"),
    ],
)
def test_unanchored_figures_inside_the_90_percent_interval(catalogue: Catalogue, carrier, figure):
    lower, upper = catalogue.carrier(carrier).failure_rate.interval(0.9)
    assert lower <= _figure(catalogue, carrier, figure) <= upper


@pytest.mark.parametrize("carrier", CARRIERS)
def test_test_rates_are_lower_bounds(catalogue: Catalogue, carrier):
    # munitions.md: test-condition rates are lower bounds for field rates, so no test
    # rate may lie above the prior's 95th percentile, nor the lowest above its 5th.
    c = catalogue.carrier(carrier)
    tests = [f.value for f in c.figures if "test" in f.name and f.unit == "fraction"]
    if tests:
        assert min(tests) <= c.failure_rate.ppf(0.05) + 1e-9
        assert max(tests) < c.failure_rate.ppf(0.95)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_every_number_has_a_source_or_an_assumption(catalogue: Catalogue, carrier):
    c = catalogue.carrier(carrier)
    assert all(f.source in catalogue.sources for f in (*c.figures, *c.failure_rate.anchors))
    assert c.footprint.source or c.footprint.assumption
    assert c.carrier_count.source or c.carrier_count.assumption
    generic = {f.name for f in catalogue.generic_figures}
    borrowed = [a for a in c.failure_rate.anchors if ":" in a.name or a.name in generic]
    if borrowed:  # a prior resting on generic or another carrier's figures is flagged
        assert c.failure_rate.assumption


def test_every_source_is_cited_in_full(catalogue: Catalogue):
    for source in catalogue.sources.values():
        assert len(source.citation) > 20, source.key
        assert source.url is None or source.url.startswith("https://")


def test_m26_volley(catalogue: Catalogue):
    # HRW 2006: "a typical volley of six rockets ... over an area with a 1 km radius".
    m26 = catalogue.carrier("M26")
    assert m26.carrier_count.mean == 6
    assert m26.carrier_count.source == "hrw2006_m26"
    assert m26.volley_spread_m == 500.0  # 1 km read as the 2-sigma radius


def test_footprints(catalogue: Catalogue):
    # Washington Post 2023: M864 "approximately 22,500 square meters".
    assert catalogue.carrier("M864").footprint.area_m2 == pytest.approx(22_500)
    # HRW 2006: M26 "a 200 by 100 meter area".
    m26 = catalogue.carrier("M26").footprint
    assert (m26.length_m, m26.width_m) == (200.0, 100.0)
    # Mine Action Review: about 10,000 m² per cluster munition.
    assert catalogue.carrier("unknown").footprint.area_m2 == pytest.approx(10_000)
    # HRW 2002: CBU-87 ovals from 37 x 61 m to 123 x 244 m; the median lies between.
    cbu = catalogue.carrier("CBU-87").footprint
    assert 61 < cbu.length_m < 244 and 37 < cbu.width_m < 123


def test_unknown_carrier_prior(catalogue: Catalogue):
    # IMAS 09.11 planning range for cluster munitions, 30-50 %: median and 95th.
    prior = catalogue.carrier("unknown").failure_rate
    assert prior.ppf(0.5) == pytest.approx(0.30, abs=1e-6)
    assert prior.ppf(0.95) == pytest.approx(0.50, abs=1e-6)
    assert catalogue.carrier("unknown").submunitions == {"unknown_submunition": 72}


def test_docs_have_a_section_per_carrier(catalogue: Catalogue):
    text = DOCS.read_text(encoding="utf-8")
    for carrier in catalogue.carrier_ids:
        assert f"## {carrier}" in text, carrier
