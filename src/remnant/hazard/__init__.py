"""The hazard estimate: where unexploded submunitions remain, how many, how sure.

The entry point is :func:`remnant.hazard.estimate.estimate` (docs/model.md); it takes
the canonical record tables and the catalogue and knows nothing of the store.
"""
