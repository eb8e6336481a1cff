"""The fleet's write side: templates (``templates``), staged rollouts with rollback and resume
(``rollouts``), and the halt on rejection (``halting``), which the device-event hook calls
when a smart counter reports its configuration (``on_config_reported``).

``get_rollout`` is here although HTTP reads with it: reading a running rollout whose devices
reject its template halts it first (a write).
"""

from __future__ import annotations

from backend.branch.fleet.service.halting import halt_if_rejecting, on_config_reported
from backend.branch.fleet.service.rollouts import (
    advance_rollout,
    get_rollout,
    resume_rollout,
    rollback_rollout,
    start_rollout,
)
from backend.branch.fleet.service.templates import create_template
from backend.branch.fleet.state import DEVICE_TYPE, RolloutHalted

__all__ = [
    "DEVICE_TYPE",
    "RolloutHalted",
    "advance_rollout",
    "create_template",
    "get_rollout",
    "halt_if_rejecting",
    "on_config_reported",
    "resume_rollout",
    "rollback_rollout",
    "start_rollout",
]
