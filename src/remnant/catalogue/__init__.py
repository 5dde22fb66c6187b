"""The munition catalogue: carriers, submunitions and evidence items, with sourced priors.

Load it with :func:`load_catalogue`; look ids up with :meth:`Catalogue.carrier`,
:meth:`Catalogue.submunition`, :meth:`Catalogue.resolve` and :meth:`Catalogue.suggest`.
How each prior is derived from the published figures: :mod:`remnant.catalogue.priors`
and ``docs/catalogue.md``.
"""

from remnant.catalogue.loader import DEFAULT_PATH, load_catalogue
from remnant.catalogue.model import (
    BetaPrior,
    Carrier,
    Catalogue,
    CountPrior,
    EvidenceItem,
    Figure,
    Footprint,
    Kind,
    Source,
    Submunition,
    normalise_id,
)
from remnant.catalogue.priors import beta_from_quantiles

__all__ = [
    "DEFAULT_PATH",
    "BetaPrior",
    "Carrier",
    "Catalogue",
    "CountPrior",
    "EvidenceItem",
    "Figure",
    "Footprint",
    "Kind",
    "Source",
    "Submunition",
    "beta_from_quantiles",
    "load_catalogue",
    "normalise_id",
]
