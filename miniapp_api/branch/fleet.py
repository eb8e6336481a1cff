"""The smart-counter fleet over HTTP (admin): parameter templates, staged rollouts (start,
read, advance, roll back, resume), the branch's fleet by model and lifecycle, and the
off-counter rate per day."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.branch.fleet import queries as fleet_queries
from backend.branch.fleet import service as fleet
from backend.platform.db import run_in_transaction
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    ROLLOUT_STATUSES,
    AdvanceIn,
    FleetOut,
    OffCounterOut,
    RangeArgs,
    ResumeIn,
    RolloutIn,
    RolloutOut,
    RolloutsOut,
    TemplateIn,
    TemplateOut,
    TemplatesOut,
)
from miniapp_api.common import PageArgs, current_actor, db


@blp.route("/fleet/templates")
class Templates(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, TemplatesOut)
    def get(self, args):
        """Parameter templates per device model (admin)"""
        return fleet_queries.list_templates(db(), current_actor(), **args)

    @blp.arguments(TemplateIn)
    @blp.response(201, TemplateOut)
    def post(self, data):
        """A new template version for a model (admin)"""
        return fleet.create_template(
            db(),
            current_actor(),
            model=data["model"],
            name=data["name"],
            params=data["params"],
            now=now(),
        )


class RolloutListArgs(PageArgs):
    status = ma.fields.String(
        validate=ma.validate.OneOf(ROLLOUT_STATUSES),
        metadata={"description": "only rollouts in this status"},
    )


@blp.route("/fleet/rollouts")
class Rollouts(MethodView):
    @blp.arguments(RolloutListArgs, location="query")
    @blp.response(200, RolloutsOut)
    def get(self, args):
        """Rollouts, newest first (admin), each with its template, branch (null: every
        branch), percentage and status; a rollout's devices and health: GET
        /fleet/rollouts/{id}"""
        return fleet_queries.list_rollouts(db(), current_actor(), **args)

    @blp.arguments(RolloutIn)
    @blp.response(201, RolloutOut)
    def post(self, data):
        """Apply a template to a percentage of the model's devices (admin)"""
        return fleet.start_rollout(
            db(),
            current_actor(),
            template_id=data["template_id"],
            percentage=data["percentage"],
            branch_id=data["branch_id"],
            now=now(),
        )


@blp.route("/fleet/rollouts/<int:rollout_id>")
class RolloutOne(MethodView):
    @blp.response(200, RolloutOut)
    def get(self, rollout_id):
        """The rollout and its health per device (admin); halts it if devices reject it"""
        return fleet.get_rollout(db(), current_actor(), hall(), rollout_id, now())


@blp.route("/fleet/rollouts/<int:rollout_id>/advance")
class RolloutAdvance(MethodView):
    @blp.arguments(AdvanceIn)
    @blp.response(200, RolloutOut)
    def post(self, data, rollout_id):
        """Grow the rollout to a larger percentage (admin); 422 rollout_halted when halted"""
        the_hall, at = hall(), now()
        try:
            return fleet.advance_rollout(
                db(), current_actor(), rollout_id, data["percentage"], at, the_hall
            )
        except fleet.RolloutHalted:
            # The 422 rolls the request back; a halt found just now must stay (as auth keeps a
            # login failure). End the request's transaction first: on SQLite it holds the lock.
            db().rollback()
            run_in_transaction(
                current_app.extensions["finedge"].session_factory,
                lambda s: fleet.halt_if_rejecting(s, the_hall, rollout_id, at, source="advance"),
            )
            raise


@blp.route("/fleet/rollouts/<int:rollout_id>/rollback")
class RolloutRollback(MethodView):
    @blp.response(200, RolloutOut)
    def post(self, rollout_id):
        """Give every device of the rollout its previous values back (admin)"""
        return fleet.rollback_rollout(db(), current_actor(), rollout_id, now(), hall())


@blp.route("/fleet/rollouts/<int:rollout_id>/resume")
class RolloutResume(MethodView):
    @blp.arguments(ResumeIn)
    @blp.response(200, RolloutOut)
    def post(self, data, rollout_id):
        """Continue a halted rollout (admin): 422 rollout_still_rejected while devices reject
        the template, unless exclude_rejecting rolls those devices back"""
        return fleet.resume_rollout(
            db(),
            current_actor(),
            hall(),
            rollout_id,
            now(),
            exclude_rejecting=data["exclude_rejecting"],
        )


@blp.route("/branches/<string:branch_id>/fleet")
class FleetOverview(MethodView):
    @blp.response(200, FleetOut)
    def get(self, branch_id):
        """The branch's smart counters by model and lifecycle status"""
        return fleet_queries.fleet_overview(db(), current_actor(), branch_id)


@blp.route("/branches/<string:branch_id>/off-counter")
class OffCounter(MethodView):
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200, OffCounterOut)
    def get(self, args, branch_id):
        """Off-counter rate per day: smart-counter transactions / all served"""
        return fleet_queries.off_counter(
            db(), current_actor(), branch_id, args["from_"], args["to"], now()
        )
