"""State files: a tree of dataclasses and arrays written to one file and read back unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from remnant.errors import FormatError
from remnant.hazard.grid import Grid
from remnant.hazard.tiles import Csr
from remnant.io.arrays import ALIGN, FORMAT, MAGIC, read_arrays, write_arrays


@dataclass(frozen=True)
class _Foreign:
    values: np.ndarray


def _tree() -> dict:
    return {
        "csr": Csr(np.array([0, 2, 2, 3]), np.array([4, 1, 7])),
        "grid": Grid(crs="EPSG:32637", x0=1.5, y0=-2.0, cell=25.0, nx=7, ny=3),
        "names": np.array(["S-1", "Überfall", ""], dtype=object),
        "parts": (np.linspace(0.0, 1.0, 5), [np.float32(2.5), "x"], True),
        "empty": np.zeros((0, 3)),
        "missing": None,
        "scale": float("nan"),
    }


def test_a_tree_reads_back_equal(tmp_path: Path) -> None:
    tree = _tree()
    back = read_arrays(write_arrays(tree, tmp_path / "state.arrays"))
    assert type(back["csr"]) is Csr
    np.testing.assert_array_equal(back["csr"].index, [4, 1, 7])
    assert back["csr"].offsets.dtype == tree["csr"].offsets.dtype
    assert back["grid"] == tree["grid"]
    assert back["names"].dtype == object and back["names"].tolist() == ["S-1", "Überfall", ""]
    np.testing.assert_array_equal(back["parts"][0], tree["parts"][0])
    assert isinstance(back["parts"], tuple) and isinstance(back["parts"][1], list)
    assert back["parts"][1] == [2.5, "x"] and back["parts"][2] is True
    assert back["empty"].shape == (0, 3)
    assert back["missing"] is None and np.isnan(back["scale"])


def test_arrays_are_read_as_views_of_the_file_not_decoded(tmp_path: Path) -> None:
    """Every array but strings comes back as a view of the mapped file, with its
    dtype, whatever its values (an update reads a gigabyte so, in no time)."""
    rng = np.random.default_rng(5)
    n = 300_000
    points = np.sort(rng.integers(0, 20_000, n))
    tree = {"points": points, "strikes": rng.integers(0, 80_000, n).astype(np.int32),
            "unsigned": points.astype(np.uint64), "weights": rng.random(n),
            "names": np.array(["a", "bc"], dtype=object)}  # fmt: skip
    path = write_arrays(tree, tmp_path / "state.arrays")
    back = read_arrays(path)
    for name, values in tree.items():
        assert back[name].dtype == values.dtype, name
        np.testing.assert_array_equal(back[name], values)
        assert back[name].flags.owndata == (name == "names"), name
    data = sum(a.nbytes for name, a in tree.items() if name != "names")
    assert data < path.stat().st_size < data + 4096


def test_an_array_held_twice_is_stored_once_and_read_back_as_one(tmp_path: Path) -> None:
    """A state holds the same grid sums in several places: one copy in the file, and
    after reading one array again (a change to it shows in both places, as before)."""
    rng = np.random.default_rng(6)
    weights, points = rng.random(100_000), np.sort(rng.integers(0, 5_000, 100_000))
    once = write_arrays({"a": weights, "p": points}, tmp_path / "once.arrays").stat().st_size
    twice = {"a": weights, "b": weights, "p": points, "q": [points], "c": weights.copy()}
    path = write_arrays(twice, tmp_path / "twice.arrays")
    assert path.stat().st_size < once + weights.nbytes + 4096  # a and b one member, c its own
    back = read_arrays(path)
    assert back["a"] is back["b"] and back["p"] is back["q"][0] and back["c"] is not back["a"]
    np.testing.assert_array_equal(back["c"], weights)
    np.testing.assert_array_equal(back["q"][0], points)
    back["a"][0] = -1.0
    assert back["b"][0] == -1.0 and back["c"][0] == weights[0]


def test_a_class_outside_remnant_is_refused(tmp_path: Path) -> None:
    path = write_arrays({"x": _Foreign(np.zeros(2))}, tmp_path / "state.arrays")
    with pytest.raises(FormatError, match="not Remnant's"):
        read_arrays(path)


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, __manifest__=np.array(json.dumps({"format": 2, "tree": None})))
    with pytest.raises(FormatError, match="not a Remnant state file"):
        read_arrays(path)
    manifest = json.dumps({"format": 99, "tree": None, "arrays": {}}).encode()
    path.write_bytes(MAGIC + len(manifest).to_bytes(8, "little") + manifest)
    with pytest.raises(FormatError, match="format 99"):
        read_arrays(path)
    path.write_bytes(MAGIC + (5).to_bytes(8, "little") + b"{not")
    with pytest.raises(FormatError, match="manifest is damaged"):
        read_arrays(path)
    objects = {"$array": "a0", "strings": False}
    members = {"a0": {"dtype": "|O", "shape": [2], "at": 0}}
    manifest = json.dumps({"format": FORMAT, "tree": objects, "arrays": members}).encode()
    path.write_bytes(MAGIC + len(manifest).to_bytes(8, "little") + manifest + bytes(80))
    with pytest.raises(FormatError, match="holds Python objects"):
        read_arrays(path)


def test_a_cut_file_is_refused(tmp_path: Path) -> None:
    path = write_arrays({"x": np.arange(1000.0)}, tmp_path / "state.arrays")
    whole = path.read_bytes()
    path.write_bytes(whole[:-8])
    with pytest.raises(FormatError, match="its manifest says"):
        read_arrays(path)


def test_arrays_are_aligned_and_changing_them_leaves_the_file(tmp_path: Path) -> None:
    tree = {
        "a": np.arange(3, dtype=np.int8),
        "b": np.arange(5.0),
        "c": np.ones((2, 3), ">f4"),
        "d": np.array(7, dtype=np.int16),
        "e": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    path = write_arrays(tree, tmp_path / "state.arrays")
    before = path.read_bytes()
    back = read_arrays(path)
    for name, a in tree.items():
        got = back[name]
        assert type(got) is np.ndarray and got.dtype == a.dtype
        np.testing.assert_array_equal(got, a)
        assert got.ctypes.data % ALIGN == 0
    back["b"][:] = -1.0  # copy-on-write: the file stays as written
    assert path.read_bytes() == before
    np.testing.assert_array_equal(read_arrays(path)["b"], tree["b"])


def test_object_arrays_other_than_strings_are_not_stored(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_arrays({"bad": object()}, tmp_path / "state.arrays")
