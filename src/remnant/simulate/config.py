"""The knobs of the synthetic world, each default an assumption stated where it is set.

:class:`WorldConfig` groups five topic configurations, one per stage of the
simulation: :class:`RegionConfig` (the land, the front line, the settlements),
:class:`AttackConfig` (when, where and with what), :class:`ReportingConfig` (how
attacks reach ``strikes.csv``), :class:`OperationsConfig` (survey and clearance) and
:class:`AccidentConfig` (civilian accidents and civilian reports of items).

Nothing here is a measured figure unless a source is named: the synthetic world must
look plausible to a mine action information manager, not reproduce any real place.
Change a default with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegionConfig:
    """The land: a box in eastern Ukraine-like terrain, a front line, settlements.

    Parameters
    ----------
    centre_lon, centre_lat : float
        Centre of the box. [degree] ASSUMPTION: the Izium–Balakliia area
        (36.0–37.5 E, 48.8–49.6 N), struck heavily in 2022 and cleared from 2023.
    width_km, height_km : float
        Smallest box, east-west and north-south; it covers the area above. [km]
    max_strike_density_per_km2 : float
        The box grows so that attacks per km² of box stay at or below this. [km⁻²]
        ASSUMPTION: 100,000 attacks then cover 200,000 km², the order of Ukraine's
        first estimate of potentially contaminated land (174,000 km², see
        ``shared/reference/mine-action.md``).
    max_width_km : float
        Beyond this width the box grows along the front only (north-south), as a real
        front is long and its struck band narrow. [km] ASSUMPTION.
    crs : str
        Projected metre CRS in which everything is computed: UTM 37N (central
        meridian 39° E); even the widest box stays within 4° of it, where the UTM
        scale error is below 0.1 %.
    front_wiggle_km : float
        Amplitude of the front line's largest bend. [km] ASSUMPTION.
    front_wavelengths_km : tuple of float
        Wavelengths of the three sine terms that bend the front line. [km] ASSUMPTION.
    front_shift_km : Mapping[str, float]
        Date → east-west position of the front relative to the box centre, positive
        east, linear in between. [km] ASSUMPTION, after the September 2022
        counter-offensive in Kharkiv oblast (about 45 km eastward in a month) and a
        slow drift back in 2024.
    settlement_density_per_km2 : float
        Settlements per km². [km⁻²] ASSUMPTION: Ukraine has roughly 28,000 cities,
        towns and villages on 603,500 km² (0.047 km⁻²), an approximate count.
    min_population : int
        Smallest settlement. [people] ASSUMPTION.
    population_pareto_shape : float
        Shape of the Pareto law of settlement sizes (1 is Zipf's law). [-] ASSUMPTION.
    radius_per_sqrt_population_m : float
        Built-up radius = this × √population: 120 m for 100 people, 2.4 km for
        40,000. [m] ASSUMPTION.
    """

    centre_lon: float = 36.75
    centre_lat: float = 49.2
    width_km: float = 110.0
    height_km: float = 90.0
    max_strike_density_per_km2: float = 0.5
    max_width_km: float = 250.0
    crs: str = "EPSG:32637"
    front_wiggle_km: float = 8.0
    front_wavelengths_km: tuple[float, float, float] = (90.0, 35.0, 12.0)
    front_shift_km: Mapping[str, float] = field(
        default_factory=lambda: {
            "2022-03-01": -20.0,
            "2022-09-05": -20.0,
            "2022-10-05": 25.0,
            "2024-01-01": 25.0,
            "2025-06-30": 18.0,
        }
    )
    settlement_density_per_km2: float = 0.047
    min_population: int = 100
    population_pareto_shape: float = 1.0
    radius_per_sqrt_population_m: float = 12.0


@dataclass(frozen=True)
class AttackConfig:
    """When, where and with which carriers the attacks fall.

    Parameters
    ----------
    start_date, end_date : str
        First and last possible attack date (ISO). ASSUMPTION: cluster munition use
        in Ukraine documented from late February 2022; the world stops mid-2024.
    intensity : Mapping[str, float]
        Date → relative attack rate from that date on (piecewise constant).
        ASSUMPTION: heaviest use in spring and summer 2022, renewed after July 2023.
    carrier_weights : Mapping[str, float]
        Carrier id → relative share of attacks. Ids missing from the catalogue are
        ignored; catalogue carriers missing here never fire. ASSUMPTION: Russian
        rockets and bombs (9M27K, 9M55K, RBK-500) most common, DPICM shells and M26
        rockets present; CBU-87 and CBU-24/26 (Kosovo, Afghanistan, Laos) absent.
    carrier_first_use : Mapping[str, str]
        Carrier id → first date it can fire (ISO). ASSUMPTION: US DPICM shells were
        announced for Ukraine on 2023-07-07 (Washington Post, 2023-07-07).
    settlement_target_fraction : float
        Share of attacks aimed at a settlement rather than at the front. [-]
        ASSUMPTION.
    west_fraction : float
        Share of attacks landing west of the front line. [-] ASSUMPTION.
    depth_km : Mapping[str, float]
        Carrier ``kind`` → mean distance of an attack from the front (exponential).
        [km] ASSUMPTION: tube artillery reaches less deep than rockets and aircraft.
    default_depth_km : float
        Depth for a kind missing from ``depth_km``. [km] ASSUMPTION.
    heading_sd_deg : float
        Spread of the direction of fire around due east or due west. [degree]
        ASSUMPTION: fire crosses the front roughly at right angles.
    """

    start_date: str = "2022-03-01"
    end_date: str = "2024-06-30"
    intensity: Mapping[str, float] = field(
        default_factory=lambda: {"2022-03-01": 3.0, "2022-10-01": 1.0, "2023-07-07": 1.5}
    )
    carrier_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "9M27K": 0.26,
            "9M55K": 0.20,
            "RBK-500-ShOAB": 0.14,
            "M864": 0.14,
            "M483A1": 0.07,
            "M26": 0.05,
            "M395": 0.02,
            "M396": 0.02,
            "CBU-87": 0.0,
            "CBU-26": 0.0,
            "CBU-24/26": 0.0,
        }
    )
    carrier_first_use: Mapping[str, str] = field(
        default_factory=lambda: {"M864": "2023-07-07", "M483A1": "2023-07-07"}
    )
    settlement_target_fraction: float = 0.35
    west_fraction: float = 0.8
    depth_km: Mapping[str, float] = field(
        default_factory=lambda: {"shell": 5.0, "rocket": 15.0, "bomb": 10.0}
    )
    default_depth_km: float = 10.0
    heading_sd_deg: float = 20.0


@dataclass(frozen=True)
class ReportingConfig:
    """How attacks reach ``strikes.csv``: omissions and errors.

    Parameters
    ----------
    unreported_fraction : float
        Attacks nobody recorded. [-] ASSUMPTION.
    source_type_weights : Mapping[str, float]
        Share of each ``source_type`` among recorded attacks. [-] ASSUMPTION.
    location_error_log_sd : float
        Each record's 1-sigma location error is the default of its source type
        (``records.defaults.LOCATION_ERROR_M``) times a log-normal factor of this
        log-sd; the reported point is drawn with that error. [-] ASSUMPTION.
    location_error_written_fraction : float
        Records that state ``location_error_m``; the others get the default of
        their source type, and their true error is that default. [-] ASSUMPTION.
    source_type_omitted_fraction : float
        ``reported`` records that omit ``source_type`` (the default is then
        ``reported``, so nothing is lost). [-] ASSUMPTION.
    wrong_carrier_fraction : float
        Records naming a wrong carrier (one of the same kind when there is one). [-]
        ASSUMPTION.
    unknown_carrier_fraction : float
        Records with carrier ``unknown``. [-] ASSUMPTION.
    carrier_count_omitted_fraction : float
        Records without ``carrier_count``; the others state the true count. [-]
        ASSUMPTION.
    heading_known_fraction : float
        Records stating ``heading_deg``. [-] ASSUMPTION.
    heading_error_sd_deg : float
        Error of a stated heading. [degree] ASSUMPTION.
    """

    unreported_fraction: float = 0.2
    source_type_weights: Mapping[str, float] = field(
        default_factory=lambda: {"verified": 0.15, "geolocated": 0.35, "reported": 0.5}
    )
    location_error_log_sd: float = 0.25
    location_error_written_fraction: float = 0.6
    source_type_omitted_fraction: float = 0.2
    wrong_carrier_fraction: float = 0.03
    unknown_carrier_fraction: float = 0.12
    carrier_count_omitted_fraction: float = 0.4
    heading_known_fraction: float = 0.1
    heading_error_sd_deg: float = 10.0


@dataclass(frozen=True)
class OperationsConfig:
    """Survey and clearance: when, where, how big, how well.

    Delays are exponential with the given mean; an activity exists only if it ends
    on or before ``as_of``. Detection is honest: the true per-item probability of an
    activity is the value it records, or the default its record implies
    (``records.defaults``) when it omits one.

    Parameters
    ----------
    start_date : str
        First day of humanitarian survey in the region (ISO). ASSUMPTION. EOD spot
        tasks (answering civilian reports) and accidents start earlier, as soon as
        the land is accessible.
    access_buffer_km : float
        No survey or clearance, and no civilians, closer than this to the front or
        beyond it. [km] ASSUMPTION.
    followed_up_fraction : float
        Share of strike records an NTS follows up at all by ``as_of`` (sector
        capacity; the rest wait in the backlog). [-] ASSUMPTION.
    nts_delay_days : float
        Mean wait from a report (or from access) to its NTS. [day] ASSUMPTION.
    nts_detection_probability : float
        Per-item detection probability an NTS records (before a small spread): a
        team walks a few kilometres of paths and sees 0.5–2 % of a polygon of a few
        km² (about 1 %). [-] ASSUMPTION. An NTS that omits it finds with the default
        of its type.
    nts_radius_factor, nts_min_radius_m, nts_max_radius_m : float
        NTS polygon around a reported strike: this many location errors, clipped.
        [-], [m], [m] ASSUMPTION.
    nts_settlement_margin_m : float
        Settlement NTS polygon: built-up radius plus this (fields, gardens), at most
        ``nts_max_radius_m`` (a city is surveyed by district). [m]
    nts_settlement_near_km : float
        Settlements this close to a reported strike get an NTS. [km] ASSUMPTION.
    nts_settlement_other_fraction : float
        Share of the other settlements surveyed anyway (area-wide NTS). [-]
    ts_delay_days, clearance_delay_days : float
        Mean wait from NTS to technical survey, and from it to clearance. [day]
    ts_site_spacing_m : float
        Evidence points closer than this share a technical survey site. [m]
    ts_max_sites : int
        Most technical survey sites one NTS leads to. [-] ASSUMPTION.
    ts_box_m : float
        Side of a CMRS technical survey box (CMRS best practice, NPA/MAG/HALO
        2019, uses 50 m boxes). [m]
    ts_max_boxes_per_side : int
        A technical survey is a rectangle of up to this many boxes a side. [-]
    informant_error_m : float
        1-sigma error of a point shown by local people at indirect evidence. [m]
    sha_radius_m : float
        Radius of the hazardous area recorded around a survey site. [m] ASSUMPTION.
    fade_out_m : float
        CMRS fade-out distance: a clearance polygon is the convex hull of the
        evidence buffered by this. [m] ASSUMPTION.
    ts_rate_m2_per_day, clearance_rate_m2_per_day : float
        Area a team surveys or clears per working day. [m² day⁻¹] ASSUMPTION.
    spot_delay_days : float
        Mean wait from a civilian report to the EOD spot task. [day] ASSUMPTION.
    spot_box_m : float
        Side of the square recorded for an EOD spot task. [m]
    evidence_probability : Mapping[str, float]
        Activity type → probability of recording strike evidence (fragments,
        strike marks, a container) at each carrier aim point inside it. [-]
    evidence_items : Mapping[str, float]
        Relative frequency of each evidence item. [-] ASSUMPTION.
    unknown_item_fraction : float
        Finds recorded as ``unknown_submunition``. [-] ASSUMPTION.
    detection_probability_omitted : Mapping[str, float]
        Activity type → share of records that omit ``detection_probability``. [-]
        ASSUMPTION: NTS forms usually state a nominal figure, and the type default
        (0.1) is high for polygons of several km², so NTS rarely omit it.
    method_omitted_fraction : float
        Technical survey and clearance records that omit ``method``. [-]
    detection_probability_sd : float
        Spread, on the logit scale, of a recorded detection probability around its
        nominal value (0.3: a default of 0.95 is recorded as 0.93–0.96). [-]
    ts_methods, clearance_methods : Mapping[str, float]
        Method → share. [-] ASSUMPTION: manual search with detectors dominates BAC.
    bac_fraction : float
        Clearance recorded as ``battle_area_clearance`` rather than ``clearance``.
    depth_cm : Mapping[str, float]
        Method → search depth recorded. [cm] ASSUMPTION: CMR lie at or near the
        surface.
    organisations : tuple of str
        Fictional operator names.
    find_group_m : float
        Items found by one activity in the same square of this side are recorded
        as one find with a quantity. [m]
    """

    start_date: str = "2023-01-01"
    access_buffer_km: float = 10.0
    followed_up_fraction: float = 1.0
    nts_delay_days: float = 200.0
    nts_detection_probability: float = 0.01
    nts_radius_factor: float = 2.0
    nts_min_radius_m: float = 300.0
    nts_max_radius_m: float = 2500.0
    nts_settlement_margin_m: float = 1000.0
    nts_settlement_near_km: float = 5.0
    nts_settlement_other_fraction: float = 0.1
    ts_delay_days: float = 120.0
    clearance_delay_days: float = 240.0
    ts_site_spacing_m: float = 300.0
    ts_max_sites: int = 5
    ts_box_m: float = 50.0
    ts_max_boxes_per_side: int = 6
    informant_error_m: float = 200.0
    sha_radius_m: float = 300.0
    fade_out_m: float = 50.0
    ts_rate_m2_per_day: float = 2500.0
    clearance_rate_m2_per_day: float = 4000.0
    spot_delay_days: float = 21.0
    spot_box_m: float = 20.0
    evidence_probability: Mapping[str, float] = field(
        default_factory=lambda: {
            "non_technical_survey": 0.3,
            "technical_survey": 0.5,
            "clearance": 0.6,
            "battle_area_clearance": 0.6,
        }
    )
    evidence_items: Mapping[str, float] = field(
        default_factory=lambda: {"fragments": 0.5, "strike_marks": 0.3, "container": 0.2}
    )
    unknown_item_fraction: float = 0.1
    detection_probability_omitted: Mapping[str, float] = field(
        default_factory=lambda: {
            "non_technical_survey": 0.05,
            "technical_survey": 0.3,
            "clearance": 0.3,
            "battle_area_clearance": 0.3,
        }
    )
    method_omitted_fraction: float = 0.05
    detection_probability_sd: float = 0.3
    ts_methods: Mapping[str, float] = field(
        default_factory=lambda: {
            "manual": 0.6,
            "mixed": 0.2,
            "detector_dogs": 0.1,
            "mechanical": 0.1,
        }
    )
    clearance_methods: Mapping[str, float] = field(
        default_factory=lambda: {
            "manual": 0.5,
            "mechanical": 0.25,
            "mixed": 0.2,
            "detector_dogs": 0.05,
        }
    )
    bac_fraction: float = 0.8
    depth_cm: Mapping[str, float] = field(
        default_factory=lambda: {
            "manual": 20.0,
            "mechanical": 25.0,
            "mixed": 25.0,
            "detector_dogs": 15.0,
        }
    )
    organisations: tuple[str, ...] = (
        "Operator A (synthetic)",
        "Operator B (synthetic)",
        "Operator C (synthetic)",
        "Operator D (synthetic)",
        "Operator E (synthetic)",
    )
    find_group_m: float = 5.0


@dataclass(frozen=True)
class AccidentConfig:
    """Civilians and remaining duds: accidents, and reports that start EOD spot tasks.

    Each remaining dud carries two clocks, started when its land becomes accessible
    (civilians return): an accident and a civilian report, each exponential with a
    rate that rises near settlements, ``rate × (1 + near_factor × exp(-d / near_scale))``
    with ``d`` the distance from the attack to the nearest settlement edge.

    Parameters
    ----------
    rate_per_dud_year : float
        Accident rate per remaining dud far from settlements. [yr⁻¹] ASSUMPTION,
        set so that a demo world of a few dozen attacks has a handful of accidents.
    report_rate_per_dud_year : float
        Rate at which civilians report a remaining dud far from settlements. [yr⁻¹]
    near_factor : float
        Extra rate at a settlement edge, as a multiple. [-] ASSUMPTION.
    near_scale_m : float
        Distance over which the extra rate fades. [m] ASSUMPTION.
    victims_mean : float
        Mean number of casualties per accident (at least one). [-] ASSUMPTION.
    killed_fraction : float
        Share of casualties killed. [-] ASSUMPTION.
    item_known_fraction, item_unknown_fraction : float
        Accident records naming the submunition, and naming ``unknown_submunition``;
        the rest leave ``item`` empty. [-] ASSUMPTION.
    location_error_m : float
        1-sigma error of a recorded accident point. [m] ASSUMPTION.
    """

    rate_per_dud_year: float = 1e-4
    report_rate_per_dud_year: float = 4e-4
    near_factor: float = 20.0
    near_scale_m: float = 1500.0
    victims_mean: float = 1.6
    killed_fraction: float = 0.35
    item_known_fraction: float = 0.5
    item_unknown_fraction: float = 0.3
    location_error_m: float = 20.0


@dataclass(frozen=True)
class WorldConfig:
    """Every knob of :func:`remnant.simulate.simulate_world`, grouped by stage.

    Parameters
    ----------
    region : RegionConfig
    attacks : AttackConfig
    reporting : ReportingConfig
    operations : OperationsConfig
    accidents : AccidentConfig
    """

    region: RegionConfig = field(default_factory=RegionConfig)
    attacks: AttackConfig = field(default_factory=AttackConfig)
    reporting: ReportingConfig = field(default_factory=ReportingConfig)
    operations: OperationsConfig = field(default_factory=OperationsConfig)
    accidents: AccidentConfig = field(default_factory=AccidentConfig)

    @classmethod
    def country_scale(cls) -> WorldConfig:
        """A national programme's volume, for about 100,000 attacks.

        With 100,000 attacks it yields of the order of 100,000 activities and about
        a million finds (figures in ``benchmarks/README.md``). The sector starts
        earlier (October 2022) but cannot follow up everything: 60 % of strike
        records get an NTS by ``as_of``, every accessible settlement is surveyed,
        technical survey is smaller (at most 2 × 2 boxes, 2 sites per NTS) and
        clearance waits two years on average (a backlog of confirmed areas). NTS
        record a lower detection probability (0.3 %: larger areas per team) and
        seldom omit it. Civilian
        accident rates are lowered towards Landmine Monitor magnitudes (hundreds of
        casualties a year, not tens of thousands); civilian reports, hence EOD spot
        tasks, are more frequent (State Emergency Service call-outs).
        """
        ops = dataclasses.replace(
            OperationsConfig(),
            start_date="2022-10-01",
            followed_up_fraction=0.6,
            nts_delay_days=120.0,
            nts_detection_probability=0.003,
            detection_probability_omitted={
                "non_technical_survey": 0.02,
                "technical_survey": 0.3,
                "clearance": 0.3,
                "battle_area_clearance": 0.3,
            },
            nts_settlement_other_fraction=1.0,
            ts_delay_days=60.0,
            ts_max_sites=2,
            ts_max_boxes_per_side=2,
            clearance_delay_days=720.0,
        )
        acc = dataclasses.replace(
            AccidentConfig(), rate_per_dud_year=5e-6, report_rate_per_dud_year=1.5e-4
        )
        return cls(operations=ops, accidents=acc)

    def as_dict(self) -> dict[str, object]:
        """The configuration as plain JSON-serialisable data."""
        return dataclasses.asdict(self)
