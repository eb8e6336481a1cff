"""The floor-plan service API in one place (use cases live in the modules named below).

Every function takes the caller's ``session`` and the acting ``actor`` (and ``live`` where it
may raise alerts); the caller commits. See the package docstring for the lifecycle.
"""

from backend.floorplan.aging import scan_aging
from backend.floorplan.alerts import (
    acknowledge_alert,
    get_alert,
    list_alerts,
    raise_alert,
    resolve_alert,
)
from backend.floorplan.audits import (
    audit_checks,
    close_audit,
    get_audit,
    list_audits,
    open_audit,
    record_check,
    schedule_audits,
)
from backend.floorplan.bills import get_bill, issue_bill, list_bills, reject_bill, request_bill
from backend.floorplan.credit import (
    approve_credit_line,
    create_programme,
    create_warehouse,
    get_line,
    get_warehouse,
    line_of_dealer,
    list_lines,
    list_programmes,
    list_requests,
    list_warehouses,
    propose_credit_line,
    reject_credit_line,
    set_line_status,
)
from backend.floorplan.curtailment import (
    collect_due_curtailments,
    pay_curtailment,
    schedule_curtailments,
)
from backend.floorplan.funds import deposit_cash, top_up_margin, withdraw_margin
from backend.floorplan.intake import (
    create_shipment,
    get_shipment,
    intake_vehicle,
    list_shipments,
    mark_arrived,
    shipment_vehicles,
)
from backend.floorplan.maturity import (
    remind_maturing_bills,
    repay_bill_advance,
    settle_bill,
    settle_due_bills,
)
from backend.floorplan.queries import (
    curtailment_of,
    days_in_stock,
    dealer_summary,
    list_vehicles,
    vehicle_detail,
)
from backend.floorplan.redemption import redeem_vehicles
from backend.floorplan.release import (
    check_release_deadlines,
    grant_release_before_repay,
    release_vehicle,
    report_missing,
)

__all__ = [
    "acknowledge_alert",
    "approve_credit_line",
    "audit_checks",
    "check_release_deadlines",
    "close_audit",
    "collect_due_curtailments",
    "create_programme",
    "create_shipment",
    "create_warehouse",
    "curtailment_of",
    "days_in_stock",
    "dealer_summary",
    "deposit_cash",
    "get_alert",
    "get_audit",
    "get_bill",
    "get_line",
    "get_shipment",
    "get_warehouse",
    "grant_release_before_repay",
    "intake_vehicle",
    "issue_bill",
    "line_of_dealer",
    "list_alerts",
    "list_audits",
    "list_bills",
    "list_lines",
    "list_programmes",
    "list_requests",
    "list_shipments",
    "list_vehicles",
    "list_warehouses",
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
    "shipment_vehicles",
    "top_up_margin",
    "vehicle_detail",
    "withdraw_margin",
]
