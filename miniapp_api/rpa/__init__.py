"""The robot factory's HTTP edge (``/api/v1/rpa``): robots and their runs, items, files and
reviews; monitoring (docs/rpa.md)."""
