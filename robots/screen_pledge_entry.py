"""Screen robot: registers collateral pledges in the legacy collateral system through its web
screens, in headless Chromium driven by Playwright (docs/rpa-screen.md).

One item is one pledge: log in, open the registration form from the menu, fill it, submit, read
the registration number from the confirmation page. The system's on-page rejection of the form
(VIN already registered, amount over the limit, unknown warehouse, malformed VIN...) is the
item's fault: ``BusinessFailure("form_rejected")`` with the page's message and a screenshot kept
with the run. The system down, a timeout, a failed login or a page the robot does not know is
an APPLICATION failure (retried).

Configuration (``ctx.config.extra`` first, then the environment, same names):
FINEDGE_LEGACY_URL (the system's base URL), FINEDGE_LEGACY_USER (default ``robot``),
FINEDGE_LEGACY_PASSWORD (never logged), FINEDGE_LEGACY_TIMEOUT_S (one page action, default 15).
FINEDGE_CHROMIUM is the browser (default Debian's /usr/bin/chromium; Playwright's own browsers
are never downloaded).

One browser per worker thread (the Playwright sync API belongs to the thread that started it;
a worker process runs its items on one thread, so one per process): launched with the first
item, reused, relaunched if it died, closed at exit. Each item gets a fresh browser context,
closed after the item, that starts with the session cookie of the last login to that system as
that user: the robot logs in again only when the system has ended the session.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from backend.rpa.robot import (
    ApplicationFailure,
    BusinessFailure,
    ItemContext,
    Manifest,
    Robot,
    RunContext,
)

FIELDS = ("vin", "dealer_code", "model", "amount", "pledge_date", "warehouse_code")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    return os.environ.get("FINEDGE_CHROMIUM", "/usr/bin/chromium")


class _Browser(threading.local):
    playwright: Any = None
    browser: Any = None
    pid: int = 0

    def __init__(self) -> None:
        # (url, user) -> the storage state (cookies) of the last login: each item's context is
        # fresh but starts with the system's session, logging in again only when it expired
        self.sessions: dict[tuple[str, str], Any] = {}


_local = _Browser()
_all: list[tuple[Any, Any]] = []  # (playwright, browser) of every thread, for atexit
_all_lock = threading.Lock()


def browser() -> Any:
    """This thread's browser, launched on first use (or after it died)."""
    if _local.pid != os.getpid():  # a forked child: the parent's driver is not ours to use
        _local.playwright = _local.browser = None
        _local.pid = os.getpid()
        _local.sessions.clear()
        with _all_lock:
            _all.clear()
    if _local.browser is not None and _local.browser.is_connected():
        return _local.browser
    if _local.playwright is None:
        from playwright.sync_api import sync_playwright

        _local.playwright = sync_playwright().start()
    try:
        _local.browser = _local.playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
    except Exception:
        # the driver itself may be what died: the next item starts a new one
        _shut(_local.playwright, None)
        _local.playwright = _local.browser = None
        raise
    with _all_lock:
        if not _all:
            atexit.register(close_browsers)
        _all.append((_local.playwright, _local.browser))
    return _local.browser


def close_browser() -> None:
    """Close this thread's browser and its Playwright driver (a test module's teardown)."""
    playwright, browser_ = _local.playwright, _local.browser
    _local.playwright = _local.browser = None
    with _all_lock:
        _all[:] = [pair for pair in _all if pair[0] is not playwright]
    _shut(playwright, browser_)


def close_browsers() -> None:
    """At exit: close every browser still open (another thread's may refuse: the driver then
    ends with the process, taking its browser with it)."""
    with _all_lock:
        pairs, _all[:] = list(_all), []
    for playwright, browser_ in pairs:
        _shut(playwright, browser_)


def _shut(playwright: Any, browser_: Any) -> None:
    for step in (getattr(browser_, "close", None), getattr(playwright, "stop", None)):
        if step is None:
            continue
        with contextlib.suppress(Exception):  # best effort: the process ends anyway
            step()


def _setting(ctx: RunContext, name: str, default: str = "") -> str:
    value = ctx.config.extra.get(name)
    if value in (None, ""):
        value = os.environ.get(name, default)
    return str(value)


def produce(ctx: RunContext) -> Iterable[dict[str, Any]]:
    """One item per pending pledge passed in the run's ``records`` (a hand or API run). A
    record's fields other than the payload's are dropped; a missing field is left missing (the
    factory refuses the item)."""
    records = ctx.params.get("records") or []
    if not isinstance(records, list):
        raise ValueError("params.records must be a list of pledges")
    for record in records:
        if not isinstance(record, dict):
            raise ValueError("params.records must hold objects")
        payload = {name: str(record[name]).strip() for name in FIELDS if name in record}
        yield payload


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    url = _setting(ctx, "FINEDGE_LEGACY_URL").rstrip("/")
    user = _setting(ctx, "FINEDGE_LEGACY_USER", "robot")
    password = _setting(ctx, "FINEDGE_LEGACY_PASSWORD")
    if not url or not password:
        raise ApplicationFailure(
            "not_configured", "FINEDGE_LEGACY_URL and FINEDGE_LEGACY_PASSWORD must be set"
        )
    try:
        timeout_ms = int(float(_setting(ctx, "FINEDGE_LEGACY_TIMEOUT_S", "15")) * 1000)
    except ValueError:
        timeout_ms = 15000
    form = _form_values(payload)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        context = browser().new_context(
            viewport={"width": 1024, "height": 768}, storage_state=_local.sessions.get((url, user))
        )
    except Exception as exc:
        close_browser()  # a dead browser or driver: the next item starts afresh
        raise ApplicationFailure("browser_failed", f"the browser failed: {_first(exc)}") from exc
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.set_default_navigation_timeout(timeout_ms)
        try:
            return _enter(ctx, page, url, user, password, form)
        except PlaywrightTimeout as exc:
            raise ApplicationFailure(
                "legacy_timeout", f"the legacy system did not answer in time: {_first(exc)}"
            ) from exc
        except PlaywrightError as exc:
            if "net::ERR_" in str(exc):
                raise ApplicationFailure(
                    "legacy_unreachable", f"the legacy system is unreachable: {_first(exc)}"
                ) from exc
            close_browser()  # the next item starts a new one
            raise ApplicationFailure(
                "browser_failed", f"the browser failed: {_first(exc)}"
            ) from exc
    finally:
        with contextlib.suppress(Exception):  # the browser may be gone: the next item relaunches
            context.close()


def _form_values(payload: dict[str, Any]) -> dict[str, str]:
    missing = [name for name in FIELDS if str(payload.get(name, "")).strip() == ""]
    if missing:
        raise BusinessFailure(
            "bad_payload", f"missing pledge fields: {', '.join(missing)}", {"missing": missing}
        )
    values = {name: str(payload[name]).strip() for name in FIELDS}
    try:
        amount = Decimal(values["amount"])
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise BusinessFailure(
            "bad_payload", f"amount {values['amount']!r} is not a number", {"field": "amount"}
        )
    # typed as the system shows amounts: two decimals, no grouping
    values["amount"] = (
        f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else str(amount)
    )
    return values


def _enter(
    ctx: ItemContext, page: Any, url: str, user: str, password: str, form: dict[str, str]
) -> dict[str, Any]:
    page.goto(f"{url}/menu")
    if page.locator("#menu-new-pledge").count() == 0:  # no session (or it expired): log in
        _login(page, url, user, password)
        ctx.log(f"logged in to {url} as {user}")
    if ctx.attempt > 1:
        # a retry: the previous attempt may have registered the pledge before it died
        number = _already_ours(page, url, user, form)
        if number:
            ctx.log(f"pledge {form['vin']} found registered by an earlier attempt: {number}")
            return {"registration_no": number, "recovered": True}
        page.goto(f"{url}/menu")
    page.click("#menu-new-pledge")
    page.wait_for_selector("#vin")
    for name in FIELDS:
        page.fill(f"#{name}", form[name])
    page.click("#register")
    page.wait_for_load_state()
    number_cell = page.locator("#registration-no")
    if number_cell.count() == 1:
        number = number_cell.inner_text().strip()
        ctx.log(f"pledge {form['vin']} registered as {number}")
        return {"registration_no": number}
    error = _error_text(page)
    screenshot = page.screenshot(full_page=True)
    if error:
        artefact = ctx.artefact("rejected.png", screenshot, "image/png")
        ctx.log(f"pledge {form['vin']} rejected: {error}", "warning")
        raise BusinessFailure(
            "form_rejected",
            f"the legacy system rejected the pledge: {error}",
            {"error": error, "screenshot": artefact, "vin": form["vin"]},
        )
    ctx.artefact("unexpected.png", screenshot, "image/png")
    raise ApplicationFailure("unexpected_page", f"unexpected page after submit: {page.url}")


def _login(page: Any, url: str, user: str, password: str) -> None:
    if page.locator("#username").count() == 0:
        page.goto(f"{url}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_load_state()
    if page.locator("#menu-new-pledge").count() == 0:
        _local.sessions.pop((url, user), None)
        error = _error_text(page)
        raise ApplicationFailure(
            "login_failed", f"login to the legacy system as {user} failed: {error or page.url}"
        )
    # the session cookie, for the next items' fresh contexts (the system's own session)
    _local.sessions[(url, user)] = page.context.storage_state()


def _already_ours(page: Any, url: str, user: str, form: dict[str, str]) -> str | None:
    """The registration number of a pledge with this VIN and every field this item typed,
    registered by the robot's user (an earlier attempt's); None otherwise (a different pledge
    with this VIN stays a rejection for a person to review)."""
    page.goto(f"{url}/pledges?q={quote(form['vin'])}")
    for row in page.locator("tr.pledge").all():
        cells = {
            name: row.locator(f"td.{css}").inner_text().strip()
            for name, css in (
                ("no", "no"),
                ("vin", "vin"),
                ("dealer_code", "dealer"),
                ("amount", "amount"),
                ("pledge_date", "date"),
                ("warehouse_code", "wh"),
                ("by", "by"),
            )
        }
        if (
            cells["vin"] == form["vin"].upper()
            and cells["dealer_code"] == form["dealer_code"].upper()
            and cells["amount"] == form["amount"]
            and cells["pledge_date"] == form["pledge_date"]
            and cells["warehouse_code"] == form["warehouse_code"].upper()
            and cells["by"] == user
        ):
            return cells["no"]
    return None


def _error_text(page: Any) -> str:
    error = page.locator(".error")
    return error.first.inner_text().strip() if error.count() else ""


def _first(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


ROBOT = Robot(
    manifest=Manifest(
        name="screen_pledge_entry",
        version="1.0.0",
        department="operations",
        title="Pledge entry in the legacy collateral system",
        description=(
            "Types each pending collateral pledge into the legacy collateral system's "
            "registration screen and keeps the registration number it gives."
        ),
        input_schema={
            "vin": "str",
            "dealer_code": "str",
            "model": "str",
            "amount": "decimal",
            "pledge_date": "date",
            "warehouse_code": "str",
        },
        timeout_s=90,
        manual_minutes=Decimal("6"),
    ),
    produce=produce,
    process=process,
)
