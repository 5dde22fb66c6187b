"""Map pictures: what a person would rather look at than read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import rasterio
from rasterio import Affine
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from remnant.io.files import atomic_path

ACTIVITY_COLOURS = {
    "non_technical_survey": "#c7e9c0",
    "technical_survey": "#74c476",
    "clearance": "#238b45",
    "battle_area_clearance": "#00441b",
    "eod_spot_task": "#a1d99b",
}
HAZARD_COLOURS = {
    "suspected": "#fdae6b",
    "confirmed": "#e6550d",
    "in_progress": "#fd8d3c",
    "cancelled": "#bdbdbd",
    "reduced": "#9ecae1",
    "cleared": "#3182bd",
}


def plot_overview(
    tables: Mapping[str, gpd.GeoDataFrame], path: str | Path, *, title: str = "Remnant"
) -> Path:
    """Draw strikes, finds, accidents, activities and hazard areas on one map.

    Drawn in the UTM zone of the data (metres, north up) with a scale bar; written
    atomically as a PNG.

    Parameters
    ----------
    tables : mapping of str to GeoDataFrame
        Canonical tables by name; missing or empty tables are left out.
    path : path
        The PNG to write.
    title : str
        Title of the map.
    """
    present = {k: v for k, v in tables.items() if v is not None and len(v)}
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(16, 8), dpi=100, width_ratios=(1.15, 1))
    if present:
        crs = next(iter(present.values())).estimate_utm_crs()
        local = {k: v.to_crs(crs) for k, v in present.items()}
        handles = _draw_layers(ax, local)
        _draw_layers(zoom, local)
        _zoom_to_densest(zoom, local)
        for axis in (ax, zoom):
            _scale_bar(axis)
            axis.set_xlabel(f"Easting [m], {crs.name}")
            axis.set_aspect("equal")
            axis.ticklabel_format(style="plain")
        ax.set_ylabel("Northing [m]")
        zoom.set_title("Detail: 3 km around the densest finds", fontsize=10)
        fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no records", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def _zoom_to_densest(ax: Axes, t: Mapping[str, gpd.GeoDataFrame], size_m: float = 3000) -> None:
    """Frame ``ax`` on a ``size_m`` square around the densest finds (or strikes)."""
    points = t.get("finds", t.get("strikes"))
    if points is None:
        return
    x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    cells = np.floor(x / size_m).astype(np.int64), np.floor(y / size_m).astype(np.int64)
    _, inverse, counts = np.unique(
        np.stack(cells, axis=1), axis=0, return_inverse=True, return_counts=True
    )
    densest = inverse.ravel() == np.argmax(counts)
    cx, cy = np.median(x[densest]), np.median(y[densest])
    ax.set_xlim(cx - size_m / 2, cx + size_m / 2)
    ax.set_ylim(cy - size_m / 2, cy + size_m / 2)


def _draw_layers(ax: Axes, t: Mapping[str, gpd.GeoDataFrame]) -> list[Patch | Line2D]:
    handles: list[Patch | Line2D] = []
    if "activities" in t:
        handles += _draw_polygons(ax, t["activities"], "type", ACTIVITY_COLOURS, 0.55, "activity")
    if "hazard_areas" in t:
        handles += _draw_outlines(ax, t["hazard_areas"])
    points = (
        ("finds", "o", "#08519c", 6, "find"),
        ("strikes", "*", "#a50f15", 90, "strike (reported point)"),
        ("accidents", "X", "black", 60, "accident"),
    )
    for name, marker, colour, size, label in points:
        if name in t:
            frame = t[name]
            ax.scatter(
                frame.geometry.x,
                frame.geometry.y,
                s=size,
                marker=marker,
                c=colour,
                linewidths=0.3,
                edgecolors="white",
                zorder=5,
                label=label,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=marker,
                    color=colour,
                    linestyle="",
                    label=f"{label} ({len(frame):,})",
                )
            )
    return handles


def _draw_polygons(
    ax: Axes,
    frame: gpd.GeoDataFrame,
    column: str,
    colours: Mapping[str, str],
    alpha: float,
    noun: str,
) -> list[Patch | Line2D]:
    handles: list[Patch | Line2D] = []
    for value, group in frame.groupby(column, sort=True):
        colour = colours.get(str(value), "#cccccc")
        group.plot(ax=ax, color=colour, alpha=alpha, linewidth=0)
        label = f"{noun}: {str(value).replace('_', ' ')} ({len(group):,})"
        handles.append(Patch(facecolor=colour, alpha=alpha, label=label))
    return handles


def _draw_outlines(ax: Axes, frame: gpd.GeoDataFrame) -> list[Patch | Line2D]:
    handles: list[Patch | Line2D] = []
    for status, group in frame.groupby("status", sort=True):
        colour = HAZARD_COLOURS.get(str(status), "#636363")
        group.boundary.plot(ax=ax, color=colour, linewidth=1.2)
        handles.append(
            Patch(
                facecolor="none",
                edgecolor=colour,
                label=f"hazard area: {str(status).replace('_', ' ')} ({len(group):,})",
            )
        )
    return handles


def _scale_bar(ax: Axes) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    length = max(10 ** len(str(int(target))) / 10, 1.0)
    for step in (5, 2, 1):
        if step * length <= target:
            length *= step
            break
    x, y = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.04
    ax.plot([x, x + length], [y, y], color="black", linewidth=3, zorder=6)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y + (y1 - y0) * 0.012, label, ha="center", fontsize=9, zorder=6)


def plot_estimate(
    raster: str | Path,
    tables: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    title: str = "Remnant — hazard estimate",
    max_pixels: int = 1600,
) -> Path:
    """Draw the estimate: expected items per hectare, and a detail of the probability of any.

    The overview is read from the GeoTIFF's overviews (at most ``max_pixels`` on its
    long side, means of valid cells), so a country-sized estimate draws in seconds;
    the detail is 3 km around the cell with the most expected items, at full
    resolution. Strikes and finds are drawn on both.

    Parameters
    ----------
    raster : path
        An ``estimate.tif`` (:mod:`remnant.io.geotiff`).
    tables : mapping of str to GeoDataFrame
        Canonical record tables (strikes and finds are drawn).
    path : path
        The PNG to write.
    title : str
        Title of the figure.
    max_pixels : int
        Long side of the overview image. [pixels]
    """
    with rasterio.open(raster) as src:
        per_ha = _items_per_hectare(src, max_pixels)
        scale = max(1, -(-max(src.width, src.height) // max_pixels))
        left, bottom, right, top = src.bounds
        crs = src.crs
        row, col = _hottest(src, scale)
        half = max(1, int(1500 / abs(src.transform.a)))
        window = Window(col - half, row - half, 2 * half, 2 * half).intersection(
            Window(0, 0, src.width, src.height)
        )
        p_any = src.read(2, window=window, masked=True)
        w_left, w_bottom, w_right, w_top = _window_bounds(window, src.transform)
    local = {k: v.to_crs(crs) for k, v in tables.items() if v is not None and len(v)}
    fig, (ax, zoom) = plt.subplots(
        1, 2, figsize=(16, 8), dpi=100, width_ratios=(1.15, 1), layout="constrained"
    )
    _draw_density(fig, ax, per_ha, (left, bottom, right, top), "magma_r")
    detail = zoom.imshow(
        p_any, extent=(w_left, w_right, w_bottom, w_top), vmin=0, vmax=1, cmap="YlOrRd"
    )
    fig.colorbar(detail, ax=zoom, shrink=0.7, label="probability of any item in the cell")
    zoom.set_xlim(w_left, w_right)
    zoom.set_ylim(w_bottom, w_top)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    for axis in (ax, zoom):
        _draw_points(axis, local)  # the limits are set: points beyond them widen nothing
        _scale_bar(axis)  # after the limits: a bar placed before them sat off the axes
        axis.set_xlabel(f"Easting [m], {crs.to_string()}")
        axis.ticklabel_format(style="plain")
    ax.set_ylabel("Northing [m]")
    zoom.set_title("Detail: 3 km around the cell with the most expected items", fontsize=10)
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def _items_per_hectare(src: DatasetReader, max_pixels: int) -> np.ma.MaskedArray:
    """The expected items per hectare, from the overviews (at most ``max_pixels`` a side)."""
    scale = max(1, -(-max(src.width, src.height) // max_pixels))
    shape = (max(1, src.height // scale), max(1, src.width // scale))
    expected = src.read(1, out_shape=shape, resampling=Resampling.average, masked=True)
    return expected.astype(np.float64) * (1e4 / abs(src.transform.a) ** 2)


def _draw_density(
    fig: Figure, ax: Axes, per_ha: np.ma.MaskedArray, bounds: tuple[float, ...], cmap: str
) -> None:
    """Items per hectare on a log scale, with its colour bar."""
    left, bottom, right, top = bounds
    positive = np.ma.masked_less_equal(per_ha, 0)
    vmax = float(positive.max()) if positive.count() else 1.0
    image = ax.imshow(
        positive,
        extent=(left, right, bottom, top),
        norm=LogNorm(vmin=max(vmax * 1e-5, 1e-6), vmax=max(vmax, 1e-5)),
        cmap=cmap,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, shrink=0.7, label="expected unexploded items per hectare")


def _window_bounds(window: Window, transform: Affine) -> tuple[float, float, float, float]:
    """``left, bottom, right, top`` of a window of a north-up raster. [m]

    ``rasterio.windows.bounds`` multiplies the affine with ``*``, which affine 2.4
    deprecates.
    """
    left = transform.c + window.col_off * transform.a
    top = transform.f + window.row_off * transform.e
    return left, top + window.height * transform.e, left + window.width * transform.a, top


def _hottest(src: DatasetReader, scale: int) -> tuple[int, int]:
    """Full-resolution cell at the centre of the overview pixel with the most expected items."""
    shape = (max(1, src.height // scale), max(1, src.width // scale))
    coarse = src.read(1, out_shape=shape, resampling=Resampling.average, masked=True)
    filled = np.ma.filled(coarse.astype(np.float64), -1.0)
    r, c = np.unravel_index(int(np.argmax(filled)), filled.shape)
    return int((r + 0.5) * src.height / shape[0]), int((c + 0.5) * src.width / shape[1])


def _draw_points(ax: Axes, t: Mapping[str, gpd.GeoDataFrame]) -> None:
    for name, marker, colour, size in (("finds", ".", "#08519c", 4), ("strikes", "+", "black", 30)):
        if name in t:
            frame = t[name]
            ax.scatter(
                frame.geometry.x, frame.geometry.y, s=size, marker=marker, c=colour,
                linewidths=0.6, zorder=5, label=name,
            )  # fmt: skip


def plot_areas(
    raster: str | Path,
    proposals: gpd.GeoDataFrame,
    recorded: gpd.GeoDataFrame,
    path: str | Path,
    *,
    title: str = "Remnant — proposed hazard areas",
    max_pixels: int = 1600,
) -> Path:
    """Draw the proposed hazard areas over the estimate, beside the areas recorded.

    The estimate's expected items per hectare (read from the GeoTIFF's overviews, as
    :func:`plot_estimate` does) under the outlines of the proposed confirmed and
    suspected areas and, filled, the recorded ones by status.

    Parameters
    ----------
    raster : path
        The ``estimate.tif`` the proposals come from.
    proposals, recorded : geopandas.GeoDataFrame
        Proposed (``status`` confirmed or suspected) and recorded hazard areas.
    path : path
        The PNG to write.
    title : str
        Title of the figure.
    max_pixels : int
        Long side of the image of the estimate. [pixels]
    """
    with rasterio.open(raster) as src:
        per_ha = _items_per_hectare(src, max_pixels)
        left, bottom, right, top = src.bounds
        crs = src.crs
    fig, ax = plt.subplots(figsize=(11, 9), dpi=100, layout="constrained")
    _draw_density(fig, ax, per_ha, (left, bottom, right, top), "Greys")
    handles: list[Patch | Line2D] = []
    if len(recorded):
        handles += _draw_polygons(ax, recorded.to_crs(crs), "status", HAZARD_COLOURS, 0.45,
                                  "recorded")  # fmt: skip
    for status, colour in (("confirmed", "#a50f15"), ("suspected", "#fd8d3c")):
        group = proposals[proposals["status"] == status]
        if len(group):
            group.to_crs(crs).boundary.plot(ax=ax, color=colour, linewidth=1.0)
            label = f"proposed {status} ({len(group):,}, {group['area_m2'].sum() / 1e6:,.1f} km²)"
            handles.append(Line2D([], [], color=colour, linewidth=1.5, label=label))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    _scale_bar(ax)
    ax.set_xlabel(f"Easting [m], {crs.to_string()}")
    ax.set_ylabel("Northing [m]")
    ax.ticklabel_format(style="plain")
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
