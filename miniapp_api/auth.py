"""Login: password (POST /auth/token; a lock-out's 429 carries ``Retry-After``), mini-program
(POST /auth/wx-login, 404 ``wx_login_disabled`` unless enabled), a fresh token for a session
still in force (POST /auth/refresh, what the screens call before their token expires), and
/auth/me."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.identity.rules import LoginLimits
from backend.identity.tokens import issue_token
from backend.platform.errors import NotAuthenticated, NotFound, RateLimited
from miniapp_api.common import StrictSchema, client_address, current_actor, db
from miniapp_api.errors import ErrorSchema, error_response
from miniapp_api.strict_input import Blueprint

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
    branch_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "the branch of bank staff who work at one (null: head office)"},
    )


class SessionRevokedOut(ma.Schema):
    """Live event ``session.revoked``: the user's tokens no longer work; the socket closes."""

    reason = ma.fields.String(metadata={"description": "disabled, role_changed or password_reset"})


class TokenResponse(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    user = ma.fields.Nested(UserOut)


def _token_response(user: User) -> dict:
    ext = current_app.extensions["finedge"]
    actor = identity.actor_for(user)
    return {
        "access_token": issue_token(
            actor, ext.config.secret_key, ext.config.token_ttl_s, version=user.token_version
        ),
        "token_type": "Bearer",
        "expires_in": ext.config.token_ttl_s,
        "user": user,
    }


def _too_many(exc: RateLimited, default_s: int):
    retry_after = str(exc.details.get("retry_after_s", default_s))
    return error_response(
        429, exc.code, exc.message, exc.details, headers={"Retry-After": retry_after}
    )


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenResponse)
    @blp.alt_response(
        401, schema=ErrorSchema, description="Wrong username or password, or a disabled account"
    )
    @blp.alt_response(
        429,
        schema=ErrorSchema,
        description="Too many failed logins: the account is in back-off (from this address, "
        "or from every address new to it) or the address is limited (details.scope: account, "
        "account_all_addresses, address); the Retry-After header (and details.retry_after_s) "
        "says in how many seconds to try again; the right password then works",
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    )
    def post(self, body):
        """Password login; after repeated failures the account backs off exponentially (429 with
        Retry-After, never a permanent lock) and an address is limited over all accounts; an
        admin may unlock the account: POST /admin/users/{id}/unlock (docs/admin.md)."""
        ext = current_app.extensions["finedge"]
        cfg = ext.config
        limits = LoginLimits.of(cfg)
        try:
            user = identity.authenticate(
                db(), body["username"], body["password"], address=client_address(), limits=limits
            )
        except NotAuthenticated:
            # The request's own transaction rolls back on 401; the failure must stay recorded.
            # End the request's transaction first: on SQLite it holds the write lock.
            db().rollback()
            with ext.session_factory() as session:
                identity.record_login_failure(session, body["username"], client_address(), limits)
                session.commit()
            raise
        except RateLimited as exc:
            return _too_many(exc, cfg.login_window_s)
        return _token_response(user)


@blp.route("/wx-login")
class WxLogin(MethodView):
    @blp.arguments(WxLoginRequest)
    @blp.response(200, TokenResponse)
    @blp.alt_response(
        401, schema=ErrorSchema, description="code2session refused the code (invalid_wx_code)"
    )
    @blp.alt_response(
        404, schema=ErrorSchema, description="Mini-program login is not enabled (wx_login_disabled)"
    )
    @blp.alt_response(
        429,
        schema=ErrorSchema,
        description="Too many new accounts from this address (an hour) or, with the demo's fake "
        "provider, overall (a day): wx_signup_rate_limited, with Retry-After",
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    )
    def post(self, body):
        """Mini-program login: exchanges the wx.login code through code2session; the first
        login of a WeChat user creates a client account (limited per address, and overall with
        the demo's fake provider). Enabled by FINEDGE_WX_LOGIN (with WX_APPID and WX_SECRET in
        production)."""
        ext = current_app.extensions["finedge"]
        cfg = ext.config
        if ext.wx_provider is None:
            raise NotFound("mini-program login is not enabled", code="wx_login_disabled")
        session = db()
        client_org = session.scalar(select(Org).where(Org.code == "CLIENTS"))
        try:
            user = identity.wx_login(
                session,
                ext.wx_provider,
                body["code"],
                client_org=client_org,
                address=client_address(),
                signups_per_address=cfg.wx_signups_per_address,
                signups_per_day=cfg.wx_fake_signups_per_day if cfg.fake_wx_login else None,
            )
        except RateLimited as exc:
            return _too_many(exc, 3600)
        return _token_response(user)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.response(200, TokenResponse)
    def post(self):
        """A new token for the caller, whose current token is valid and in force (not expired,
        not revoked, the account enabled and its role unchanged: the same checks as every
        request). The screens call it before their token expires; an expired token cannot be
        refreshed (log in again). Sending an Idempotency-Key is pointless: a token is never
        stored for replay."""
        actor = current_actor()
        user = db().get(User, actor.user_id)
        if user is None or not user.active:
            raise NotAuthenticated("account no longer exists", code="invalid_token")
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
