"""Digital factoring (数字保理) for core enterprises, suppliers and bank staff
(``/api/v1/factoring``).

Every object is checked against the caller's org (another org's is 404). Money is a decimal
string; rates are decimal strings ("0.9000"). Views call ``backend.factoring.service`` and
``backend.factoring.queries``. Importing this package registers the routes on ``blp``.
"""

from miniapp_api.factoring import views  # noqa: F401
from miniapp_api.factoring.blueprint import blp

__all__ = ["blp"]
