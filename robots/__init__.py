"""FinEdge's built-in robots (docs/rpa.md): each module exposes ``ROBOT``, deployed by the
robot factory (``backend.rpa``) from its entry point ``robots.<module>:ROBOT``. Robots are an
outer layer like the HTTP edge: they call the areas' services; no area imports them."""
