"""The legacy stand-in: a small server-rendered web application in the style of the old systems
the bank's robots type into (a login page, a menu, a collateral pledge registration form that
rejects some input with a message on the page, a confirmation page, a list with a search).

It is NOT a FinEdge system: it stands in for an external one the bank cannot change, for the
screen robot's tests and the demo (``finedge rpa legacy-app``). Its state is a dict in memory per
app instance; every page carries a banner saying so.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import wraps
from html import escape

from flask import Flask, g, redirect, request, session, url_for

MAX_AMOUNT = Decimal("3000000.00")
WAREHOUSES = {
    "WH-SH01": "Shanghai Pudong bonded yard",
    "WH-SH02": "Shanghai Jiading yard",
    "WH-BJ01": "Beijing Shunyi yard",
    "WH-GZ01": "Guangzhou Panyu yard",
}
# 17 characters, letters except I, O and Q (ISO 3779), digits
VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
DEALER_RE = re.compile(r"^[A-Z]{2}\d{3,6}$")
FIELDS = ("vin", "dealer_code", "model", "amount", "pledge_date", "warehouse_code")


@dataclass
class Pledge:
    registration_no: str
    vin: str
    dealer_code: str
    model: str
    amount: Decimal
    pledge_date: date
    warehouse_code: str
    registered_by: str
    registered_at: datetime


@dataclass
class LegacyState:
    """The stand-in's whole "database": users and registered pledges, in memory."""

    users: dict[str, str]
    pledges: dict[str, Pledge] = field(default_factory=dict)  # registration_no -> pledge
    by_vin: dict[str, str] = field(default_factory=dict)  # vin -> registration_no
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_no: int = 1
    # signed-on sessions: id -> (user, last request); idle ones end like the old system's
    sessions: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    idle_s: int = 900

    def sign_on(self, user: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[sid] = (user, datetime.now(UTC))
        return sid

    def user_of(self, sid: str | None) -> str | None:
        """The user of a live session (its idle clock restarted), None if ended or unknown."""
        now = datetime.now(UTC)
        with self.lock:
            entry = self.sessions.get(sid or "")
            if entry is None:
                return None
            if (now - entry[1]).total_seconds() > self.idle_s:
                del self.sessions[sid]
                return None
            self.sessions[sid] = (entry[0], now)
            return entry[0]

    def sign_off(self, sid: str | None) -> None:
        with self.lock:
            self.sessions.pop(sid or "", None)

    def end_all_sessions(self) -> None:
        """Everyone signed off (the old system's nightly restart)."""
        with self.lock:
            self.sessions.clear()

    def register(self, user: str, form: dict[str, str]) -> tuple[Pledge | None, list[str]]:
        """Check the form the way the old system does and register it; the errors otherwise."""
        errors, vin = [], form.get("vin", "").strip().upper()
        if not VIN_RE.match(vin):
            errors.append(
                f"VIN {vin or '(empty)'} is malformed: 17 letters and digits, no I, O or Q"
            )
        dealer = form.get("dealer_code", "").strip().upper()
        if not DEALER_RE.match(dealer):
            errors.append(f"Dealer code {dealer or '(empty)'} is malformed (e.g. SH1024)")
        model = form.get("model", "").strip()
        if not model or len(model) > 60:
            errors.append("Car model is required (at most 60 characters)")
        amount = _amount(form.get("amount", ""))
        if amount is None:
            errors.append("Invoice amount must be a positive amount with at most 2 decimals")
        elif amount > MAX_AMOUNT:
            errors.append(f"Invoice amount {amount:,.2f} is over the limit of {MAX_AMOUNT:,.2f}")
        pledge_date = _date(form.get("pledge_date", ""))
        if pledge_date is None:
            errors.append("Pledge date must be a date as YYYY-MM-DD")
        warehouse = form.get("warehouse_code", "").strip().upper()
        if warehouse not in WAREHOUSES:
            errors.append(f"Unknown warehouse code {warehouse or '(empty)'}")
        with self.lock:
            if vin in self.by_vin:
                errors.append(f"VIN {vin} is already registered ({self.by_vin[vin]})")
            if errors:
                return None, errors
            number = f"PLG-{self.next_no:06d}"
            self.next_no += 1
            pledge = Pledge(
                registration_no=number,
                vin=vin,
                dealer_code=dealer,
                model=model,
                amount=amount,
                pledge_date=pledge_date,
                warehouse_code=warehouse,
                registered_by=user,
                registered_at=datetime.now(UTC),
            )
            self.pledges[number] = pledge
            self.by_vin[vin] = number
            return pledge, []

    def search(self, text: str) -> list[Pledge]:
        text = text.strip().upper()
        with self.lock:
            found = list(self.pledges.values())
        if text:
            found = [
                p
                for p in found
                if text in p.vin or text in p.dealer_code or text in p.registration_no
            ]
        return sorted(found, key=lambda p: p.registration_no)


def _amount(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return value.quantize(Decimal("0.01"))


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def create_app(users: dict[str, str], *, idle_s: int = 900) -> Flask:
    """A fresh stand-in with its own empty state; ``users`` maps login names to passwords; a
    session idle ``idle_s`` seconds ends."""
    if not users:
        raise ValueError("the legacy stand-in needs at least one user")
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_NAME="LEGACYSESSID")
    state = LegacyState(users=dict(users), idle_s=idle_s)
    app.extensions["legacy_state"] = state

    @app.before_request
    def who():
        g.user = state.user_of(session.get("sid"))

    def login_required(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("login", next=request.path))
            return view(*args, **kwargs)

        return wrapper

    @app.get("/")
    def index():
        return redirect(url_for("menu" if g.user else "login"))

    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = ""
        if request.method == "POST":
            user = request.form.get("username", "")
            password = request.form.get("password", "")
            expected = state.users.get(user)
            if expected is not None and secrets.compare_digest(expected, password):
                state.sign_off(session.get("sid"))
                session.clear()
                session["sid"] = state.sign_on(user)
                g.user = user
                target = request.args.get("next", "")
                safe = target.startswith("/") and not target.startswith("//") and "\\" not in target
                return redirect(target if safe else "/menu")
            error = "Invalid user name or password"
        body = """
<form method="post" name="loginform">
<table class="form">
<tr><td>User:</td><td><input type="text" name="username" id="username" size="20"></td></tr>
<tr><td>Password:</td><td><input type="password" name="password" id="password" size="20"></td></tr>
<tr><td></td><td><input type="submit" value="Log in" id="login"></td></tr>
</table></form>"""
        return _page("Sign on", body, error=error), (401 if error else 200)

    @app.get("/logout")
    def logout():
        state.sign_off(session.get("sid"))
        session.clear()
        return redirect(url_for("login"))

    @app.get("/menu")
    @login_required
    def menu():
        body = """
<ol class="menu">
<li><a href="/pledge/new" id="menu-new-pledge">Collateral pledge registration</a></li>
<li><a href="/pledges" id="menu-pledges">Registered pledges (list / search)</a></li>
<li><a href="/logout">Log off</a></li>
</ol>"""
        return _page("Main menu", body)

    @app.route("/pledge/new", methods=["GET", "POST"])
    @login_required
    def new_pledge():
        form = {name: request.form.get(name, "") for name in FIELDS}
        errors: list[str] = []
        if request.method == "POST":
            pledge, errors = state.register(g.user, form)
            if pledge is not None:
                return redirect(url_for("show_pledge", number=pledge.registration_no))
        options = "".join(
            f'<option value="{code}"{" selected" if form["warehouse_code"] == code else ""}>'
            f"{code} {escape(name)}</option>"
            for code, name in WAREHOUSES.items()
        )
        # the old system lets you type any code (the select is only a hint for people)
        body = f"""
<form method="post" name="pledgeform">
<table class="form">
<tr><td>VIN:</td><td><input name="vin" id="vin" size="20" value="{escape(form["vin"])}"></td></tr>
<tr><td>Dealer code:</td><td><input name="dealer_code" id="dealer_code" size="10"
 value="{escape(form["dealer_code"])}"></td></tr>
<tr><td>Car model:</td><td><input name="model" id="model" size="40"
 value="{escape(form["model"])}"></td></tr>
<tr><td>Invoice amount (CNY):</td><td><input name="amount" id="amount" size="15"
 value="{escape(form["amount"])}"></td></tr>
<tr><td>Pledge date (YYYY-MM-DD):</td><td><input name="pledge_date" id="pledge_date" size="10"
 value="{escape(form["pledge_date"])}"></td></tr>
<tr><td>Warehouse code:</td><td><input name="warehouse_code" id="warehouse_code" size="8"
 value="{escape(form["warehouse_code"])}" list="warehouses"><datalist id="warehouses">{options}
</datalist></td></tr>
<tr><td></td><td><input type="submit" value="Register" id="register"></td></tr>
</table></form>"""
        status = 422 if errors else 200
        return _page("Collateral pledge registration", body, error="; ".join(errors)), status

    @app.get("/pledge/<number>")
    @login_required
    def show_pledge(number: str):
        pledge = state.pledges.get(number)
        if pledge is None:
            return _page("Pledge", "", error=f"No pledge {number}"), 404
        body = f"""
<p class="ok">Pledge registered.</p>
<table class="form">
<tr><td>Registration no.:</td><td><b id="registration-no">{pledge.registration_no}</b></td></tr>
<tr><td>VIN:</td><td>{pledge.vin}</td></tr>
<tr><td>Dealer code:</td><td>{pledge.dealer_code}</td></tr>
<tr><td>Car model:</td><td>{escape(pledge.model)}</td></tr>
<tr><td>Invoice amount:</td><td>{pledge.amount:,.2f}</td></tr>
<tr><td>Pledge date:</td><td>{pledge.pledge_date.isoformat()}</td></tr>
<tr><td>Warehouse:</td><td>{pledge.warehouse_code}</td></tr>
</table>
<p><a href="/menu">Main menu</a></p>"""
        return _page("Pledge registered", body)

    @app.get("/pledges")
    @login_required
    def list_pledges():
        text = request.args.get("q", "")
        rows = "".join(
            f'<tr class="pledge"><td class="no">{p.registration_no}</td><td class="vin">{p.vin}'
            f'</td><td class="dealer">{p.dealer_code}</td><td>{escape(p.model)}</td>'
            f'<td class="amount">{p.amount:.2f}</td><td class="date">{p.pledge_date}</td>'
            f'<td class="wh">{p.warehouse_code}</td><td class="by">{escape(p.registered_by)}'
            "</td></tr>"
            for p in state.search(text)
        )
        body = f"""
<form method="get"><input name="q" id="q" value="{escape(text)}">
<input type="submit" value="Search" id="search"></form>
<table class="list" border="1">
<tr><th>Reg. no.</th><th>VIN</th><th>Dealer</th><th>Model</th><th>Amount</th><th>Date</th>
<th>Warehouse</th><th>By</th></tr>{rows}</table>
<p><a href="/menu">Main menu</a></p>"""
        return _page("Registered pledges", body)

    return app


def _page(title: str, body: str, *, error: str = "") -> str:
    user = g.get("user")
    who = f'Signed on: {escape(user)} | <a href="/logout">Log off</a>' if user else ""
    error_html = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><title>{escape(title)} - CMS Collateral Management System</title>
<style>body{{font-family:Arial;font-size:12px;background:#d4d0c8}}
.banner{{background:#c00;color:#fff;font-weight:bold;padding:4px}}
.error{{color:#c00;font-weight:bold}} td{{padding:2px 4px}}</style></head>
<body><div class="banner" id="standin-banner">STAND-IN LEGACY SYSTEM for FinEdge robot tests and
demos: not a real collateral registry; data kept in memory only</div>
<h3>CMS Collateral Management System v2.3 &mdash; {escape(title)}</h3>
<div class="who">{who}</div>{error_html}{body}</body></html>"""
