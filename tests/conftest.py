"""Fixtures shared by the whole suite."""

from __future__ import annotations

from datetime import date

import pytest

from remnant.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture()
def today() -> date:
    """A fixed 'today', so that tests of future dates do not age."""
    return date(2025, 6, 30)
