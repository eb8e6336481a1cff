"""Socket.IO /live: JWT checked on connect; events reach only the rooms they name."""

from backend.platform.live import rooms_for


def _token(client, username):
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": f"{username}-demo"}
    ).get_json()


def test_connect_requires_valid_token(app, client):
    socketio = app.extensions["finedge"].socketio
    anonymous = socketio.test_client(app, namespace="/live")
    assert not anonymous.is_connected("/live")
    forged = socketio.test_client(app, namespace="/live", auth={"token": "x.y.z"})
    assert not forged.is_connected("/live")
    good = socketio.test_client(
        app, namespace="/live", auth={"token": _token(client, "dealer1")["access_token"]}
    )
    assert good.is_connected("/live")
    good.disconnect(namespace="/live")
    # a token in the URL is refused: it would land in access logs and proxies
    in_url = socketio.test_client(
        app, namespace="/live", query_string=f"token={_token(client, 'dealer1')['access_token']}"
    )
    assert not in_url.is_connected("/live")


def test_events_go_only_to_their_audience(app, client):
    ext = app.extensions["finedge"]
    d1 = _token(client, "dealer1")
    d2 = _token(client, "dealer2")
    c1 = ext.socketio.test_client(app, namespace="/live", auth={"token": d1["access_token"]})
    c2 = ext.socketio.test_client(  # the handshake's Authorization header works too
        app, namespace="/live", headers={"Authorization": f"Bearer {d2['access_token']}"}
    )
    assert c1.is_connected("/live") and c2.is_connected("/live")
    ext.live.send("vehicle.alert", {"vin": "V1"}, rooms=rooms_for(orgs=[d1["user"]["org_id"]]))
    ext.live.emit("client.arrived", {"client_id": 1}, rooms=rooms_for(users=[d2["user"]["id"]]))
    ext.live.emit("queue.update", {"n": 1}, rooms=[])  # no audience: sent to nobody
    # rooms an event's audience rule does not allow are dropped (REST would not show it)
    ext.live.emit("device.state", {"device_id": "V1"}, rooms=rooms_for(orgs=[d1["user"]["org_id"]]))
    got1 = [(e["name"], e["args"][0]) for e in c1.get_received("/live")]
    got2 = [(e["name"], e["args"][0]) for e in c2.get_received("/live")]
    assert got1 == [("vehicle.alert", {"vin": "V1"})]
    assert got2 == [("client.arrived", {"client_id": 1})]  # rendered by its declared schema
