"""What every area's seeder gets: ``(session, SeedOptions) -> dict`` (a report merged into the
seed's summary). Seeders are idempotent and show progress with tqdm when ``options.progress``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass
class SeedOptions:
    dealers: int = 2
    cars: int = 0
    enterprises: int = 0
    progress: bool = True


Seeder = Callable[[Session, SeedOptions], dict]
