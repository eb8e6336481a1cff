"""Customer flow statistics of a branch: ``queries`` (the flow of a day, the read side),
``measures`` (what it is built from, also the off-counter rate of fleet/queries.py) and
``chart`` (the day drawn: a PNG and an HTML page)."""
