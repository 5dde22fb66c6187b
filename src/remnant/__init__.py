"""Remnant: where unexploded cluster submunitions remain, and where to clear next.

Humanitarian mine action software. The package is laid out as rooms, data flowing
one way: ``catalogue`` and ``records`` in, ``store`` for persistence, the science rooms
(``hazard``, ``survey``, ``risk``, ``plan``), then ``report`` and ``api`` out.
Remnant is for clearance, never for targeting.
"""

__version__ = "0.1.0"
