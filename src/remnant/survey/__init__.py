"""Survey and land release: the sampling designs (docs/survey.md).

- :mod:`.compliance` — accept-on-zero sampling of cleared land (Bowen and Bennett 1988);
- :mod:`.item_count` — items left after a search, and the coverage a search needs;
- :mod:`.transects` — transect spacing to cross and find a strike footprint.
"""
