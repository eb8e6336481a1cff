"""Login: password (POST /auth/token), mini-program (POST /auth/wx-login), and /auth/me."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.identity.tokens import issue_token
from backend.platform.errors import NotAuthenticated
from miniapp_api.common import StrictSchema, client_address, current_actor, db

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login and tokens")


class TokenRequest(StrictSchema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    password = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=200), load_only=True
    )


class WxLoginRequest(StrictSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class UserOut(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    role = ma.fields.String()
    org_id = ma.fields.Integer()


class TokenResponse(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserOut)


def _token_response(user: User) -> dict:
    ext = current_app.extensions["finedge"]
    actor = identity.actor_for(user)
    return {
        "access_token": issue_token(actor, ext.config.secret_key, ext.config.token_ttl_s),
        "token_type": "Bearer",
        "expires_in": ext.config.token_ttl_s,
        "user": user,
    }


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenResponse)
    def post(self, body):
        """Password login; 429 after repeated failures per account and per address."""
        ext = current_app.extensions["finedge"]
        cfg = ext.config
        try:
            user = identity.authenticate(
                db(),
                body["username"],
                body["password"],
                address=client_address(),
                max_failures=cfg.login_max_failures,
                max_failures_per_address=cfg.login_max_failures_per_address,
                window_s=cfg.login_window_s,
            )
        except NotAuthenticated:
            # The request's own transaction rolls back on 401; the failure must stay recorded.
            # End the request's transaction first: on SQLite it holds the write lock.
            db().rollback()
            with ext.session_factory() as session:
                identity.record_login_failure(session, body["username"], client_address())
                session.commit()
            raise
        return _token_response(user)


@blp.route("/wx-login")
class WxLogin(MethodView):
    @blp.arguments(WxLoginRequest)
    @blp.response(200, TokenResponse)
    def post(self, body):
        """Mini-program login: exchanges the wx.login code through code2session."""
        ext = current_app.extensions["finedge"]
        session = db()
        client_org = session.scalar(select(Org).where(Org.code == "CLIENTS"))
        user = identity.wx_login(session, ext.wx_provider, body["code"], client_org=client_org)
        return _token_response(user)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserOut)
    def get(self):
        """The caller, as the token says and the database confirms."""
        actor = current_actor()
        user = db().get(User, actor.user_id)
        if user is None or not user.active:
            raise NotAuthenticated("account no longer exists", code="invalid_token")
        return user
