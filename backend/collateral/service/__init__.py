"""The collateral write side: use cases ``(session, actor, ...)`` that raise domain errors,
never commit, and write one audit record per change that matters."""

from backend.collateral.service.registry import (
    add_document,
    approve_registration,
    link_credit,
    record_registration,
    register_property,
    reject_registration,
    release_credit,
    release_property,
    release_registration,
    update_property,
)

__all__ = [
    "add_document",
    "approve_registration",
    "link_credit",
    "record_registration",
    "register_property",
    "reject_registration",
    "release_credit",
    "release_property",
    "release_registration",
    "update_property",
]
