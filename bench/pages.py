"""``finedge bench pages``: how long a page takes to be usable in headless Chromium, against
the time of the same API calls alone, measured in the same run.

A live ``finedge serve`` (bench/live_site.py, as the browser tests use) runs on a fresh SQLite
database seeded with ``finedge seed --dealers 2 --cars 10000`` (its progress bars on standard
error), so that the dealer whose inventory is opened holds about 5,000 of the 10,000 cars; and
branch BR001 gets waiting tickets up to 200 through the API: client1 takes one of each service
remotely and checks in with the hall display's presence code (a client may hold one open
ticket a service, and new mini-program accounts are limited per address), then teller1 issues
the rest for walk-in clients (``POST /branches/BR001/tickets``). Pages:

- ``inventory``: /m/dealer/inventory (phone), as a user of the dealer with the most cars in stock
  (created through the admin API when that dealer has none), rows ``#cars [data-vin]``;
- ``board``: /console/hall/board (desktop), as teller1, tickets ``#waiting [data-ticket]``;
- ``dealer_home``: /m/dealer/home (phone), the same dealer, figures ``#figures .stat``: the
  reference page, which proves the harness whichever pages exist.

A page is usable at the first moment its ``<main data-ready="1">`` mark (set by finedge.js when
the first render is done) and at least one of its list elements are both there: a
MutationObserver installed before the page's scripts takes ``performance.now()`` (milliseconds
since the navigation started) then, and counts the elements. Each page is logged in to once
(the session lives in the tab), loaded once cold, then ``repetitions`` times. The API calls of
a load (its /api/v1 requests up to usable, from Playwright's request events and timings) are
replayed with ``requests`` and the page's token after every load: in waves with the page's
concurrency (a call that started before any earlier call of its wave had answered goes with
that wave, the others wait for the wave before them), timed from the first request sent to the
last response read. A page that does not exist (HTTP 404) is said on standard error ("page
missing: 404") and has no rows: no figure is made up.

Rows, for each page: the median and the p90 time to usable (ms) with the API calls' median and
p90 as the baseline; ``ratio`` is API / page (higher is better, docs/CONTRACT.md §4), so the
aim "the page adds at most 50 % to its API time" is a ratio of at least 0.67; ``params`` also
hold ``page_over_api`` (the aim: at most 1.5), the element count, the calls replayed and the
first (cold) load. Nothing is asserted here.

Options: ``quick`` (300 cars, 20 tickets, 3 repetitions), ``cars``, ``dealers``, ``tickets``,
``repetitions``, ``pages`` (names, comma-separated). Chromium is /usr/bin/chromium (or
FINEDGE_CHROMIUM); without it the benchmark fails at once, saying so.
"""

from __future__ import annotations

import json
import math
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.live_site import (
    DESKTOP,
    PHONE,
    LiveServer,
    chromium_reason,
    launch_chromium,
    live_server,
    login,
)

TIME_LIMIT_S = {"quick": 150.0, "full": 1800.0}
AIM_PAGE_OVER_API = 1.5  # the page adds at most 50 % to the time of its API calls
BRANCH = "BR001"
TELLER = "teller1"
READY_TIMEOUT_MS = 60_000  # navigation start to main[data-ready]
ITEMS_TIMEOUT_MS = 10_000  # main[data-ready] to the first list element
MAX_CONNECTIONS = 6  # a browser's connections to one HTTP/1.1 host


@dataclass(frozen=True)
class Target:
    name: str
    surface: str
    path: str
    selector: str
    phone: bool

    @property
    def url_path(self) -> str:
        return f"/{self.surface}/{self.path}"


TARGETS = (
    Target("dealer_home", "m", "dealer/home", "#figures .stat", phone=True),
    Target("inventory", "m", "dealer/inventory", "#cars [data-vin]", phone=True),
    Target("board", "console", "hall/board", "#waiting [data-ticket]", phone=False),
)

# Installed before any script of every document: the usable mark (see the module's docstring).
USABLE_JS = """
(() => {
  const selector = %s;
  const check = () => {
    if (window.__feUsable !== undefined || !document.querySelector("main[data-ready]")) return;
    if (window.__feReady === undefined) window.__feReady = performance.now();
    const count = document.querySelectorAll(selector).length;
    if (count > 0) {
      window.__feUsable = performance.now();
      window.__feCount = count;
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"],
  });
})();
"""


def unavailable() -> str | None:
    """Why this benchmark cannot run here (None: it can)."""
    reason = chromium_reason()
    return f"no headless Chromium: {reason}" if reason else None


def say(message: str) -> None:
    print(f"pages: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dealer:
    username: str
    password: str
    code: str
    in_stock: int


def dealer_with_most_cars(server: LiveServer) -> Dealer:
    """The dealer org with the most cars in stock and one of its users: a demo user (password
    ``<username>-demo``) if it has one, else a new one created by admin through the API."""
    from sqlalchemy import func, select

    from backend.floorplan.models import Vehicle
    from backend.identity.models import Org, User
    from backend.platform.db import make_engine

    engine = make_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as db:
            org_id, code, in_stock = db.execute(
                select(Org.id, Org.code, func.count(Vehicle.id))
                .join(Vehicle, Vehicle.dealer_org_id == Org.id)
                .where(Vehicle.status == "in_stock")
                .group_by(Org.id, Org.code)
                .order_by(func.count(Vehicle.id).desc(), Org.id)
                .limit(1)
            ).one()
            users = db.scalars(
                select(User.username)
                .where(User.org_id == org_id, User.role == "dealer", User.active.is_(True))
                .order_by(User.id)
            ).all()
    finally:
        engine.dispose()
    for username in users:
        try:
            server.token(username)
        except requests.HTTPError:
            continue  # not a demo password
        return Dealer(username, f"{username}-demo", code, in_stock)
    username, password = f"bench-{code.lower()}", secrets.token_urlsafe(18)
    made = server.api(
        "POST",
        "/admin/users",
        "admin",
        json={"username": username, "password": password, "role": "dealer", "org_id": org_id},
    )
    if made.status_code != 201:
        raise RuntimeError(f"creating dealer user {username}: {made.status_code} {made.text}")
    say(f"created dealer user {username} of {code} through the admin API")
    return Dealer(username, password, code, in_stock)


def waiting_tickets(server: LiveServer) -> int:
    r = server.api("GET", f"/branches/{BRANCH}/queue", TELLER)
    r.raise_for_status()
    return sum(1 for t in r.json().get("tickets") or () if t.get("status") == "waiting")


def client_tickets(server: LiveServer, client: str = "client1") -> int:
    """The client takes a ticket of each service remotely and checks in at the branch with the
    hall display's presence code, as a client in the hall would: the tickets that wait then.
    A service the client already has an open ticket of is passed over."""
    from backend.branch import rules

    code = server.api("GET", f"/branches/{BRANCH}/presence-code", TELLER)
    code.raise_for_status()
    taken = 0
    for service in rules.SERVICES:
        r = server.api("POST", f"/branches/{BRANCH}/tickets", client, json={"service": service})
        if r.status_code == 409:  # open_ticket_exists
            continue
        if r.status_code != 201:
            raise RuntimeError(
                f"{client} taking a {service} ticket: {r.status_code} {r.text[:300]}"
            )
        number = r.json()["ticket_no"]
        checked = server.api(
            "POST",
            f"/branches/{BRANCH}/tickets/{number}/check-in",
            client,
            json={"presence_code": code.json()["code"]},
        )
        if checked.status_code != 200:
            raise RuntimeError(f"{client} checking in {number}: {checked.status_code}")
        taken += 1
    return taken


def fill_queue(server: LiveServer, wanted: int) -> int:
    """Waiting tickets at the branch up to ``wanted``: client1's own (one a service, checked
    in), then tickets the teller issues for walk-in clients."""
    from backend.branch import rules

    services, categories = list(rules.SERVICES), list(rules.CATEGORIES)
    if waiting_tickets(server) < wanted:
        client_tickets(server)
    have = waiting_tickets(server)
    for i in range(max(0, wanted - have)):
        body = {"service": services[i % len(services)], "category": categories[i % 3]}
        r = server.api("POST", f"/branches/{BRANCH}/tickets", TELLER, json=body)
        if r.status_code != 201:
            raise RuntimeError(f"issuing a ticket at {BRANCH}: {r.status_code} {r.text[:300]}")
    return waiting_tickets(server)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    start_ms: float  # since the navigation started
    end_ms: float

    @property
    def name(self) -> str:
        parts = urlsplit(self.url)
        return f"{self.method} {parts.path}{'?' + parts.query if parts.query else ''}"


@dataclass
class Load:
    status: int
    usable_ms: float = 0.0
    ready_ms: float = 0.0
    items: int = 0
    html_ms: float = 0.0  # the page's HTML received
    calls: list[Call] = field(default_factory=list)


def load(page, url: str, target: Target) -> Load:
    """Navigate to ``url`` and wait until the page is usable; its API calls up to then."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = []

    def on_request(request) -> None:
        if "/api/v1/" in request.url:
            seen.append(request)

    page.on("request", on_request)
    try:
        response = page.goto(url, wait_until="commit")
        status = response.status if response is not None else 0
        if status != 200:
            return Load(status)
        page.wait_for_function("() => window.__feReady !== undefined", timeout=READY_TIMEOUT_MS)
        try:
            page.wait_for_function(
                "() => window.__feUsable !== undefined", timeout=ITEMS_TIMEOUT_MS
            )
        except PlaywrightTimeout:
            raise RuntimeError(
                f"{target.url_path}: main[data-ready] set but no {target.selector} element "
                f"within {ITEMS_TIMEOUT_MS / 1000:g} s: the page is not usable"
            ) from None
        usable, ready, items, origin, html = page.evaluate(
            "[window.__feUsable, window.__feReady, window.__feCount, performance.timeOrigin,"
            " performance.getEntriesByType('navigation')[0].responseEnd]"
        )
        calls = []
        for request in seen:
            if not 0 <= request.timing["startTime"] - origin <= usable:
                continue  # the page before (a late call of it), or after usable
            answer = request.response()
            if answer is not None:
                answer.finished()
            timing = request.timing
            start = timing["startTime"] - origin
            calls.append(Call(request.method, request.url, start, start + timing["responseEnd"]))
        return Load(status, usable, ready, items, html, calls)
    finally:
        page.remove_listener("request", on_request)


def waves(calls: list[Call]) -> list[list[Call]]:
    """The calls in the order the page made them, grouped as they overlapped: a call that
    started before any earlier call of the current wave had answered joins it."""
    out: list[list[Call]] = []
    for call in sorted(calls, key=lambda c: c.start_ms):
        if out and call.start_ms < min(c.end_ms for c in out[-1]):
            out[-1].append(call)
        else:
            out.append([call])
    return out


class Replay:
    """The page's GET calls alone, with its token, in its waves; ``run()`` gives the ms from
    the first request sent to the last response read."""

    def __init__(self, token: str, calls: list[Call]):
        gets = [c for c in calls if c.method in ("GET", "HEAD")]
        skipped = [c.name for c in calls if c not in gets]
        if skipped:
            say(f"not replayed (they change data): {', '.join(skipped)}")
        if not gets:
            raise RuntimeError("the page made no GET call to /api/v1 before it was usable")
        self.waves = waves(gets)
        self.token = token
        self.local = threading.local()
        width = min(MAX_CONNECTIONS, max(len(w) for w in self.waves))
        self.pool = ThreadPoolExecutor(width, thread_name_prefix="bench-pages-api")

    def _one(self, call: Call) -> None:
        http = getattr(self.local, "http", None)
        if http is None:
            http = self.local.http = requests.Session()
            http.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "*/*"})
        r = http.request(call.method, call.url, timeout=60)
        _ = r.content
        if r.status_code >= 400:
            raise RuntimeError(f"replaying {call.name}: {r.status_code} {r.text[:300]}")

    def run(self) -> float:
        started = time.perf_counter()
        for wave in self.waves:
            list(self.pool.map(self._one, wave))
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.pool.shutdown()


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def measure(browser, server: LiveServer, target: Target, user: tuple[str, str], reps: int):
    """The page's loads and its API replays, alternating; None for a missing page."""
    context = browser.new_context(
        viewport=PHONE if target.phone else DESKTOP,
        device_scale_factor=1,
        is_mobile=target.phone,
        has_touch=target.phone,
        locale="zh-CN",
    )
    try:
        context.add_init_script(script=USABLE_JS % json.dumps(target.selector))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        username, password = user
        login(page, server.url, username, target.surface, password, home=False)
        page.goto("about:blank")  # the home page's late calls stay out of the first load
        url = f"{server.url}{target.url_path}"
        first = load(page, url, target)
        if first.status != 200:
            say(f"{target.url_path}: page missing: {first.status} (not measured)")
            return None
        token = page.evaluate("JSON.parse(sessionStorage.getItem('finedge.session')).token")
        replay = Replay(token, first.calls)
        try:
            replay.run()  # the API's connections warm, as the page's are after its first load
            loads, api_ms = [], []
            for _ in range(reps):
                loads.append(load(page, url, target))
                api_ms.append(replay.run())
        finally:
            replay.close()
        if errors:
            say(f"{target.url_path}: script errors: {errors[:3]}")
        return first, loads, api_ms, replay, errors
    finally:
        context.close()


def rows_of(target: Target, user: str, measured, extra: dict[str, Any]) -> list[dict]:
    first, loads, api_ms, replay, errors = measured
    page_ms = [x.usable_ms for x in loads]
    calls = sorted({c.name for x in loads for c in x.calls})
    page_med, api_med = statistics.median(page_ms), statistics.median(api_ms)
    params = {
        **extra,
        "page": target.url_path,
        "user": user,
        "selector": target.selector,
        "items": loads[-1].items,
        "ready_ms_median": round(statistics.median(x.ready_ms for x in loads), 1),
        # before its first API call a page loads its HTML, scripts and styles: its fixed cost
        "html_ms_median": round(statistics.median(x.html_ms for x in loads), 1),
        "first_api_call_ms_median": round(
            statistics.median(min(c.start_ms for c in x.calls) for x in loads), 1
        ),
        "first_load_ms": round(first.usable_ms, 1),
        "repetitions": len(loads),
        "api_calls": calls,
        "api_waves": len(replay.waves),
        "page_over_api": round(page_med / api_med, 2),
        "aim_page_over_api_max": AIM_PAGE_OVER_API,
        "script_errors": len(errors),
    }
    say(
        f"{target.url_path}: usable in {page_med:.0f} ms (median; p90 {p90(page_ms):.0f}), its "
        f"{len(calls)} API call(s) alone {api_med:.0f} ms (p90 {p90(api_ms):.0f}): page/API "
        f"{page_med / api_med:.2f} (aim <= {AIM_PAGE_OVER_API}), {loads[-1].items} x "
        f"{target.selector}"
    )
    baseline = f"its API calls alone ({len(calls)}, replayed in {len(replay.waves)} wave(s))"
    out = []
    for metric, page_value, api_value in (
        ("usable_ms", page_med, api_med),
        ("usable_p90_ms", p90(page_ms), p90(api_ms)),
    ):
        value, base = round(page_value, 1), round(api_value, 1)
        out.append(
            {
                "bench": "pages",
                "metric": f"{target.name}_{metric}",
                "value": value,
                "unit": "ms",
                "baseline": f"{baseline}, {'median' if metric == 'usable_ms' else 'p90'}",
                "baseline_value": base,
                "ratio": round(base / value, 3),
                "params": params,
            }
        )
    return out


def run(options: dict[str, Any]) -> list[dict]:
    quick = bool(options.get("quick"))
    cars = int(options.get("cars", 300 if quick else 10_000))
    dealers = int(options.get("dealers", 2))
    tickets = int(options.get("tickets", 20 if quick else 200))
    reps = int(options.get("repetitions", 3 if quick else 15))
    wanted = options.get("pages")
    targets = [t for t in TARGETS if not wanted or t.name in str(wanted).split(",")]
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright

    rows: list[dict] = []
    missing: list[str] = []
    say(f"seeding {cars} cars over {dealers} dealers")
    with live_server(
        seed_args=("--dealers", str(dealers), "--cars", str(cars)), progress=True
    ) as server:
        dealer = dealer_with_most_cars(server)
        waiting = fill_queue(server, tickets)
        say(f"{dealer.username} ({dealer.code}): {dealer.in_stock} cars in stock")
        say(f"{waiting} tickets waiting at {BRANCH}")
        users = {"m": (dealer.username, dealer.password), "console": (TELLER, f"{TELLER}-demo")}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                extra = {
                    "quick": quick,
                    "cars": cars,
                    "dealers": dealers,
                    "dealer_cars_in_stock": dealer.in_stock,
                    "waiting_tickets": waiting,
                    "chromium": browser.version,
                }
                for target in targets:
                    user = users[target.surface]
                    measured = measure(browser, server, target, user, reps)
                    if measured is None:
                        missing.append(target.url_path)
                        continue
                    rows += rows_of(target, user[0], measured, extra)
            finally:
                browser.close()
    if not rows:
        raise RuntimeError(f"no page could be measured (missing: {', '.join(missing)})")
    return rows
