"""Soft queuing over HTTP: take a ticket (a client remotely, staff for a client in the hall),
look at it, check in, give it up, and the queue as the caller may see it."""

from __future__ import annotations

from flask.views import MethodView

from backend.branch.queue import queries as queue_queries
from backend.branch.queue import service as queue
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    CheckInIn,
    PresenceCodeOut,
    QueueOut,
    TicketIn,
    TicketOut,
    TicketPage,
)
from miniapp_api.common import PageArgs, current_actor, db
from miniapp_api.responses import errors

CHECK_IN_TEXTS = {
    400: "presence_code_required: a client checks in with the hall display's code; or bad body",
    403: "Staff whose role may not check clients in",
    404: "No such ticket or branch, or not the caller's (ticket_not_found, branch_not_found)",
    422: "presence_code_invalid (expired, another branch's), ticket_not_remote, ticket_expired",
}


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
    @blp.arguments(CheckInIn)
    @blp.response(200, TicketOut)
    @errors(blp, 400, 401, 403, 404, 422, texts=CHECK_IN_TEXTS)
    def post(self, body, branch_id, ticket_no):
        """The remote ticket's client is in the hall: the ticket can now be called. A client
        proves presence with presence_code, the code of the rotating QR code on the branch's
        hall display (30 s steps, accepted up to 60 s, this branch only); the branch's queue
        staff (teller, rm) check a client in beside them without it. Audited with how presence
        was shown (qr or staff)."""
        return queue.check_in(
            db(),
            current_actor(),
            hall(),
            branch_id,
            ticket_no,
            now(),
            presence_code=body["presence_code"],
        )


@blp.route("/branches/<string:branch_id>/presence-code")
class PresenceCode(MethodView):
    @blp.response(200, PresenceCodeOut)
    @errors(blp, 401, 404)
    def get(self, branch_id):
        """The branch's current check-in code and its QR text, for the hall display page (the
        branch's staff and admins; clients see it only on the display in the hall). It changes
        every 30 s; the display devices are also pushed it (display.presence)."""
        return queue_queries.presence_code(db(), current_actor(), hall().key(), branch_id, now())


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


@blp.route("/tickets/mine")
class MyTickets(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, TicketPage)
    def get(self, args):
        """My tickets at every branch, newest first: the open ones (remote, waiting, called)
        with their position and estimated wait, and those that ended in the last 24 h (a
        client's; staff hold none, so their list is empty)"""
        page, items = queue_queries.my_tickets(
            db(), current_actor(), now(), limit=args["limit"], cursor=args["cursor"]
        )
        return {"items": items, "next_cursor": page.next_cursor}
