"""A token is checked for more than its signature (issue 13, item 20): signed with the right
key but for another audience, by another issuer, without an expiry, with ``alg: none`` or
another algorithm, it is refused on HTTP (401 ``invalid_token`` in the contract's shape) and on
Socket.IO, while the same claims with the right audience and issuer pass (so each refusal is
the claim's doing, not something else wrong with the token)."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from backend.identity import tokens
from backend.platform.clock import utcnow
from tests.conftest import login
from tests.integration.test_app_errors import assert_error


def _claims(app, client, username: str = "teller1") -> dict:
    """The claims of a real login's token (the user's id and token version)."""
    secret = app.extensions["finedge"].config.secret_key
    token = login(client, username)["Authorization"].split()[1]
    return jwt.decode(token, secret, algorithms=["HS256"], audience=tokens.AUDIENCE)


def _sign(app, claims: dict, **header) -> str:
    secret = app.extensions["finedge"].config.secret_key
    return jwt.encode(claims, secret, algorithm=header.pop("alg", "HS256"), headers=header or None)


def _me(client, token: str):
    return client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {token}"})


def _socket_connects(app, token: str) -> bool:
    sock = app.extensions["finedge"].socketio.test_client(
        app, namespace="/live", auth={"token": token}
    )
    connected = sock.is_connected("/live")
    if connected:
        sock.disconnect(namespace="/live")
    return connected


def _drop(claims: dict, key: str) -> dict:
    return {k: v for k, v in claims.items() if k != key}


CASES = {
    "another audience": lambda c: {**c, "aud": "another-service"},
    "audiences without ours": lambda c: {**c, "aud": ["another-service", "a-third"]},
    "no audience": lambda c: _drop(c, "aud"),
    "another issuer": lambda c: {**c, "iss": "another-service"},
    "no issuer": lambda c: _drop(c, "iss"),
    "no expiry": lambda c: _drop(c, "exp"),
    "a string subject that is no id": lambda c: {**c, "sub": "teller1"},
    "a float version": lambda c: {**c, "ver": float(c["ver"])},
}


def test_the_right_claims_pass_as_signed_here(app, client):
    claims = _claims(app, client)
    token = _sign(app, claims)
    assert _me(client, token).status_code == 200
    assert _socket_connects(app, token)


@pytest.mark.parametrize("case", list(CASES))
def test_a_token_with_a_wrong_claim_is_refused(app, client, case):
    token = _sign(app, CASES[case](_claims(app, client)))
    assert_error(_me(client, token), 401, "invalid_token")
    assert not _socket_connects(app, token)


def test_an_expired_token_is_refused_as_expired(app, client):
    claims = _claims(app, client)
    past = int((utcnow() - timedelta(minutes=5)).timestamp())
    token = _sign(app, {**claims, "exp": past})
    assert_error(_me(client, token), 401, "token_expired")
    assert not _socket_connects(app, token)


def test_alg_none_and_other_algorithms_are_refused(app, client):
    claims = _claims(app, client)
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_error(_me(client, unsigned), 401, "invalid_token")
    other = _sign(app, claims, alg="HS512")
    assert_error(_me(client, other), 401, "invalid_token")


def test_issued_tokens_carry_issuer_audience_and_expiry(app, client):
    claims = _claims(app, client)
    assert claims["aud"] == tokens.AUDIENCE and claims["iss"] == tokens.ISSUER
    assert claims["exp"] - claims["iat"] == app.extensions["finedge"].config.token_ttl_s
