"""The screen robot (robots/screen_pledge_entry.py) and the legacy stand-in it drives
(robots/legacy_app): the stand-in's checks through Flask's test client; the robot in Debian's
headless Chromium against the stand-in served from a thread (one browser for the module)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from backend.platform.config import Config
from backend.rpa.robot import ApplicationFailure, BusinessFailure
from backend.rpa.testing import item_context, run_context
from robots import screen_pledge_entry
from robots.legacy_app import LegacyServer, create_app
from robots.screen_pledge_entry import ROBOT, chromium_path

USER, PASSWORD = "robot", "s3cret-legacy-pw"


def _pledge(vin: str = "LSVAU2180N2123456", **changes) -> dict[str, str]:
    pledge = {
        "vin": vin,
        "dealer_code": "SH1024",
        "model": "Volkswagen Passat 330TSI",
        "amount": "245800.00",
        "pledge_date": "2026-12-04",
        "warehouse_code": "WH-SH01",
    }
    pledge.update(changes)
    return pledge


def _logged_in(app):
    client = app.test_client()
    r = client.post("/login", data={"username": USER, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/menu")
    return client


# -- the stand-in's own checks (no browser) --------------------------------------------------


def test_stand_in_requires_login_and_says_it_is_a_stand_in():
    app = create_app({USER: PASSWORD})
    client = app.test_client()
    r = client.get("/pledge/new")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/pledges").status_code == 302
    r = client.post("/login", data={"username": USER, "password": "wrong"})
    assert r.status_code == 401 and b"Invalid user name or password" in r.data
    assert b"STAND-IN LEGACY SYSTEM" in r.data
    assert client.get("/menu").status_code == 302  # still not logged in
    client = _logged_in(app)
    r = client.get("/menu")
    assert r.status_code == 200 and b"STAND-IN LEGACY SYSTEM" in r.data
    assert b"Collateral pledge registration" in r.data
    app.extensions["legacy_state"].end_all_sessions()  # the system ends the session
    r = client.get("/menu")
    assert r.status_code == 302 and "/login?next=/menu" in r.headers["Location"]
    client = _logged_in(app)
    client.get("/logout")
    assert client.get("/menu").status_code == 302


def test_stand_in_ends_idle_sessions():
    app = create_app({USER: PASSWORD}, idle_s=60)
    client = _logged_in(app)
    state = app.extensions["legacy_state"]
    sid = next(iter(state.sessions))
    user, _ = state.sessions[sid]
    state.sessions[sid] = (user, datetime(2000, 1, 1, tzinfo=UTC))  # idle since long ago
    assert client.get("/menu").status_code == 302 and state.sessions == {}


def test_stand_in_registers_a_pledge_and_lists_it():
    app = create_app({USER: PASSWORD})
    client = _logged_in(app)
    r = client.post("/pledge/new", data=_pledge())
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="registration-no">PLG-000001<' in page and "245,800.00" in page
    state = app.extensions["legacy_state"]
    assert state.pledges["PLG-000001"].amount == Decimal("245800.00")
    assert state.pledges["PLG-000001"].registered_by == USER
    client.post("/pledge/new", data=_pledge("LFV2A21K8M4000001", dealer_code="BJ2001"))
    listing = client.get("/pledges?q=BJ2001").get_data(as_text=True)
    assert "PLG-000002" in listing and "PLG-000001" not in listing
    assert "PLG-000001" in client.get("/pledges").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vin": "LSVAU2180N212345"}, "VIN LSVAU2180N212345 is malformed"),
        ({"vin": "LSVAU2180N212345O"}, "is malformed"),
        ({"amount": "3000000.01"}, "Invoice amount 3,000,000.01 is over the limit of 3,000,000.00"),
        ({"amount": "12.345"}, "at most 2 decimals"),
        ({"warehouse_code": "WH-XX99"}, "Unknown warehouse code WH-XX99"),
        ({"pledge_date": "2026-13-01"}, "Pledge date must be a date"),
        ({"dealer_code": "1024"}, "Dealer code 1024 is malformed"),
    ],
)
def test_stand_in_rejects_wrong_input_on_the_page(changes, message):
    app = create_app({USER: PASSWORD})
    client = _logged_in(app)
    r = client.post("/pledge/new", data=_pledge(**changes))
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'class="error"' in page and message in page
    assert app.extensions["legacy_state"].pledges == {}


def test_stand_in_rejects_a_vin_already_registered_and_accepts_the_limit():
    app = create_app({USER: PASSWORD})
    client = _logged_in(app)
    assert client.post("/pledge/new", data=_pledge(amount="3000000.00")).status_code == 302
    r = client.post("/pledge/new", data=_pledge(amount="1000.00"))
    assert r.status_code == 422
    assert "VIN LSVAU2180N2123456 is already registered (PLG-000001)" in r.get_data(as_text=True)
    assert list(app.extensions["legacy_state"].pledges) == ["PLG-000001"]


def test_legacy_app_command_needs_a_password(monkeypatch):
    from click.testing import CliRunner

    from robots.legacy_app.cli import legacy_cli

    monkeypatch.delenv("FINEDGE_LEGACY_PASSWORD", raising=False)
    result = CliRunner().invoke(legacy_cli, ["legacy-app", "--port", "0"])
    assert result.exit_code == 2 and "FINEDGE_LEGACY_PASSWORD" in result.output


def test_produce_yields_one_item_per_record():
    ctx, _ = run_context(
        None,  # the robot's produce reads only its parameters
        Config(),
        params={"records": [_pledge(amount=Decimal("10.50"), note="x"), {"vin": "A"}]},
    )
    items = list(ROBOT.produce(ctx))
    assert items == [_pledge(amount="10.50"), {"vin": "A"}]
    assert list(ROBOT.produce(run_context(None, Config())[0])) == []
    assert ROBOT.manifest.department == "operations" and ROBOT.manifest.timeout_s == 90
    assert ROBOT.manifest.manual_minutes == Decimal("6")


def test_an_item_without_its_fields_or_a_robot_without_its_system_fails_before_the_browser(
    monkeypatch,
):
    for name in ("FINEDGE_LEGACY_URL", "FINEDGE_LEGACY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    ctx, _ = item_context(None, Config())
    with pytest.raises(ApplicationFailure) as failure:
        ROBOT.process(ctx, _pledge())
    assert failure.value.code == "not_configured"

    ctx, _ = item_context(None, _config("http://127.0.0.1:9"))
    with pytest.raises(BusinessFailure) as failure:
        ROBOT.process(ctx, {**_pledge(), "model": " ", "amount": "12,5"})
    assert failure.value.code == "bad_payload" and failure.value.details == {"missing": ["model"]}
    with pytest.raises(BusinessFailure, match="amount '12,5' is not a number"):
        ROBOT.process(ctx, {**_pledge(), "amount": "12,5"})
    # the environment when the configuration has nothing
    monkeypatch.setenv("FINEDGE_LEGACY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FINEDGE_LEGACY_PASSWORD", "from-env")
    with pytest.raises(BusinessFailure, match="missing pledge fields: vin"):
        ROBOT.process(item_context(None, Config())[0], {**_pledge(), "vin": ""})


# -- the robot in a browser ------------------------------------------------------------------


def _chromium_reason() -> str | None:
    import os

    if not os.path.exists(chromium_path()):
        return f"{chromium_path()} is absent (Debian's chromium; Playwright's own is never used)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


_REASON = _chromium_reason()
if _REASON:
    print(f"test_rpa_screen_robot: browser tests skipped: {_REASON}")
browser_test = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture(scope="module")
def legacy():
    with LegacyServer({USER: PASSWORD}) as server:
        yield server
    screen_pledge_entry.close_browser()


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        yield s
    engine.dispose()


def _config(url: str, password: str = PASSWORD, **more) -> Config:
    extra = {"FINEDGE_LEGACY_URL": url, "FINEDGE_LEGACY_USER": USER}
    extra["FINEDGE_LEGACY_PASSWORD"] = password
    extra.update(more)
    return Config(extra=extra)


@browser_test
def test_robot_drives_the_screens(legacy, session):
    """In a thread of its own, as in a worker process: Playwright's sync API refuses to start
    in a thread where another Playwright runs (the browser tests' own, in this xdist worker).
    The robot keeps one browser per thread."""
    import threading

    failures: list[BaseException] = []

    def body() -> None:
        try:
            _drive_the_screens(legacy, session)
        except BaseException as exc:
            failures.append(exc)
        finally:
            screen_pledge_entry.close_browser()

    worker = threading.Thread(target=body, name="screen-robot")
    worker.start()
    worker.join(timeout=240)
    assert not worker.is_alive(), "the screen robot's thread did not finish"
    if failures:
        raise failures[0]


def _drive_the_screens(legacy, session):
    """One test (one browser, one worker under xdist), in the order a worker meets them:
    system failures first, then the browser, still the same, enters pledges and gets rejected."""
    # wrong password: APPLICATION (retried), the password not in the message
    ctx, _ = item_context(session, _config(legacy.url, password="wrong-password"))
    with pytest.raises(ApplicationFailure) as failure:
        ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000014"))
    assert failure.value.code == "login_failed" and "wrong-password" not in str(failure.value)
    first_browser = screen_pledge_entry.browser()

    # the system stopped: APPLICATION, not BUSINESS
    stopped = LegacyServer({USER: PASSWORD}).start()
    stopped.stop()
    ctx, _ = item_context(session, _config(stopped.url))
    with pytest.raises(ApplicationFailure) as failure:
        ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000015"))
    assert failure.value.code == "legacy_unreachable"
    assert not isinstance(failure.value, BusinessFailure)

    # a system that takes the connection and never answers: a timeout
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        ctx, _ = item_context(session, _config(url, FINEDGE_LEGACY_TIMEOUT_S="0.5"))
        with pytest.raises(ApplicationFailure) as failure:
            ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000016"))
        assert failure.value.code == "legacy_timeout"
    finally:
        silent.close()

    # the pledge entered through the screens: the number is the one in the system's list
    ctx, got = item_context(session, _config(legacy.url), item_id=11)
    result = ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000011"))
    number = result["registration_no"]
    assert number.startswith("PLG-") and "recovered" not in result
    pledge = legacy.state.pledges[number]
    assert (pledge.vin, pledge.amount, pledge.registered_by) == (
        "WVWZZZ3CZWE000011",
        Decimal("245800.00"),
        USER,
    )
    listing = _logged_in(legacy.app).get("/pledges?q=WVWZZZ3CZWE000011").get_data(as_text=True)
    assert number in listing
    assert all(PASSWORD not in message for _level, message in got.logs)
    assert got.artefacts == []
    assert screen_pledge_entry.browser() is first_browser  # reused across items and failures

    # a retry of an item whose first attempt registered it: the same number, nothing doubled;
    # the system ended the robot's session meanwhile: it logs in again
    legacy.state.end_all_sessions()
    ctx, got = item_context(session, _config(legacy.url), item_id=11, attempt=2)
    assert ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000011")) == {
        "registration_no": number,
        "recovered": True,
    }
    assert len([p for p in legacy.state.pledges.values() if p.vin == "WVWZZZ3CZWE000011"]) == 1
    assert any("logged in" in message for _level, message in got.logs)

    # the form rejected on the page: BUSINESS, the page's message, a screenshot; the session
    # of the last login is reused
    ctx, got = item_context(session, _config(legacy.url), item_id=12)
    with pytest.raises(BusinessFailure) as rejected:
        ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000012", amount="3500000"))
    assert rejected.value.code == "form_rejected"
    error = "Invoice amount 3,500,000.00 is over the limit of 3,000,000.00"
    assert error in rejected.value.message and rejected.value.details["error"] == error
    (name, png, content_type) = got.artefacts[0]
    assert (name, content_type) == ("rejected.png", "image/png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and rejected.value.details["screenshot"] == 1
    assert all(p.vin != "WVWZZZ3CZWE000012" for p in legacy.state.pledges.values())
    assert not any("logged in" in message for _level, message in got.logs)

    # a VIN registered with other data stays a rejection, on a retry too
    ctx, _ = item_context(session, _config(legacy.url), item_id=13, attempt=2)
    with pytest.raises(BusinessFailure, match="already registered"):
        ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000011", dealer_code="GZ3003"))

    # the browser's driver dies: that item is an APPLICATION failure, the next one relaunches
    screen_pledge_entry._local.playwright.stop()
    ctx, _ = item_context(session, _config(legacy.url), item_id=18)
    with pytest.raises(ApplicationFailure) as failure:
        ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000018"))
    assert failure.value.code == "browser_failed"
    ctx, _ = item_context(session, _config(legacy.url), item_id=18, attempt=2)
    result = ROBOT.process(ctx, _pledge("WVWZZZ3CZWE000018"))
    assert result["registration_no"] == legacy.state.by_vin["WVWZZZ3CZWE000018"]
    assert screen_pledge_entry.browser() is not first_browser
