"""Floor-plan auto finance ("car e-link") for dealers, OEMs, supervisors and bank staff.

Every object is checked against the caller's org (another org's is 404). Money is a decimal
string; ratios are decimal strings ("0.30"). Views call the write side
``backend.floorplan.service`` and the read side ``backend.floorplan.queries``.

One blueprint, ``blp`` (``blueprint``), with its routes in ``vehicles`` (cars, redemption,
intake, release), ``dealers`` (summary, money, programmes, yards, credit lines), ``bills``
(bills and shipments), ``audits`` and ``alerts``; the shapes are in ``schemas``. Importing this
package registers the routes on ``blp``.
"""

from miniapp_api.floorplan import alerts, audits, bills, dealers, vehicles  # noqa: F401
from miniapp_api.floorplan.blueprint import blp

__all__ = ["blp"]
