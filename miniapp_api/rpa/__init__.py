"""The robot factory's HTTP edge (``/api/v1/rpa``): one module per blueprint, each named in
``backend/rpa/area.py`` (docs/rpa.md)."""
