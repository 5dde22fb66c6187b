"""The knobs of the hazard model, each an assumption stated where it is set.

:class:`HazardConfig` holds every number the estimate uses that neither a record nor
the munition catalogue gives. Each default is an ASSUMPTION, with its reasoning; a
national standard (a later issue) may override them. Change one with
:func:`dataclasses.replace`. The formulation they enter is docs/model.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class HazardConfig:
    """Every assumption of the hazard estimate that is not in a record or the catalogue.

    Parameters
    ----------
    cell_m : float
        Side of a grid cell. [m]
    n_sigma : float
        Strike windows are cut at this many standard deviations of the strike's
        density and renormalised (docs/model.md §1): the mass outside a ±3σ square
        is 0.54 %, spread so thinly that no cell loses a thousandth of an item,
        and the window is 44 % smaller than at ±4σ. [-]
    strike_dispersion : float
        Shape φ of the Gamma(φ, φ) factor by which one attack's dud count differs
        from its type's mean (ground, vegetation, release height, fuze batch).
        ASSUMPTION: φ = 4, a coefficient of variation of 50 % from attack to attack;
        field failure rates of one type differ by factors of two to five between
        tests and fields (NPA 2007 on the M85, munitions.md), and within one field
        by less. ``inf`` removes the factor. [-]
    nts_no_evidence_weight : float
        Probability q that a non-technical survey would have found evidence (strike
        marks, fragments, a local report) of an attack that fell inside its polygon.
        An NTS with outcome ``no_evidence`` makes it ``1 − q`` times as likely that an
        attack dated before it fell there: it moves where the attack's items are
        expected (their density inside falls, outside rises), not how many there are
        (docs/model.md §2). ASSUMPTION: 0.5, modest on purpose: an absence of
        evidence is weaker than a search, and IMAS 08.10 cancels land on it only
        with other evidence. [-]
    wrong_carrier_weight : float
        Relative weight of a strike as the source of a find whose item its carrier
        does not hold. ASSUMPTION: records name a wrong carrier in a few per cent of
        attacks (the simulator uses 3 %), so an incompatible item is unlikely, not
        impossible, from that strike. [-]
    unrecorded_ratio : float
        Prior mean of the number of unrecorded attacks, as a ratio to the recorded
        ones; as unrecorded attacks are taken to be like recorded ones, it is also
        the ratio of their prior duds (the background source of the attribution).
        ASSUMPTION: one attack in five is never recorded (ratio 0.25); reporting is
        incomplete in every conflict and no published figure for Ukraine exists. [-]
    unrecorded_cv : float
        Prior coefficient of variation of the number of unrecorded attacks. ASSUMPTION. [-]
    background_neighbours : int
        The density of unrecorded attacks is a kernel estimate over the recorded
        attack points, each spread by its distance to its ``k``-th nearest recorded
        neighbour (adaptive bandwidth, Silverman 1986 §5.3). [-]
    background_bandwidth_m : tuple of float
        Lower and upper bound of that bandwidth. [m]
    background_cell_m : float
        Target side of the coarse cells on which the background density is held
        (rounded to a power-of-two multiple of ``cell_m`` dividing a tile). [m]
    unexplained_threshold : float
        Evidence whose responsibility of the background exceeds this is
        unexplained by recorded attacks and becomes a pseudo-strike (docs/model.md
        §5). [-]
    learn : bool
        Learn from the evidence: the failure rates and each strike's scale from the
        items found. ``False`` keeps them at their priors (searches still thin what
        may remain): the prior thinned, for comparison and for checking mass balance.
    site_rounds : int
        Most rounds of locating carriers from the evidence attributed to each strike
        (docs/model.md §2); 0 keeps every strike's prior component. [-]
    em_tolerance : float
        The attribution of finds stops when a step moves no strike's expected duds by
        more than ten times this share of themselves (or of one item, whichever is
        larger), and at most one strike in a thousand by more than this share. [-]
    em_iterations : int
        Most attribution rounds. [-]
    draws : int
        Draws of the total remaining for its interval. [-]
    level : float
        Mass of the central credible intervals reported (``lower_90``/``upper_90``). [-]
    """

    cell_m: float = 25.0
    n_sigma: float = 3.0
    strike_dispersion: float = 4.0
    nts_no_evidence_weight: float = 0.5
    wrong_carrier_weight: float = 0.05
    unrecorded_ratio: float = 0.25
    unrecorded_cv: float = 0.5
    background_neighbours: int = 5
    background_bandwidth_m: tuple[float, float] = (1000.0, 8000.0)
    background_cell_m: float = 400.0
    unexplained_threshold: float = 0.5
    learn: bool = True
    site_rounds: int = 2
    em_tolerance: float = 1e-3
    em_iterations: int = 50
    draws: int = 4000
    level: float = 0.9

    def __post_init__(self) -> None:
        problems = []
        if not self.cell_m > 0:
            problems.append(f"cell_m must be > 0, got {self.cell_m}")
        if not self.n_sigma >= 2:
            problems.append(f"n_sigma must be >= 2, got {self.n_sigma}")
        if not self.strike_dispersion > 0:
            problems.append(f"strike_dispersion must be > 0, got {self.strike_dispersion}")
        for name in ("nts_no_evidence_weight", "wrong_carrier_weight", "unexplained_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must lie in [0, 1], got {value}")
        if not (self.unrecorded_ratio >= 0 and self.unrecorded_cv > 0):
            problems.append("unrecorded_ratio must be >= 0 and unrecorded_cv > 0")
        low, high = self.background_bandwidth_m
        if not 0 < low <= high:
            problems.append(f"background_bandwidth_m must be 0 < low <= high, got {low}, {high}")
        if not 0.0 < self.level < 1.0:
            problems.append(f"level must lie in (0, 1), got {self.level}")
        if self.draws < 100 or self.em_iterations < 1 or self.background_neighbours < 1:
            problems.append("draws >= 100, em_iterations >= 1, background_neighbours >= 1")
        if self.site_rounds < 0:
            problems.append(f"site_rounds must be >= 0, got {self.site_rounds}")
        if problems:
            raise ValueError("invalid HazardConfig: " + "; ".join(problems))

    def as_dict(self) -> dict[str, object]:
        """The configuration as plain JSON-serialisable data."""
        return dataclasses.asdict(self)
