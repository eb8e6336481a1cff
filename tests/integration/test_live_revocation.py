"""Socket.IO ``/live`` and revoked users: a connect is checked against the user's row, and a
disabled, demoted or reset user's connected sockets get ``session.revoked`` and are closed at
once, while another user's stay connected and keep receiving. (Across web instances through
Redis: tests/integration/test_live_revocation_redis.py.)"""

from sqlalchemy import select

from backend.identity.models import User
from backend.platform.live import rooms_for
from tests.conftest import login
from tests.iot_support import wait_for

USERS = "/api/v1/admin/users"


def _token(client, username: str) -> str:
    return login(client, username)["Authorization"].split()[1]


def _socket(app, token: str):
    return app.extensions["finedge"].socketio.test_client(
        app, namespace="/live", auth={"token": token}
    )


def _id(app, username: str) -> int:
    with app.extensions["finedge"].session_factory() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _events(sock) -> list[tuple[str, dict]]:
    """What the socket received, also once closed (the test client's own record)."""
    return [(e["name"], e["args"][0]) for e in sock.queue if e["namespace"] == "/live"]


def test_disable_closes_that_users_sockets_and_no_others(app, client, auth):
    t1, t2 = _token(client, "teller1"), _token(client, "teller2")
    first, second, other = _socket(app, t1), _socket(app, t1), _socket(app, t2)
    assert first.is_connected("/live") and second.is_connected("/live")
    assert other.is_connected("/live")
    done = client.post(f"{USERS}/{_id(app, 'teller1')}/disable", headers=auth("admin"))
    assert done.status_code == 200
    wait_for(lambda: not first.is_connected("/live"), what="teller1's first socket closed")
    wait_for(lambda: not second.is_connected("/live"), what="teller1's second socket closed")
    assert ("session.revoked", {"reason": "disabled"}) in _events(first)
    assert other.is_connected("/live")
    app.extensions["finedge"].live.emit(
        "device.state", {"device_id": "X"}, rooms=rooms_for(branches=["BR001"])
    )
    assert ("device.state", {"device_id": "X"}) in _events(other)
    assert not _socket(app, t1).is_connected("/live")  # reconnecting is refused
    other.disconnect(namespace="/live")


def test_demotion_and_password_reset_close_sockets_and_refuse_the_old_token(app, client, auth):
    rm_token = _token(client, "rm1")
    rm = _socket(app, rm_token)
    assert rm.is_connected("/live")
    changed = client.patch(
        f"{USERS}/{_id(app, 'rm1')}", json={"role": "teller"}, headers=auth("admin")
    )
    assert changed.status_code == 200
    wait_for(lambda: not rm.is_connected("/live"), what="rm1's socket closed")
    assert ("session.revoked", {"reason": "role_changed"}) in _events(rm)
    assert not _socket(app, rm_token).is_connected("/live")
    fresh = _socket(app, _token(client, "rm1"))
    assert fresh.is_connected("/live")  # a new login connects, as a teller now
    fresh.disconnect(namespace="/live")

    loader = _socket(app, _token(client, "loader1"))
    url = f"{USERS}/{_id(app, 'loader1')}/reset-password"
    reset = client.post(url, json={"password": "a-new-password"}, headers=auth("admin"))
    assert reset.status_code == 200
    wait_for(lambda: not loader.is_connected("/live"), what="loader1's socket closed")


def test_a_revocation_rolled_back_closes_nothing(app, client, auth):
    t2 = _socket(app, _token(client, "teller2"))
    own = _id(app, "admin")
    response = client.post(f"{USERS}/{own}/disable", headers=auth("admin"))  # refused: 409
    assert response.status_code == 409
    admin_socket = _socket(app, auth("admin")["Authorization"].split()[1])
    assert admin_socket.is_connected("/live") and t2.is_connected("/live")
    admin_socket.disconnect(namespace="/live")
    t2.disconnect(namespace="/live")


def test_a_revocation_whose_event_never_arrives_still_stops_the_socket(app, client, monkeypatch):
    """``finedge users disable`` in another process without Redis: no ``session.revoked``
    reaches this instance; the next event delivered here re-checks the connected users first,
    so the disabled user's socket is closed and does not get it, the other user's does."""
    from click.testing import CliRunner

    from backend.cli import main

    ext = app.extensions["finedge"]
    ext.extras["live_sockets"].every_s = 0  # re-check before every event (default: 1 s)
    disabled, other = (
        _socket(app, _token(client, "loader1")),
        _socket(app, _token(client, "loader2")),
    )
    # a first event: the first re-check reads every connected user; later ones only the users
    # revoked since the one before (users.revoked_at)
    ext.live.send("queue.update", {"n": 0}, rooms=rooms_for(branches=["BR001"]))
    assert ("queue.update", {"n": 0}) in _events(disabled)
    monkeypatch.setenv("DATABASE_URL", ext.config.database_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["users", "disable", "loader1"])
    assert result.exit_code == 0, result.output
    assert disabled.is_connected("/live")  # nothing told this instance
    ext.live.send("queue.update", {"branch_id": "BR001"}, rooms=rooms_for(branches=["BR001"]))
    assert not disabled.is_connected("/live")
    assert ("queue.update", {"branch_id": "BR001"}) not in _events(disabled)
    assert ("queue.update", {"branch_id": "BR001"}) in _events(other)
    other.disconnect(namespace="/live")
