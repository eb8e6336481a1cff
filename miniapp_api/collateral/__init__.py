"""Collateral's HTTP edge (``/api/v1/collateral``): one module per blueprint, each named in
``backend/collateral/area.py``."""
