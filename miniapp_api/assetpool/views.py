"""The asset-pool routes on one blueprint, ``blp``."""

from __future__ import annotations

import csv
import io

from flask import Response
from flask.views import MethodView

from backend.assetpool import queries, service
from miniapp_api.assetpool.schemas import (
    AmountIn,
    AssetArgs,
    AssetIn,
    AssetOut,
    BillArgs,
    BillIn,
    BillOut,
    ConfigIn,
    ConfigInForceOut,
    ConfigOut,
    LadderArgs,
    LadderOut,
    MovementOut,
    OpenPoolIn,
    PoolDetailOut,
    PoolListOut,
    PoolOut,
    StatementArgs,
    StatementCsvArgs,
)
from miniapp_api.common import PageArgs, current_actor, db, key_in_request_transaction, page_schema
from miniapp_api.responses import errors
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "assetpool",
    __name__,
    url_prefix="/api/v1/assetpool",
    description="Digital asset pool: pledged e-bills, e-deposits and margin; bills against it",
)

ACT = {
    404: "The pool, asset or bill does not exist or is not the caller's to see",
    409: "asset_number_taken, asset_not_held, asset_not_pledged, or an Idempotency-Key reused "
    "with another body",
    422: "A business rule refused it (insufficient_capacity, asset_not_eligible, "
    "already_matured, insufficient_deposit, insufficient_margin, disbursement_refused, "
    "bill_term_too_long); nothing changed",
}


def _detail(pool_id: int) -> dict:
    found = queries.pool_detail(db(), current_actor(), pool_id)
    pool = found.pop("pool")
    return {**PoolOut().dump(pool), **found}


@blp.route("/pools")
class Pools(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(PoolListOut, "AssetPoolPage"))
    def get(self, args):
        """Pools: an enterprise user its own org's, bank staff all."""
        return queries.list_pools(db(), current_actor(), **args)

    @blp.arguments(OpenPoolIn)
    @blp.response(201, PoolOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    def post(self, body):
        """Open (or get) a pool: an enterprise its own, bank staff (rm, approver, admin) that
        of an enterprise org given by org_id."""
        return service.open_pool(db(), current_actor(), body["org_id"])


@blp.route("/pools/<int:pool_id>")
class PoolDetail(MethodView):
    @blp.response(200, PoolDetailOut)
    def get(self, pool_id):
        """One pool: capacity and its parts, the deposit, the configuration in force."""
        return _detail(pool_id)


@blp.route("/pools/<int:pool_id>/assets")
class Assets(MethodView):
    @blp.arguments(AssetArgs, location="query")
    @blp.response(200, page_schema(AssetOut, "PoolAssetPage"))
    def get(self, args, pool_id):
        """The pool's assets (status held | pledged | matured)."""
        return queries.list_assets(db(), current_actor(), pool_id, **args)

    @blp.arguments(AssetIn)
    @blp.response(201, AssetOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, body, pool_id):
        """Enterprise: put an e-bill or e-deposit certificate into its pool (pledge: and pledge
        it at once). Its eligibility and the reasons when not are in the answer."""
        return service.enter_asset(db(), current_actor(), pool_id, **body)


@blp.route("/pools/<int:pool_id>/assets/<int:asset_id>")
class AssetDetail(MethodView):
    @blp.response(200, AssetOut)
    def get(self, pool_id, asset_id):
        """One asset of the pool."""
        return queries.get_asset(db(), current_actor(), pool_id, asset_id)


@blp.route("/pools/<int:pool_id>/assets/<int:asset_id>/pledge")
class Pledge(MethodView):
    @blp.response(200, AssetOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, pool_id, asset_id):
        """Enterprise: pledge a held, eligible asset (422 asset_not_eligible with reasons)."""
        return service.pledge_asset(db(), current_actor(), pool_id, asset_id)


@blp.route("/pools/<int:pool_id>/assets/<int:asset_id>/unpledge")
class Unpledge(MethodView):
    @blp.response(200, AssetOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, pool_id, asset_id):
        """Enterprise: take a pledged asset back; 422 insufficient_capacity when the capacity
        would fall below zero."""
        return service.unpledge_asset(db(), current_actor(), pool_id, asset_id)


@blp.route("/pools/<int:pool_id>/margin")
class MarginIn(MethodView):
    @blp.arguments(AmountIn)
    @blp.response(200, MovementOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, body, pool_id):
        """Enterprise: pay margin cash into the pool from its deposit account."""
        return service.pay_in_margin(db(), current_actor(), pool_id, body["amount"])


@blp.route("/pools/<int:pool_id>/margin/withdraw")
class MarginOut(MethodView):
    @blp.arguments(AmountIn)
    @blp.response(200, MovementOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, body, pool_id):
        """Enterprise: margin cash back to its deposit while the capacity stays >= 0."""
        return service.withdraw_margin(db(), current_actor(), pool_id, body["amount"])


@blp.route("/pools/<int:pool_id>/deposits")
class Deposits(MethodView):
    @blp.arguments(AmountIn)
    @blp.response(200, MovementOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, body, pool_id):
        """Teller or admin: money paid into the enterprise's deposit account."""
        return service.deposit_cash(db(), current_actor(), pool_id, body["amount"])


@blp.route("/pools/<int:pool_id>/bills")
class Bills(MethodView):
    @blp.arguments(BillArgs, location="query")
    @blp.response(200, page_schema(BillOut, "PoolBillPage"))
    def get(self, args, pool_id):
        """The pool's bills, newest first."""
        return queries.list_bills(db(), current_actor(), pool_id, **args)

    @blp.arguments(BillIn)
    @blp.response(201, BillOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT)
    @key_in_request_transaction
    def post(self, body, pool_id):
        """Enterprise: have a new e-bill accepted against the pool, in one call: capacity and
        risk checked, fee and margin taken, the bill issued (status outstanding)."""
        return service.accept_bill(db(), current_actor(), pool_id, **body)


@blp.route("/pools/<int:pool_id>/bills/<int:bill_id>")
class BillDetail(MethodView):
    @blp.response(200, BillOut)
    def get(self, pool_id, bill_id):
        """One bill of the pool."""
        return queries.get_bill(db(), current_actor(), pool_id, bill_id)


@blp.route("/pools/<int:pool_id>/ladder")
class Ladder(MethodView):
    @blp.arguments(LadderArgs, location="query")
    @blp.response(200, LadderOut)
    def get(self, args, pool_id):
        """Maturity ladder: the capacity week by week (or month by month) ahead as pledged
        assets mature into margin cash and bills fall due, if nothing else changes."""
        return queries.ladder(db(), current_actor(), pool_id, **args)


@blp.route("/pools/<int:pool_id>/statement")
class Statement(MethodView):
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, page_schema(MovementOut, "PoolMovementPage"))
    def get(self, args, pool_id):
        """The pool's movements over a period (from, to: dates, inclusive)."""
        return queries.statement(db(), current_actor(), pool_id, **args)


CSV_DOC = {
    "responses": {
        "200": {
            "description": "The statement as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@blp.route("/pools/<int:pool_id>/statement.csv")
class StatementCsv(MethodView):
    @blp.arguments(StatementCsvArgs, location="query")
    @blp.doc(**CSV_DOC)
    def get(self, args, pool_id):
        """The pool's statement over a period as a CSV download."""
        rows = queries.statement_rows(db(), current_actor(), pool_id, **args)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "kind", "amount", "reference", "capacity_after"])
        for line in MovementOut(many=True).dump(rows):
            writer.writerow(
                [line[k] for k in ("id", "at", "kind", "amount")]
                + [
                    line["reference"],
                    line["capacity_after"],
                ]
            )
        return Response(
            out.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=pool-{pool_id}-statement.csv"},
        )


@blp.route("/config")
class Config(MethodView):
    @blp.response(200, ConfigInForceOut)
    def get(self):
        """The configuration in force (haircuts, issuers, tenor limits, fee, margin)."""
        return queries.config_in_force(db(), current_actor())

    @blp.arguments(ConfigIn)
    @blp.response(201, ConfigOut)
    @errors(blp, 400, 401, 403, 409, 422, texts={422: "invalid_config is 400; nothing else"})
    def post(self, body):
        """Admin or approver: a new configuration version over the one in force; history kept;
        effective at once (every pool recomputed) unless effective_at is later."""
        return service.change_config(
            db(),
            current_actor(),
            body["values"],
            effective_at=body["effective_at"],
            note=body["note"],
        )


@blp.route("/config/versions")
class ConfigVersions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ConfigOut, "PoolConfigPage"))
    def get(self, args):
        """Every configuration version, newest first."""
        return queries.list_config_versions(db(), current_actor(), **args)
