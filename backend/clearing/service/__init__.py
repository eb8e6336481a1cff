"""The clearing write side: set-up (``setup``), the clearing house's instructions
(``instructions``), reconciliation and gap alarms (``reconcile``), the log replayed
(``replay``)."""

from backend.clearing.service.instructions import Answer, authenticate, house_actor, submit
from backend.clearing.service.reconcile import (
    check_gaps,
    parse_file,
    reconcile,
    reconcile_by_staff,
    resolve_difference,
)
from backend.clearing.service.replay import ReplayReport, replay_check
from backend.clearing.service.setup import (
    Registered,
    balance_of,
    configure_house,
    create_agreement,
    fund_account,
    get_house,
    open_trader_account,
    pay_in,
    register_house,
    set_agreement_status,
    withdraw_account,
)

__all__ = [
    "Answer",
    "Registered",
    "ReplayReport",
    "authenticate",
    "balance_of",
    "check_gaps",
    "configure_house",
    "create_agreement",
    "fund_account",
    "get_house",
    "house_actor",
    "open_trader_account",
    "parse_file",
    "pay_in",
    "reconcile",
    "reconcile_by_staff",
    "register_house",
    "replay_check",
    "resolve_difference",
    "set_agreement_status",
    "submit",
    "withdraw_account",
]
