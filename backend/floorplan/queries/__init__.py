"""The floor-plan read side: lists, details and summaries (nothing here writes).

Modules: ``dealers`` (programmes, yards, credit lines and requests, the dealer summary),
``stock`` (bills, shipments, cars, days in stock), ``oversight`` (inventory audits, alerts).
Every function checks what the caller may see; the write side is ``backend.floorplan.service``.
"""

from backend.floorplan.queries.dealers import (
    DealerOverview,
    DealerSummary,
    dealer_summary,
    get_line,
    get_warehouse,
    line_of_dealer,
    list_acts_on_behalf,
    list_dealer_overview,
    list_lines,
    list_programmes,
    list_requests,
    list_warehouses,
)
from backend.floorplan.queries.oversight import (
    audit_checks,
    get_alert,
    get_audit,
    list_alerts,
    list_audits,
    visible_alert,
)
from backend.floorplan.queries.stock import (
    curtailment_of,
    days_in_stock,
    get_bill,
    get_shipment,
    list_bills,
    list_shipments,
    list_vehicles,
    shipment_vehicles,
    vehicle_detail,
)

__all__ = [
    "DealerOverview",
    "DealerSummary",
    "audit_checks",
    "curtailment_of",
    "days_in_stock",
    "dealer_summary",
    "get_alert",
    "get_audit",
    "get_bill",
    "get_line",
    "get_shipment",
    "get_warehouse",
    "line_of_dealer",
    "list_acts_on_behalf",
    "list_alerts",
    "list_audits",
    "list_bills",
    "list_dealer_overview",
    "list_lines",
    "list_programmes",
    "list_requests",
    "list_shipments",
    "list_vehicles",
    "list_warehouses",
    "shipment_vehicles",
    "vehicle_detail",
    "visible_alert",
]
