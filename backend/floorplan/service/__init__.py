"""The floor-plan write side: the use cases that change state, one module per stage.

Every function takes the caller's ``session`` and the acting ``actor`` (and ``live`` where it
may raise alerts); the caller commits. HTTP views, jobs and the seed call these names; reading
is ``backend.floorplan.queries``. See the package docstring for the lifecycle.

    credit       programmes, yards, credit lines (maker-checker), the line's draw and repay
    bills        acceptance bills requested, issued (margin frozen, line drawn), rejected
    intake       OEM shipments (one margin hold per car), arrival, supervisor intake
    funds        cash paid in at the bank, margin topped up or withdrawn
    redemption   cars redeemed one by one or in a batch (one ledger batch)
    release      supervisor release, release-before-repay, out of trust
    curtailment  a share of a car's price due after so many days in stock
    maturity     the sweep of a bill at maturity (margin, deposit, overdue advance)
    aging        alerts at the programme's days-in-stock thresholds
    audits       inventory audits (risk-based sample, checks, close)
    alerts       vehicle alerts raised once per key, acknowledged, resolved
"""

from backend.floorplan.service.aging import scan_aging
from backend.floorplan.service.alerts import acknowledge_alert, raise_alert, resolve_alert
from backend.floorplan.service.audits import close_audit, open_audit, record_check, schedule_audits
from backend.floorplan.service.bills import issue_bill, reject_bill, request_bill
from backend.floorplan.service.credit import (
    approve_credit_line,
    create_programme,
    create_warehouse,
    propose_credit_line,
    reject_credit_line,
    set_line_status,
)
from backend.floorplan.service.curtailment import (
    collect_due_curtailments,
    pay_curtailment,
    schedule_curtailments,
)
from backend.floorplan.service.funds import deposit_cash, top_up_margin, withdraw_margin
from backend.floorplan.service.intake import create_shipment, intake_vehicle, mark_arrived
from backend.floorplan.service.maturity import (
    remind_maturing_bills,
    repay_bill_advance,
    settle_bill,
    settle_due_bills,
)
from backend.floorplan.service.redemption import redeem_vehicles
from backend.floorplan.service.release import (
    check_release_deadlines,
    grant_release_before_repay,
    release_vehicle,
    report_missing,
)

__all__ = [
    "acknowledge_alert",
    "approve_credit_line",
    "check_release_deadlines",
    "close_audit",
    "collect_due_curtailments",
    "create_programme",
    "create_shipment",
    "create_warehouse",
    "deposit_cash",
    "grant_release_before_repay",
    "intake_vehicle",
    "issue_bill",
    "mark_arrived",
    "open_audit",
    "pay_curtailment",
    "propose_credit_line",
    "raise_alert",
    "record_check",
    "redeem_vehicles",
    "reject_bill",
    "reject_credit_line",
    "release_vehicle",
    "remind_maturing_bills",
    "repay_bill_advance",
    "report_missing",
    "request_bill",
    "resolve_alert",
    "scan_aging",
    "schedule_audits",
    "schedule_curtailments",
    "set_line_status",
    "settle_bill",
    "settle_due_bills",
    "top_up_margin",
    "withdraw_margin",
]
