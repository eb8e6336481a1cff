"""Marketing's HTTP edge (``/api/v1/marketing``): one module per blueprint, each named in
``backend/marketing/area.py``."""
