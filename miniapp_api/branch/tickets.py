"""Soft queuing over HTTP: take a ticket (a client remotely, staff for a client in the hall),
look at it, check in, give it up, and the queue as the caller may see it."""

from __future__ import annotations

from flask.views import MethodView

from backend.branch.queue import queries as queue_queries
from backend.branch.queue import service as queue
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import QueueOut, TicketIn, TicketOut
from miniapp_api.common import current_actor, db


@blp.route("/branches/<string:branch_id>/tickets")
class Tickets(MethodView):
    @blp.arguments(TicketIn)
    @blp.response(201, TicketOut)
    def post(self, data, branch_id):
        """Take a ticket: a client remotely (held until check-in), staff for a client here"""
        return queue.issue_ticket(
            db(),
            current_actor(),
            hall(),
            branch_id,
            data["service"],
            appointment_at=data["appointment_at"],
            category=data["category"],
            client_id=data["client_id"],
            request_id=data["request_id"],
            now=now(),
        )


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>")
class TicketOne(MethodView):
    @blp.response(200, TicketOut)
    def get(self, branch_id, ticket_no):
        """Today's ticket: position and estimated wait"""
        return queue_queries.get_ticket(db(), current_actor(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>/check-in")
class TicketCheckIn(MethodView):
    @blp.response(200, TicketOut)
    def post(self, branch_id, ticket_no):
        """The remote ticket's client arrived: the ticket can now be called"""
        return queue.check_in(db(), current_actor(), hall(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>/cancel")
class TicketCancel(MethodView):
    @blp.response(200, TicketOut)
    def post(self, branch_id, ticket_no):
        """Give the ticket up"""
        return queue.cancel_ticket(db(), current_actor(), hall(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/queue")
class Queue(MethodView):
    @blp.response(200, QueueOut)
    def get(self, branch_id):
        """The queue: staff see every ticket and counter; a client the summary and their own"""
        return queue_queries.queue_view(db(), current_actor(), branch_id, now())
