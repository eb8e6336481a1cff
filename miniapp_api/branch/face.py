"""Face recognition over HTTP: the branch's match tolerance (admin), a client's consent, its
withdrawal (every encoding deleted at once) and enrolment (a photo, or an encoding computed on
the phone), and the arrivals of an RM's VIP clients."""

from __future__ import annotations

import base64
import binascii

from flask.views import MethodView

from backend.branch.face import queries as face_queries
from backend.branch.face import service as face
from backend.platform.errors import ValidationFailed
from miniapp_api.branch.blueprint import blp, hall, now
from miniapp_api.branch.schemas import (
    ArrivalPage,
    ConsentIn,
    ConsentOut,
    EnrolIn,
    SettingsIn,
    SettingsOut,
)
from miniapp_api.common import PageArgs, current_actor, db


@blp.route("/branches/<string:branch_id>/settings")
class Settings(MethodView):
    @blp.arguments(SettingsIn)
    @blp.response(200, SettingsOut)
    def patch(self, data, branch_id):
        """Hall settings of the branch (admin): the face match tolerance"""
        return face.set_face_tolerance(
            db(), current_actor(), branch_id, data["face_tolerance"], now()
        )


@blp.route("/face/consent")
class Consent(MethodView):
    @blp.response(200, ConsentOut)
    def get(self):
        """My face-recognition consent (client)"""
        return face_queries.get_consent(db(), current_actor())

    @blp.arguments(ConsentIn)
    @blp.response(200, ConsentOut)
    def post(self, data):
        """Record my consent to face recognition at the branch door (client)"""
        return face.grant_consent(
            db(), current_actor(), text_version=data["text_version"], now=now()
        )


@blp.route("/face/consent/withdraw")
class ConsentWithdraw(MethodView):
    @blp.response(200, ConsentOut)
    def post(self):
        """Withdraw consent: every encoding of my face is deleted at once (client)"""
        return face.withdraw_consent(db(), current_actor(), now=now())


@blp.route("/face/enrol")
class Enrol(MethodView):
    @blp.arguments(EnrolIn)
    @blp.response(201, ConsentOut)
    def post(self, data):
        """Enrol my face (after consent): a photo, or an encoding from the phone (client)"""
        image = None
        if data["image"] is not None:
            try:
                image = base64.b64decode(data["image"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed(
                    "image must be base64", code="invalid_image", details={"image": ["base64"]}
                ) from None
        return face.enrol(
            db(), current_actor(), hall(), image=image, encoding=data["encoding"], now=now()
        )


@blp.route("/face/arrivals")
class Arrivals(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ArrivalPage)
    def get(self, args):
        """My VIP clients recognised at a branch door, newest first (rm; admin: every VIP's):
        what the ``client.arrived`` push announced, and repeated sightings within its quiet
        time. Other roles: 403."""
        return face_queries.list_arrivals(db(), current_actor(), **args)
