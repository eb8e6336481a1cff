"""The factoring write side: use cases ``(session, actor, ...)`` that raise domain errors,
never commit, and write one audit record per change that matters."""

from backend.factoring.service.agreements import (
    admit_supplier,
    create_agreement,
    deposit,
    set_agreement_status,
)
from backend.factoring.service.financing import apply_for_financing
from backend.factoring.service.payables import (
    confirm_payable,
    register_payable,
    transfer_part,
)
from backend.factoring.service.recourse import collect_recourse, collect_recourse_due
from backend.factoring.service.settlement import (
    book_recourse,
    collect_due,
    mark_overdue,
    pay_payable,
)

__all__ = [
    "admit_supplier",
    "apply_for_financing",
    "book_recourse",
    "collect_due",
    "collect_recourse",
    "collect_recourse_due",
    "confirm_payable",
    "create_agreement",
    "deposit",
    "mark_overdue",
    "pay_payable",
    "register_payable",
    "set_agreement_status",
    "transfer_part",
]
