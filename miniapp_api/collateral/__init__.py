"""Collateral's HTTP edge (``/api/v1/collateral``): one blueprint module per part, each named
in ``backend/collateral/area.py`` (``registry``: properties, credit links, registrations,
documents)."""
