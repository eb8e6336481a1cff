"""Tokens never reach a log (issue 13, item 8): real requests to the development server
(Werkzeug, as ``finedge serve`` runs it outside production) with a JWT in the URL, the
Authorization header and the Socket.IO handshake; the server's log is captured and holds no
token. A Socket.IO connect with the token in the query string is refused (the auth payload or
the handshake's Authorization header work). The production server's (gevent) access log:
tests/e2e/test_web_token_logging.py."""

from __future__ import annotations

import logging
import threading

import pytest
import requests
import socketio
from werkzeug.serving import make_server

from backend.platform.redaction import REDACTED, redact
from tests.conftest import login

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def _http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _live(base: str, **kwargs) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(base, namespaces=["/live"], transports=["polling"], wait_timeout=10, **kwargs)
    return client


def test_no_token_reaches_the_server_log(app, client, served, caplog):
    caplog.set_level(logging.INFO)
    token = login(client, "teller1")["Authorization"].split()[1]
    signature = token.rsplit(".", 1)[1]
    http = _http()
    # the request line of a Socket.IO handshake with the token in the URL (as the issue saw)
    opened = http.get(f"{served}/socket.io/?EIO=4&transport=polling&token={token}", timeout=10)
    assert opened.status_code == 200
    # an API call with the token in the header and, needlessly, in the URL too
    orgs = http.get(
        f"{served}/api/v1/orgs?access_token={token}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert orgs.status_code == 200
    # a token in the query string is refused by /live; the auth payload and the header work
    with pytest.raises(socketio.exceptions.ConnectionError):
        _live(f"{served}?token={token}")
    for kwargs in ({"auth": {"token": token}}, {"headers": {"Authorization": f"Bearer {token}"}}):
        sock = _live(served, **kwargs)
        assert sock.connected
        sock.disconnect()
    # and anything else the app logs with a token in it, in its message or its traceback
    logging.getLogger("finedge.test").error("refused %s (Authorization: Bearer %s)", token, token)
    try:
        raise ValueError(f"bad request /x?token={token}")
    except ValueError:
        logging.getLogger("finedge.test").exception("failed")

    text = caplog.text
    assert "/socket.io/?EIO=4&transport=polling&token=" + REDACTED in text  # the line is there
    assert "/api/v1/orgs?access_token=" + REDACTED in text
    assert token not in text and signature not in text
    for record in caplog.records:
        assert token not in record.getMessage()


def test_redact_keeps_what_is_not_a_token():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = "GET /x?a=1&token={}&b=2 HTTP/1.1"
    assert redact(line.format(jwt)) == line.format(REDACTED)
    assert redact(f"Authorization: Bearer {jwt}") == f"Authorization: Bearer {REDACTED}"
    assert redact(f"'HTTP_COOKIE': 'x={jwt}'") == f"'HTTP_COOKIE': 'x={REDACTED}'"
    assert redact("GET /api/v1/devices?branch_id=BR001 HTTP/1.1") == (
        "GET /api/v1/devices?branch_id=BR001 HTTP/1.1"
    )
