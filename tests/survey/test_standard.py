"""The national standard: read, checked, every value sourced."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from remnant.errors import StandardError
from remnant.survey.standard import DEFAULT_PATH, load_standard


def test_default_standard_states_every_value_as_an_assumption():
    standard = load_standard()
    rules = [standard.hazard_areas, standard.release, standard.quality_control]
    values = [getattr(r, name) for r in rules for name in r.__dataclass_fields__]
    assert len(values) == 10
    assert all(v.source.startswith("ASSUMPTION: ") and len(v.source) > 40 for v in values)
    assert standard.hazard_areas.fade_out_m.value == 50.0
    assert standard.release.tolerable_p_any.value == 0.05


def test_a_yaml_standard_reads_as_its_toml(tmp_path):
    data = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["hazard_areas"]["fade_out_m"] = {"value": 100.0, "source": "NMAS 08.20 §5.3"}
    path = tmp_path / "nmas.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    standard = load_standard(path)
    assert standard.hazard_areas.fade_out_m.value == 100.0
    assert standard.hazard_areas.fade_out_m.source == "NMAS 08.20 §5.3"
    assert standard.quality_control == load_standard().quality_control
    assert standard.path == str(path)


def _write(tmp_path, edit) -> str:
    data = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "nmas.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def test_every_problem_is_reported_with_its_key_path(tmp_path):
    def edit(data):
        del data["hazard_areas"]["merge_m"]["assumption"]  # unsourced
        data["release"]["tolerable_p_any"]["value"] = 1.5  # not a fraction
        data["quality_control"]["colour"] = {"value": 1.0, "source": "x"}  # unknown key

    with pytest.raises(StandardError) as caught:
        load_standard(_write(tmp_path, edit))
    text = str(caught.value)
    assert "nmas.yaml: 3 problem(s)" in text
    assert "hazard_areas.merge_m: Value error, give exactly one of `source` or `assumption`" in text
    assert "quality_control.colour: Extra inputs are not permitted" in text
    assert "release.tolerable_p_any.value: must be (0, 1), got 1.5" in text


def test_values_out_of_range_name_the_parameter(tmp_path):
    def edit(data):
        data["release"]["tolerable_p_any"]["value"] = 1.5
        data["hazard_areas"]["fade_out_m"]["value"] = 0

    with pytest.raises(StandardError) as caught:
        load_standard(_write(tmp_path, edit))
    assert "release.tolerable_p_any.value: must be (0, 1), got 1.5" in str(caught.value)
    assert "hazard_areas.fade_out_m.value: must be > 0, got 0" in str(caught.value)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(StandardError, match="cannot be read"):
        load_standard(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[hazard_areas\n", encoding="utf-8")
    with pytest.raises(StandardError, match=r"bad\.toml: not valid TOML"):
        load_standard(bad)
