"""Summary tables (remnant.io.summary): the bytes pandas writes, written faster."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remnant.io.summary import _cells, read_summary_csv, write_summary_csv


def _pandas_bytes(frame: pd.DataFrame, path: Path, digits: int = 6) -> bytes:
    frame.to_csv(path, index=False, float_format=f"%.{digits}g", encoding="utf-8")
    return path.read_bytes()


def _same_as_pandas(frame: pd.DataFrame, tmp_path: Path, digits: int = 6) -> None:
    ours = write_summary_csv(frame, tmp_path / "ours.csv", digits=digits).read_bytes()
    assert ours == _pandas_bytes(frame, tmp_path / "pandas.csv", digits)


EDGES = pd.DataFrame(
    {
        "strike_id": ["STR-1", "a,b", 'say "x"', "", None, "é ñ", "two\nlines"],
        "x": [1.5, np.nan, np.inf, -np.inf, 1e-300, 123456789.0, -0.0],
        "small": np.array([0.1, 2.5e-7, 3.0, 1e20, 0.0, -1.25, 7.0], dtype=np.float32),
        "pseudo": [True, False, True, False, True, False, True],
        "found": [0, 1, -2, 3, 2**40, 5, 6],
        "cells": np.arange(7, dtype=np.uint16),
    }
)


@pytest.mark.parametrize("digits", [6, 3, 12])
def test_the_edges_are_written_as_pandas_writes_them(tmp_path: Path, digits: int) -> None:
    assert all(_cells(EDGES[c], digits) is not None for c in EDGES.columns)  # the fast path
    _same_as_pandas(EDGES, tmp_path, digits)


def test_text_columns_of_pandas_own_string_type_take_the_fast_path(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": pd.array(["A", None, "B,C"], dtype="string"), "v": [1.0, 2, 3]})
    assert _cells(frame["id"], 6) == ["A", "", "B,C"]
    _same_as_pandas(frame, tmp_path)


@pytest.mark.parametrize(
    "column",
    [
        pd.to_datetime(["2024-01-02", None, "2025-06-30"]),
        pd.Categorical(["a", "b", "a"]),
        pd.array([1, None, 3], dtype="Int64"),
        pd.array([True, None, False], dtype="boolean"),
        np.array(["text", 1.5, None], dtype=object),  # text mixed with numbers
    ],
    ids=["dates", "categories", "nullable ints", "nullable booleans", "mixed"],
)
def test_other_kinds_of_column_are_left_to_pandas(tmp_path: Path, column: object) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "other": column, "x": [0.5, np.nan, 2.0]})
    assert _cells(frame["other"], 6) is None
    _same_as_pandas(frame, tmp_path)


def test_empty_tables_and_lone_empty_fields(tmp_path: Path) -> None:
    _same_as_pandas(EDGES.iloc[:0], tmp_path)  # the header alone
    _same_as_pandas(pd.DataFrame({"note": ["", "x", None]}), tmp_path)  # a lone "" is quoted
    _same_as_pandas(pd.DataFrame(), tmp_path)


def test_what_is_written_reads_back(tmp_path: Path) -> None:
    back = read_summary_csv(write_summary_csv(EDGES, tmp_path / "t.csv", digits=17))
    np.testing.assert_array_equal(back["x"].to_numpy(), EDGES["x"].to_numpy())
    assert back["found"].tolist() == EDGES["found"].tolist()
    assert back["pseudo"].tolist() == EDGES["pseudo"].tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
            st.integers(min_value=-(2**62), max_value=2**62),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=17),
)
def test_any_table_of_these_kinds_is_written_as_pandas_writes_it(rows, digits) -> None:
    frame = pd.DataFrame(rows, columns=["x", "name", "n", "flag"]).astype(
        {"x": float, "n": np.int64, "flag": bool}
    )
    with tempfile.TemporaryDirectory() as tmp:
        _same_as_pandas(frame, Path(tmp), digits)
