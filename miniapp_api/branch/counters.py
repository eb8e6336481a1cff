"""The hall's services and counters over HTTP: which services the branch offers and a
counter's configuration (admin), open or close a counter, and the calls at a counter (call
next, recall, no-show, finish, transfer)."""

from __future__ import annotations

from flask.views import MethodView

from backend.branch.queue import service as queue
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    CallOut,
    CounterIn,
    CounterOut,
    CounterStatusIn,
    ServicesIn,
    ServicesOut,
    TransferIn,
)
from miniapp_api.common import current_actor, db


@blp.route("/branches/<string:branch_id>/services")
class Services(MethodView):
    @blp.arguments(ServicesIn)
    @blp.response(200, ServicesOut)
    def put(self, data, branch_id):
        """Which services the branch offers (admin)"""
        rows = queue.configure_services(db(), current_actor(), branch_id, data["services"], now())
        return {"services": sorted(s.code for s in rows if s.active)}


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>")
class CounterOne(MethodView):
    @blp.arguments(CounterIn)
    @blp.response(200, CounterOut)
    def put(self, data, branch_id, counter_id):
        """Create or change a counter: name, skills, caller device (admin)"""
        return queue.upsert_counter(
            db(),
            current_actor(),
            hall(),
            branch_id,
            counter_id,
            name=data["name"],
            skills=data["skills"],
            device_id=data["device_id"],
            now=now(),
        )


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/status")
class CounterStatus(MethodView):
    @blp.arguments(CounterStatusIn)
    @blp.response(200, CounterOut)
    def post(self, data, branch_id, counter_id):
        """Open or close the counter"""
        return queue.set_counter_status(
            db(), current_actor(), hall(), branch_id, counter_id, data["status"], now()
        )


def _counter_action(action):
    @blp.response(200, CallOut)
    def post(self, branch_id, counter_id):
        return action(db(), current_actor(), hall(), branch_id, counter_id, now())

    post.__doc__ = action.__doc__.splitlines()[0] if action.__doc__ else None
    return post


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/call-next")
class CallNext(MethodView):
    post = _counter_action(queue.call_next)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/recall")
class Recall(MethodView):
    post = _counter_action(queue.recall)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/no-show")
class NoShow(MethodView):
    post = _counter_action(queue.no_show)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/finish")
class Finish(MethodView):
    post = _counter_action(queue.finish)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/transfer")
class Transfer(MethodView):
    @blp.arguments(TransferIn)
    @blp.response(200, CallOut)
    def post(self, data, branch_id, counter_id):
        """Send the current client to another service (raised priority; optional return)"""
        return queue.transfer(
            db(),
            current_actor(),
            hall(),
            branch_id,
            counter_id,
            data["service"],
            return_after=data["return_after"],
            now=now(),
        )
