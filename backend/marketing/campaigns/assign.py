"""The stratified random assignment of a campaign's list, drawn once at launch.

Within each stratum (the client's tier), the clients sorted by id are shuffled with a
generator seeded by the campaign's seed and the stratum's name, and exactly
``round_half_up(n × control_share)`` of them (the first ones) go to control, the rest to
treatment. The same seed and list always give the same arms; each tier is split in the same
proportion, so the arms are balanced within every tier.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np


def control_count(n: int, control_share: float) -> int:
    """round(n × share), halves up (not Python's banker's rounding)."""
    return math.floor(n * control_share + 0.5)


def arm_sizes(strata: dict[str, int], control_share: float) -> dict[str, tuple[int, int]]:
    """Per stratum: (treatment, control) sizes the draw will give."""
    out = {}
    for name, n in strata.items():
        c = control_count(n, control_share)
        out[name] = (n - c, c)
    return out


def _rng(seed: int, stratum: str) -> np.random.Generator:
    digest = hashlib.sha256(stratum.encode()).digest()
    return np.random.default_rng([int(seed) & (2**63 - 1), int.from_bytes(digest[:8], "big")])


def draw(members: Iterable[tuple[int, str]], control_share: float, seed: int) -> dict[int, str]:
    """``members`` as (client id, stratum) → client id → ``treatment`` | ``control``."""
    by_stratum: dict[str, list[int]] = {}
    for client_id, stratum in members:
        by_stratum.setdefault(stratum, []).append(int(client_id))
    arms: dict[int, str] = {}
    for stratum in sorted(by_stratum):
        ids = np.array(sorted(by_stratum[stratum]), dtype=np.int64)
        order = _rng(seed, stratum).permutation(len(ids))
        c = control_count(len(ids), control_share)
        for k, pos in enumerate(order):
            arms[int(ids[pos])] = "control" if k < c else "treatment"
    return arms
