"""The errors Remnant raises: one base class and a few precise subclasses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RemnantError(Exception):
    """Base class of every error Remnant raises on purpose."""


class CatalogueError(RemnantError):
    """The munition catalogue is malformed, or an id is not in it."""


class StoreError(RemnantError):
    """The project store cannot be created, opened or written."""


class StandardError(RemnantError):
    """The national standard file is malformed: a value missing, unsourced or out of range."""


class NotFoundError(RemnantError):
    """A record or an output asked for by id is not there (a hazard area, an estimate)."""


class BusyError(RemnantError):
    """Another Remnant process is writing the same output folder."""


class FormatError(RemnantError):
    """A file cannot be read at all (unknown format, missing required column, ...)."""


@dataclass(frozen=True)
class Problem:
    """One rejected value: where it is and why.

    Parameters
    ----------
    file : str
        The file the value came from.
    row : int | None
        Row or feature number (see ``unit``); ``None`` for a problem of the
        whole file.
    column : str | None
        The canonical column name, or ``None`` for a problem of the whole row.
    reason : str
        Why it was rejected, in words a user can act on.
    value : str | None
        The offending value as read, for the report.
    unit : str
        What ``row`` counts: ``row`` (CSV; the header is row 1, as a spreadsheet
        shows it) or ``feature`` (GeoJSON, GeoPackage; the first feature is 1).
    """

    file: str
    row: int | None
    column: str | None
    reason: str
    value: str | None = None
    unit: str = "row"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", {self.unit} {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        shown = f" (value: {self.value!r})" if self.value not in (None, "") else ""
        return f"{where}: {self.reason}{shown}"


class ValidationError(RemnantError):
    """Records were rejected; carries every problem found, not only the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        rows = {(p.file, p.row) for p in self.problems}
        head = "\n".join(f"  {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s) in {len(rows)} row(s):\n{head}{tail}")
