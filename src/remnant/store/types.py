"""Column types whose storage differs by database: the one place for dialect differences.

:class:`Geometry` is a GeoPackageBinary blob declared with the geometry type name
(``POINT``, ``MULTIPOLYGON``) on SQLite, as GeoPackage requires; on PostgreSQL it maps
to ``geoalchemy2.Geometry`` (PostGIS), for the server store of a later issue.
Row-by-row binding and loading go through :meth:`Geometry.process_bind_param` and
:meth:`Geometry.process_result_value`; the bulk paths of the repository use
:func:`bulk_encode` and :func:`bulk_decode`, the vectorised equivalents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from remnant.errors import StoreError
from remnant.store import gpkg

SRID = gpkg.SRS_ID


class GeoPackageBlob(UserDefinedType[bytes]):
    """A BLOB column declared with its GeoPackage geometry type name."""

    cache_ok = True

    def __init__(self, geometry_type: str):
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw: Any) -> str:
        """Return the declared column type, e.g. ``POINT``."""
        return self.geometry_type


class Geometry(TypeDecorator[object]):
    """A geometry column of one type in EPSG:4326.

    Parameters
    ----------
    geometry_type : str
        GeoPackage / OGC geometry type name: ``POINT``, ``MULTIPOLYGON``, ...
    srid : int
        Spatial reference id of every value.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = SRID):
        super().__init__()
        self.geometry_type = geometry_type.upper()
        self.srid = srid

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Choose the storage type of ``dialect``."""
        if dialect.name == "postgresql":
            from geoalchemy2 import Geometry as PostGISGeometry

            return dialect.type_descriptor(PostGISGeometry(self.geometry_type, srid=self.srid))
        return dialect.type_descriptor(GeoPackageBlob(self.geometry_type))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Encode one shapely geometry; an already encoded blob passes unchanged."""
        if value is None or isinstance(value, bytes):
            return value
        return bulk_encode([value], dialect)[0]

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Decode one stored value to a shapely geometry."""
        if value is None:
            return None
        return bulk_decode([value], dialect)[0]

    def __repr__(self) -> str:
        return f"Geometry({self.geometry_type!r}, srid={self.srid})"


def bulk_encode(geometries: Sequence[object] | np.ndarray, dialect: Dialect) -> list[Any]:
    """Encode geometries for binding on ``dialect``, vectorised."""
    _require_sqlite(dialect)
    return gpkg.encode(geometries)


def bulk_decode(values: Sequence[Any], dialect: Dialect) -> np.ndarray:
    """Decode stored geometry values of ``dialect`` to shapely geometries, vectorised."""
    _require_sqlite(dialect)
    return gpkg.decode(values)


def same_geometry(old: bytes | None, new: bytes | None) -> bool:
    """Whether two stored GeoPackage values hold the same geometry, whatever the header."""
    if old is None or new is None:
        return old is new
    return old == new or gpkg.wkb_of(old) == gpkg.wkb_of(new)


def to_text(value: bytes | None) -> str | None:
    """A stored geometry as full-precision WKT, for the audit trail."""
    if value is None:
        return None
    return str(shapely.to_wkt(gpkg.decode([value])[0], rounding_precision=-1))


def _require_sqlite(dialect: Dialect) -> None:
    if dialect.name != "sqlite":
        raise StoreError(
            f"geometry storage on {dialect.name!r} is not implemented yet; "
            "the project store is a GeoPackage (SQLite)"
        )
