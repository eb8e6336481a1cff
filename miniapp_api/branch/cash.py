"""Cash-loading tasks over HTTP: list and make tasks (teller), read one (its loaders also see
the one-time code while the unlock is valid), approve (checker: neither the maker nor a
loader), cancel before the lock opened, review a count mismatch."""

from __future__ import annotations

from flask.views import MethodView

from backend.branch.cash import queries as cash_queries
from backend.branch.cash import service as cash
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    CancelIn,
    CashListArgs,
    CashTaskIn,
    CashTaskOut,
    CashTaskPage,
    ReviewIn,
)
from miniapp_api.common import current_actor, db


@blp.route("/cash-tasks")
class CashTasks(MethodView):
    @blp.arguments(CashListArgs, location="query")
    @blp.response(200, CashTaskPage)
    def get(self, args):
        """Cash tasks of the branches the caller may see"""
        session = db()
        page = cash_queries.list_tasks(
            session,
            current_actor(),
            branch_id=args["branch_id"],
            status=args["status"],
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {
            "items": [cash_queries.task_view(session, t) for t in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(CashTaskIn)
    @blp.response(201, CashTaskOut)
    def post(self, data):
        """Make a cash-loading task (teller): device, two loaders, window, amounts"""
        return cash.create_task(
            db(),
            current_actor(),
            hall(),
            device_id=data["device_id"],
            loaders=data["loaders"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            amounts=data["amounts"],
            lock_id=data["lock_id"],
            now=now(),
        )


@blp.route("/cash-tasks/<int:task_id>")
class CashTaskOne(MethodView):
    @blp.response(200, CashTaskOut)
    def get(self, task_id):
        """The task (its loaders also see the one-time code while the unlock is valid)"""
        return cash_queries.get_task(db(), current_actor(), hall(), task_id, now())


@blp.route("/cash-tasks/<int:task_id>/approve")
class CashTaskApprove(MethodView):
    @blp.response(200, CashTaskOut)
    def post(self, task_id):
        """Approve (checker: not the maker, not a loader)"""
        return cash.approve_task(db(), current_actor(), hall(), task_id, now())


@blp.route("/cash-tasks/<int:task_id>/cancel")
class CashTaskCancel(MethodView):
    @blp.arguments(CancelIn)
    @blp.response(200, CashTaskOut)
    def post(self, data, task_id):
        """Cancel before the lock opened"""
        return cash.cancel_task(
            db(), current_actor(), hall(), task_id, reason=data["reason"], now=now()
        )


@blp.route("/cash-tasks/<int:task_id>/review")
class CashTaskReview(MethodView):
    @blp.arguments(ReviewIn)
    @blp.response(200, CashTaskOut)
    def post(self, data, task_id):
        """Accept the counted notes of a mismatched task (checker, with a note)"""
        return cash.review_task(
            db(), current_actor(), hall(), task_id, note=data["note"], now=now()
        )
