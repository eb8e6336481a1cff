"""The demo client base (marketing's first seeder): synthetic retail clients from
``synth.clients`` loaded with ``load.load_clients`` — about 400 for a plain ``finedge seed``
and every test app, 3,000 with the demo's options (``--enterprises`` or ``--cars``, as
collateral's seeders read them) — shared by the RMs rm1 and rm2 (every third client has no
RM), with two days of the transaction feed before today; the demo user ``client1`` is linked
to a wealth-tier client, so that a door sighting of client1 is a VIP arrival. Then the events
are detected and the rule tags applied.

Idempotent: clients by number, transactions by ref, events by their window (a re-seed on a
later day adds that day's two days of feed)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.marketing import synth
from backend.marketing.events import service as events
from backend.marketing.load import load_clients, load_transactions
from backend.marketing.tags import apply_tags
from backend.platform.clock import utcnow

SEED = 18
PLAIN = 400
DEMO = 3000
TXN_PER_CLIENT_DAY = 2


def seed_clients(session: Session, options) -> dict:
    demo = bool(getattr(options, "enterprises", 0) or getattr(options, "cars", 0))
    n = DEMO if demo else PLAIN
    now = utcnow()
    today = now.date()
    users = dict(
        session.execute(
            select(User.username, User.id).where(User.username.in_(("rm1", "rm2", "client1")))
        ).all()
    )
    frame = synth.clients(n, seed=SEED)
    linked = {}
    if "client1" in users:
        wealth = np.flatnonzero((frame["tier"] == "wealth").to_numpy())
        if len(wealth):
            linked[int(wealth[0])] = users["client1"]
    rms = (users.get("rm1"), users.get("rm2"), None)
    ids = load_clients(session, frame, rm_user_ids=rms, as_of=today, seed=SEED, user_ids=linked)
    added = 0
    for back in (2, 1):
        day = today - timedelta(days=back)
        feed = synth.transactions(frame, n * TXN_PER_CLIENT_DAY, day=day, seed=SEED + back)
        added += load_transactions(session, feed, ids)
    found = events.detect_transactions(session, now, max_rows=None)
    found["maturity"] = events.detect_maturities(session, now)
    found["dormancy"] = events.detect_dormancy(session, now)
    tagged = apply_tags(session, now)
    return {
        "marketing_clients": len(ids),
        "marketing_transactions_added": added,
        "marketing_events_added": found["events"] + found["maturity"] + found["dormancy"],
        "marketing_tags_added": tagged["added"],
    }
