"""Who may do a dealer's own acts, and the record of acts done on a dealer's behalf.

A dealer's own acts move the dealer's money or draw on its line at its request: redeem cars
(one or a batch), top up or withdraw margin, pay a curtailment, repay a bill's advance, ask
for release before repayment. The rule (``authorise_dealer_act``):

- the dealer's own users (role ``dealer`` of that org) act for themselves, and only for it;
- a **teller** at the counter acts for a dealer only on the dealer's instruction, given as
  ``on_behalf`` ``{"reason", "instruction_ref"}`` (the instruction's reference, e.g. the
  signed counter slip's number). Without it a teller is refused (403 ``on_behalf_required``);
- the bank's jobs act under the credit agreement (curtailment collected at its due date) as
  the system user;
- nobody else: a relationship manager (``rm``) sells to and originates for the dealer, an
  ``approver`` checks credit, an ``admin`` runs the system, OEMs and supervisors are third
  parties: none of them moves a dealer's money (403 ``forbidden``). Segregation of duties:
  whoever approves or originates a dealer's credit never also spends in its name.

An act on behalf is recorded twice in the same transaction: the act's own audit record
carries ``on_behalf`` (reason, instruction reference, the dealer), and one
``floorplan.acted_on_behalf`` record on the dealer (object ``fp_dealer``/<id>) names the act,
its object, the ledger transfers it made, the teller and the mandate; the ledger's transfers
carry the teller as ``created_by``. The dealer reads these records
(``GET /dealers/{id}/acts-on-behalf``), so nothing is done in its name unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied, ValidationFailed

AGENT_ROLES = frozenset({"teller"})
ACTED_ON_BEHALF = "floorplan.acted_on_behalf"
ACT_FIELDS = (
    "act",
    "object_type",
    "object_ids",
    "transfer_ids",
    "batch_id",
    "reason",
    "instruction_ref",
)
REFUSAL = (
    "only the dealer's own users, or a teller carrying out the dealer's instruction "
    "(on_behalf), may do this"
)


@dataclass(frozen=True)
class OnBehalf:
    """The dealer's instruction a teller carries out: why, and the instruction's reference."""

    reason: str
    instruction_ref: str

    @classmethod
    def of(cls, value: dict[str, Any] | OnBehalf | None) -> OnBehalf | None:
        if value is None or isinstance(value, OnBehalf):
            return value
        reason = str(value.get("reason") or "").strip()
        ref = str(value.get("instruction_ref") or "").strip()
        if not reason or not ref:
            raise ValidationFailed(
                "on_behalf needs a reason and the instruction's reference",
                code="invalid_on_behalf",
                details={"on_behalf": ["reason and instruction_ref, both non-empty"]},
            )
        return cls(reason[:500], ref[:80])


@dataclass(frozen=True)
class Mandate:
    """On what authority an act for ``dealer_org_id`` is done."""

    dealer_org_id: int
    basis: str  # own | on_behalf | agreement (a job under the credit agreement)
    on_behalf: OnBehalf | None = None

    def audit_fields(self) -> dict[str, Any]:
        """What the act's own audit record adds (nothing for the dealer's own act)."""
        if self.on_behalf is None:
            return {}
        return {
            "on_behalf": {
                "dealer_id": self.dealer_org_id,
                "reason": self.on_behalf.reason,
                "instruction_ref": self.on_behalf.instruction_ref,
            }
        }


def _is_system(actor: Actor) -> bool:
    return actor.user_id is None and actor.username == "system"


def authorise_dealer_act(
    actor: Actor, dealer_org_id: int, on_behalf: dict | OnBehalf | None = None
) -> Mandate:
    """The mandate for ``actor`` doing a dealer's own act for ``dealer_org_id``, or the
    refusal (see the module docstring). Call it after the object was found visible."""
    mandate = OnBehalf.of(on_behalf)
    if actor.role == "dealer":
        if actor.org_id != dealer_org_id:
            raise NotFound("dealer not found", code="dealer_not_found")
        if mandate is not None:
            raise ValidationFailed(
                "a dealer acts for itself; on_behalf is for bank staff",
                code="on_behalf_not_allowed",
                details={"on_behalf": ["leave out: the dealer acts for itself"]},
            )
        return Mandate(dealer_org_id, "own")
    if _is_system(actor) and mandate is None:
        return Mandate(dealer_org_id, "agreement")
    if actor.role in AGENT_ROLES:
        if mandate is None:
            raise PermissionDenied(
                "a teller acts for a dealer only on its instruction: give on_behalf "
                "{reason, instruction_ref}",
                code="on_behalf_required",
                details={"on_behalf": ["reason and instruction_ref"]},
            )
        return Mandate(dealer_org_id, "on_behalf", mandate)
    raise PermissionDenied(
        REFUSAL,
        details={"required_roles": ["dealer", *sorted(AGENT_ROLES)], "role": actor.role},
    )


def record_act(
    session: Session,
    actor: Actor,
    mandate: Mandate,
    act: str,
    object_type: str,
    object_ids: Sequence[object],
    *,
    transfer_ids: Sequence[str] = (),
    batch_id: str | None = None,
) -> None:
    """The dealer-side record of an act done on its behalf (nothing for its own acts)."""
    if mandate.on_behalf is None:
        return
    audit.record(
        session,
        actor,
        ACTED_ON_BEHALF,
        "fp_dealer",
        mandate.dealer_org_id,
        after={
            "act": act,
            "object_type": object_type,
            "object_ids": [str(o) for o in object_ids],
            "transfer_ids": list(transfer_ids),
            "batch_id": batch_id,
            "reason": mandate.on_behalf.reason,
            "instruction_ref": mandate.on_behalf.instruction_ref,
            "agent": {"user_id": actor.user_id, "username": actor.username, "role": actor.role},
        },
    )
