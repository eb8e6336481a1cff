"""Every area's models, imported so that ``metadata`` is complete (Alembic, tests). The list
of areas is the composition root's (backend/bootstrap.py); an area names its model modules in
its ``area.py``."""

from backend.bootstrap import collect_areas, load_models
from backend.platform.db import Base

load_models(collect_areas())

metadata = Base.metadata
