"""A clearing house simulator: a day of trading for N traders, sent over the bank's real HTTP
interface with signed requests, then the day's reconciliation CSV (``finedge clearing-sim``).

``plan_day`` (pure) writes a valid day for the accounts it is given, from their opening
balances: orders, partial and full bargains, cancels, full and partial deliveries to other
traders (a partial one settles a third or a half of what is bargained and undelivered), each
affordable in the simulator's own books (``rules``). ``with_faults`` reorders the stream as a
real clearing house's network would: ``duplicates`` (an instruction sent again), ``reorder``
(seq n+1 before n), ``gaps`` (some instructions held back to the end of the day, so their
successors wait pending). ``Simulator.run`` signs and sends the stream in batches through a
transport (``UrlTransport`` for a live server, or any object with ``post(path, body,
headers)``: the tests use Flask's test client), then uploads the reconciliation CSV computed
from its own books; the bank's answer says whether the day matched.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from backend.clearing import rules
from backend.clearing.signing import sign_headers
from backend.platform.clock import utcnow

CENT = Decimal("0.01")
FEE_RATE = Decimal("0.001")
INSTRUCTIONS_PATH = "/api/v1/clearing/instructions"
RECONCILE_PATH = "/api/v1/clearing/reconciliation-files"
FAULTS = ("duplicates", "reorder", "gaps")


@dataclass
class Opening:
    """What the clearing house knows of an account at the start of the day."""

    next_seq: int = 1
    balance: Decimal = Decimal("0.00")
    held: Decimal = Decimal("0.00")
    count_today: int = 0


@dataclass
class _Book:
    opening: Opening
    seq: int
    balance: Decimal
    held: Decimal
    orders: dict = field(default_factory=dict)  # ref -> rules.OrderState


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) * CENT).quantize(CENT)


def plan_day(
    openings: dict[str, Opening],
    instructions: int,
    *,
    seed: int,
    trade_date: date,
    prefix: str,
    max_order: int = 5000,
    trading: Iterable[str] | None = None,
) -> tuple[list[dict], dict[str, tuple[Decimal, Decimal, int]]]:
    """(the day's instructions in order, the expected end of day per account: balance, held,
    instructions counted for ``trade_date``)."""
    rng = random.Random(seed)
    numbers = sorted(trading if trading is not None else openings)
    books = {n: _Book(o, o.next_seq, o.balance, o.held) for n, o in openings.items()}
    bodies: list[dict] = []
    k = 0
    while len(bodies) < instructions and numbers:
        n = rng.choice(numbers)
        book = books[n]
        open_refs = [r for r, s in book.orders.items() if s.status == "open"]
        bargained = [
            r
            for r, s in book.orders.items()
            if s.bargained > 0 and s.status in ("open", "bargained")
        ]
        roll = rng.random()
        k += 1
        body = {
            "id": f"{prefix}-{k:06d}",
            "account": n,
            "seq": book.seq,
            "trade_date": trade_date.isoformat(),
        }
        if bargained and roll < 0.3 and len(numbers) > 1:
            ref = rng.choice(sorted(bargained))
            state = book.orders[ref]
            amount = state.bargained
            if rng.random() < 0.4 and amount > CENT:  # a partial delivery: a third or a half
                amount = (amount / rng.choice((2, 3))).quantize(CENT)
            fee = (amount * FEE_RATE).quantize(CENT)
            cfee = (amount * FEE_RATE / 2).quantize(CENT)
            after = rules.step(state, "delivery", amount, fee, cfee)
            if book.balance - after.pays < book.held - state.hold_total + after.state.hold_total:
                continue
            seller = rng.choice([m for m in numbers if m != n])
            body.update(
                kind="delivery",
                order=ref,
                amount=str(amount),
                fee=str(fee),
                clearing_fee=str(cfee),
                counterparty=seller,
            )
        elif open_refs and roll < 0.6:
            ref = rng.choice(sorted(open_refs))
            state = book.orders[ref]
            part = state.open_amount
            if rng.random() < 0.5 and part > CENT:
                part = (part / 2).quantize(CENT)
            body.update(kind="bargain", order=ref, amount=str(part), fee="0.00")
        elif open_refs and roll < 0.7:
            body.update(kind="cancel", order=rng.choice(sorted(open_refs)))
        else:
            amount = _money(rng, 100, max_order)
            fee = (amount * FEE_RATE).quantize(CENT)
            if amount + fee > book.balance - book.held:
                continue
            body.update(kind="order", order=f"{prefix}-O{k:06d}", amount=str(amount), fee=str(fee))
        p = rules.parse_instruction(body)
        done = rules.step(book.orders.get(p.order_ref), p.kind, p.amount, p.fee, p.clearing_fee)
        old = book.orders.get(p.order_ref)
        book.held += done.state.hold_total - (old.hold_total if old else 0)
        book.balance -= done.pays
        if p.counterparty_no:
            books[p.counterparty_no].balance += done.receives
        book.orders[p.order_ref] = done.state
        book.seq += 1
        bodies.append(body)
    expected = {
        n: (b.balance, b.held, b.opening.count_today + (b.seq - b.opening.next_seq))
        for n, b in books.items()
    }
    return bodies, expected


def with_faults(bodies: list[dict], faults: Iterable[str], *, seed: int) -> list[dict]:
    """The order the instructions travel in, with the chosen faults."""
    rng = random.Random(seed + 1)
    faults = set(faults)
    stream = list(bodies)
    if "reorder" in faults:
        for i in range(len(stream) - 1):
            a, b = stream[i], stream[i + 1]
            if a["account"] == b["account"] and rng.random() < 0.3:
                stream[i], stream[i + 1] = b, a
    if "gaps" in faults and stream:
        held_back = set(rng.sample(range(len(stream)), max(1, len(stream) // 20)))
        stream = [b for i, b in enumerate(stream) if i not in held_back] + [
            stream[i] for i in sorted(held_back)
        ]
    if "duplicates" in faults:
        out = []
        for body in stream:
            out.append(body)
            if rng.random() < 0.1:
                out.insert(rng.randint(max(0, len(out) - 5), len(out)), dict(body))
        stream = out
    return stream


def reconciliation_csv(expected: dict[str, tuple[Decimal, Decimal, int]]) -> str:
    lines = ["account_no,balance,held,instruction_count"]
    for n in sorted(expected):
        balance, held, count = expected[n]
        lines.append(f"{n},{balance:.2f},{held:.2f},{count}")
    return "\n".join(lines) + "\n"


class UrlTransport:
    """A live server at ``base_url`` (http or https; stdlib, one kept-alive connection)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("--url must be http(s)://host:port")
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.connection = kind(parts.hostname, parts.port, timeout=timeout_s)

    def wait_ready(self, timeout_s: float, clock=time.monotonic, pause=time.sleep) -> None:
        """Wait until the bank answers its health endpoint (a server still starting, as in
        ``make demo``); TimeoutError after ``timeout_s``."""
        deadline, delay = clock() + timeout_s, 0.1
        while True:
            try:
                self.connection.request("GET", "/api/v1/health")
                response = self.connection.getresponse()
                response.read()
                if response.status == 200:
                    return
            except OSError:
                self.connection.close()
            if clock() >= deadline:
                raise TimeoutError(f"the bank did not answer /api/v1/health in {timeout_s:g} s")
            pause(delay)
            delay = min(delay * 2, 2.0)

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def close(self) -> None:
        self.connection.close()


@dataclass
class Summary:
    sent: int = 0
    requests: int = 0
    applied: int = 0
    pending: int = 0
    replayed: int = 0
    refused: int = 0
    rejected: int = 0
    refusals: dict = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def to_dict(self) -> dict:
        return {
            "sent": self.sent,
            "requests": self.requests,
            "applied": self.applied,
            "pending": self.pending,
            "replayed": self.replayed,
            "refused": self.refused,
            "rejected": self.rejected,
            "refusals": self.refusals,
            "reconciliation": self.reconciliation,
            "elapsed_s": round(self.elapsed_s, 3),
            "instructions_per_s": round(self.per_s, 1),
        }


class Simulator:
    def __init__(
        self,
        transport,
        house: str,
        secret: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 20,
        progress: Callable[[str], None] | None = None,
    ):
        self.transport = transport
        self.house = house
        self.secret = secret
        self.clock = clock
        self.batch = max(1, batch)
        self.progress = progress or (lambda _line: None)

    def signed_post(self, path: str, document: dict) -> tuple[int, dict]:
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        headers = sign_headers(self.secret, self.house, "POST", path, body, now=self.clock())
        return self.transport.post(path, body, headers)

    def send(self, stream: list[dict], summary: Summary) -> None:
        for start in range(0, len(stream), self.batch):
            chunk = stream[start : start + self.batch]
            status, answer = self.signed_post(INSTRUCTIONS_PATH, {"instructions": chunk})
            summary.requests += 1
            if status != 207:
                raise RuntimeError(f"the bank answered {status}: {answer}")
            for result in answer["results"]:
                summary.sent += 1
                if result.get("replayed"):
                    summary.replayed += 1
                elif result["status"] == "applied":
                    summary.applied += 1 + len(result.get("applied_after") or [])
                elif result["status"] == "pending":
                    summary.pending += 1
                elif result["status"] == "rejected":
                    summary.rejected += 1
                else:
                    summary.refused += 1
                    code = result.get("code") or "?"
                    summary.refusals[code] = summary.refusals.get(code, 0) + 1
            if (start // self.batch) % 10 == 0:
                self.progress(f"sent {summary.sent}/{len(stream)}")

    def run_day(
        self,
        openings: dict[str, Opening],
        *,
        instructions: int,
        seed: int,
        faults: Iterable[str] = (),
        trade_date: date | None = None,
        prefix: str | None = None,
        traders: int | None = None,
    ) -> Summary:
        """``traders``: how many of the accounts trade today (all by default); the
        reconciliation covers every account in ``openings``."""
        trade_date = trade_date or self.clock().date()
        trading = sorted(openings)[:traders] if traders else None
        prefix = prefix or f"S{seed}T{int(time.time())}"
        bodies, expected = plan_day(
            openings,
            instructions,
            seed=seed,
            trade_date=trade_date,
            prefix=prefix,
            trading=trading,
        )
        stream = with_faults(bodies, faults, seed=seed)
        summary = Summary()
        started = time.perf_counter()
        self.send(stream, summary)
        summary.elapsed_s = time.perf_counter() - started
        status, answer = self.signed_post(
            RECONCILE_PATH,
            {
                "business_date": trade_date.isoformat(),
                "csv": reconciliation_csv(expected),
                "filename": f"{self.house}-{trade_date:%Y%m%d}.csv",
            },
        )
        summary.reconciliation = {"http_status": status, **answer}
        self.progress(
            f"reconciliation: {answer.get('status')} ({answer.get('differences')} differences)"
        )
        return summary
