"""Finger-vein enrolment over HTTP: a loader's consent and its withdrawal (every lock is told
to delete the template), and the enrolments on a lock (list; enrol a consenting loader;
remove one), whose templates never leave the lock."""

from __future__ import annotations

from flask.views import MethodView

from backend.branch.veins import queries as vein_queries
from backend.branch.veins import service as veins
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    EnrolmentIn,
    EnrolmentOut,
    EnrolmentPage,
    VeinConsentIn,
    VeinConsentOut,
)
from miniapp_api.common import PageArgs, current_actor, db


@blp.route("/vein/consent")
class VeinConsent(MethodView):
    @blp.response(200, VeinConsentOut)
    def get(self):
        """My finger-vein consent (loader)"""
        return vein_queries.get_consent(db(), current_actor())

    @blp.arguments(VeinConsentIn)
    @blp.response(200, VeinConsentOut)
    def post(self, data):
        """Record my consent to finger-vein enrolment on the branch's locks (loader)"""
        return veins.grant_consent(
            db(), current_actor(), text_version=data["text_version"], now=now()
        )


@blp.route("/vein/consent/withdraw")
class VeinConsentWithdraw(MethodView):
    @blp.response(200, VeinConsentOut)
    def post(self):
        """Withdraw consent: every lock is told to delete my vein template (loader)"""
        return veins.withdraw_consent(db(), current_actor(), hall(), now=now())


@blp.route("/locks/<string:lock_id>/enrolments")
class LockEnrolments(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, EnrolmentPage)
    def get(self, args, lock_id):
        """Loaders enrolled on the lock (branch staff; a loader sees only their own)"""
        page = vein_queries.list_enrolments(
            db(), current_actor(), lock_id, limit=args["limit"], cursor=args["cursor"]
        )
        return {
            "items": [vein_queries.enrolment_view(row) for row in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(EnrolmentIn)
    @blp.response(202, EnrolmentOut)
    def post(self, data, lock_id):
        """Enrol a consenting loader (teller): the lock captures the vein, which never leaves it"""
        return veins.request_enrolment(db(), current_actor(), hall(), lock_id, data["loader_id"])


@blp.route("/locks/<string:lock_id>/enrolments/<int:loader_id>")
class LockEnrolmentOne(MethodView):
    @blp.response(202, EnrolmentOut)
    def delete(self, lock_id, loader_id):
        """Remove a loader from the lock (teller): revoking until the lock confirms"""
        return veins.revoke_enrolment(db(), current_actor(), hall(), lock_id, loader_id)
