"""Putting a synthetic client base (``synth``) into the marketing tables, and reading the
database's clients back as the feature frame models use (the same columns as
``synth.FEATURES``), so that the demo, the tests and the models see one shape.

``load_clients`` writes clients, their holdings and contact consents in bulk (idempotent by
client number: a second call with the same frame adds nothing); ``load_transactions`` a feed
frame (idempotent by ``ref``). ``client_frame`` computes the features as of a day from the
rows: age, tenure, AUM, tier, holdings and maturities, loans, the last 90 days' transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.models import Client, ContactConsent, Holding, Transaction

CHANNELS = ("sms", "call", "miniapp")


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def load_clients(
    session: Session,
    frame: pd.DataFrame,
    *,
    rm_user_ids: Sequence[int | None] = (None,),
    as_of: date | None = None,
    seed: int = 7,
    user_ids: dict[int, int] | None = None,
) -> list[int]:
    """Insert the clients of ``frame`` (a ``synth.clients`` frame) with holdings and consents;
    the RM of row ``i`` is ``rm_user_ids[i % len]``; ``user_ids`` links row positions to
    FinEdge logins. Returns the client ids in row order (existing ones included)."""
    as_of = as_of or date.today()
    now = datetime.now(UTC)
    rng = np.random.default_rng(seed)
    numbers = frame["client_no"].tolist()
    existing = dict(
        session.execute(
            select(Client.client_no, Client.id).where(Client.client_no.in_(numbers))
        ).all()
    )
    n = len(frame)
    sms = rng.random(n) < 0.8
    call = rng.random(n) < 0.7
    dnd = rng.random(n) < 0.2
    rows = []
    new_positions = []
    for i, rec in enumerate(frame.itertuples(index=False)):
        if rec.client_no in existing:
            continue
        new_positions.append(i)
        opened = as_of - timedelta(days=round(rec.tenure_years * 365.25))
        rows.append(
            {
                "client_no": rec.client_no,
                "name": rec.name,
                "user_id": (user_ids or {}).get(i),
                "rm_user_id": rm_user_ids[i % len(rm_user_ids)],
                "outlet": rec.outlet,
                "birth_year": as_of.year - int(rec.age),
                "gender": rec.gender,
                "opened_on": opened,
                "tier": rec.tier,
                "aum": _money(rec.aum),
                "aum_on": as_of,
                "risk_level": int(rec.risk_level),
                "digital_active": bool(rec.digital_active),
                "dormant": bool(rec.dormant),
                "last_txn_at": None,
                "dnd_from": "21:00" if dnd[i] else None,
                "dnd_to": "09:00" if dnd[i] else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        session.execute(insert(Client), rows)
        session.flush()
    ids = dict(
        session.execute(
            select(Client.client_no, Client.id).where(Client.client_no.in_(numbers))
        ).all()
    )
    if new_positions:
        sub = frame.iloc[new_positions]
        hold = synth.holdings(sub.reset_index(drop=True), seed=seed, as_of=as_of)
        sub_ids = [ids[c] for c in sub["client_no"]]
        sub_numbers = sub["client_no"].tolist()
        hold_rows = [
            {
                "ref": f"{sub_numbers[int(h.client)]}-{h.kind}-{k}",
                "client_id": sub_ids[int(h.client)],
                "kind": h.kind,
                "product_code": h.product_code,
                "product_name": h.product_name,
                "amount": _money(h.amount),
                "rate": _money(h.rate),
                "opened_on": h.opened_on,
                "matures_on": h.matures_on,
                "closed_on": None,
                "status": "active",
            }
            for k, h in enumerate(hold.itertuples(index=False))
        ]
        if hold_rows:
            session.execute(insert(Holding), hold_rows)
        consent_rows = []
        digital = frame["digital_active"].to_numpy(bool)
        for j, pos in enumerate(new_positions):
            granted = {
                "sms": bool(sms[pos]),
                "call": bool(call[pos]),
                "miniapp": bool(digital[pos]),
            }
            for channel in CHANNELS:
                consent_rows.append(
                    {
                        "client_id": sub_ids[j],
                        "channel": channel,
                        "granted": granted[channel],
                        "source": "import",
                        "recorded_at": now,
                    }
                )
        session.execute(insert(ContactConsent), consent_rows)
        session.flush()
    return [ids[c] for c in numbers]


def load_transactions(
    session: Session, feed: pd.DataFrame, client_ids: Sequence[int], chunk: int = 20_000
) -> int:
    """Insert a ``synth.transactions`` frame (``client`` is a position in ``client_ids``),
    skipping refs already there; returns how many were new."""
    added = 0
    for start in range(0, len(feed), chunk):
        part = feed.iloc[start : start + chunk]
        refs = part["ref"].tolist()
        have = set(session.scalars(select(Transaction.ref).where(Transaction.ref.in_(refs))))
        rows = [
            {
                "ref": r.ref,
                "client_id": client_ids[int(r.client)],
                "at": pd.Timestamp(r.at).to_pydatetime().replace(tzinfo=UTC),
                "amount": _money(r.amount),
                "kind": str(r.kind),
                "channel": str(r.channel),
                "holding_ref": None,
            }
            for r in part.itertuples(index=False)
            if r.ref not in have
        ]
        if rows:
            session.execute(insert(Transaction), rows)
            added += len(rows)
    session.flush()
    return added


def client_frame(
    session: Session, client_ids: Sequence[int] | None = None, as_of: date | None = None
) -> pd.DataFrame:
    """The clients (all, or ``client_ids``) as a frame indexed by client id with the columns
    of ``synth.FEATURES`` (plus ``tier``, ``outlet``, ``rm_user_id``), computed as of
    ``as_of`` from the clients, their active holdings and the last 90 days of transactions."""
    as_of = as_of or date.today()
    stmt = select(
        Client.id,
        Client.birth_year,
        Client.opened_on,
        Client.aum,
        Client.tier,
        Client.risk_level,
        Client.digital_active,
        Client.dormant,
        Client.outlet,
        Client.rm_user_id,
    )
    if client_ids is not None:
        stmt = stmt.where(Client.id.in_(list(client_ids)))
    base = pd.DataFrame(
        session.execute(stmt).all(),
        columns=[
            "id",
            "birth_year",
            "opened_on",
            "aum",
            "tier",
            "risk_level",
            "digital_active",
            "dormant",
            "outlet",
            "rm_user_id",
        ],
    ).set_index("id")
    if base.empty:
        return pd.DataFrame(columns=[*synth.FEATURES, "tier", "outlet", "rm_user_id"])
    ids = base.index.tolist()
    hstmt = select(Holding.client_id, Holding.kind, Holding.amount, Holding.matures_on).where(
        Holding.status == "active"
    )
    if client_ids is not None:
        hstmt = hstmt.where(Holding.client_id.in_(ids))
    hold = pd.DataFrame(session.execute(hstmt).all(), columns=["id", "kind", "amount", "matures"])
    since = datetime.combine(as_of - timedelta(days=90), datetime.min.time(), UTC)
    tstmt = (
        select(Transaction.client_id, func.count())
        .where(Transaction.at >= since)
        .group_by(Transaction.client_id)
    )
    if client_ids is not None:
        tstmt = tstmt.where(Transaction.client_id.in_(ids))
    txn = dict(session.execute(tstmt).all())

    out = pd.DataFrame(index=base.index)
    out["age"] = as_of.year - base["birth_year"].astype(int)
    out["tenure_years"] = [(as_of - d).days / 365.25 for d in base["opened_on"]]
    out["aum"] = base["aum"].astype(float)
    out["tier_idx"] = [synth.TIERS.index(t) for t in base["tier"]]
    out["risk_level"] = base["risk_level"].astype(int)
    out["digital_active"] = base["digital_active"].astype(bool)

    def days_to(kind: str) -> pd.Series:
        sel = hold[(hold["kind"] == kind) & hold["matures"].notna()]
        if sel.empty:
            return pd.Series(-1, index=base.index)
        days = sel.assign(d=[(m - as_of).days for m in sel["matures"]])
        days = days[days["d"] >= 0].groupby("id")["d"].min()
        return days.reindex(base.index).fillna(-1).astype(int)

    out["has_wealth"] = base.index.isin(hold.loc[hold["kind"] == "wealth", "id"])
    out["wealth_maturity_days"] = days_to("wealth")
    out["has_time_deposit"] = base.index.isin(hold.loc[hold["kind"] == "time", "id"])
    out["time_maturity_days"] = days_to("time")
    loans = hold[hold["kind"] == "loan"].groupby("id")["amount"].sum().astype(float)
    out["loan_balance"] = loans.reindex(base.index).fillna(0.0)
    out["txn_90d"] = [txn.get(i, 0) for i in base.index]
    out["dormant"] = base["dormant"].astype(bool)
    w, t = out["wealth_maturity_days"], out["time_maturity_days"]
    out["maturing_30d"] = ((w >= 0) & (w <= 30)) | ((t >= 0) & (t <= 30))
    out["tier"] = base["tier"]
    out["outlet"] = base["outlet"]
    out["rm_user_id"] = base["rm_user_id"]
    return out
