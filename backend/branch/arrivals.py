"""The hall's door sightings for other areas (``HallArrivals``, declared in ``area.py``):
marketing turns a VIP client's arrival into an event for their RM.

Only sightings covered by a face consent still granted are handed out: a client who withdrew
their consent is no longer followed into marketing, even for sightings made before. The
consent filter is in the query, so the limit counts consented sightings only and a reader's
cursor (the last id it got) never stalls on refused rows."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from backend.branch.models import FaceConsent, FaceSighting
from backend.platform.clock import ensure_utc
from backend.platform.ports import HallArrival


class DoorArrivals:
    """The hall's implementation of ``HallArrivals``."""

    def arrivals_after(self, session: Session, after_id: int, limit: int) -> list[HallArrival]:
        consented = exists().where(
            FaceConsent.user_id == FaceSighting.user_id, FaceConsent.status == "granted"
        )
        rows = session.execute(
            select(FaceSighting.id, FaceSighting.user_id, FaceSighting.branch_id, FaceSighting.at)
            .where(FaceSighting.id > after_id, consented)
            .order_by(FaceSighting.id)
            .limit(max(1, limit))
        ).all()
        return [
            HallArrival(id=r.id, user_id=r.user_id, branch_id=r.branch_id, at=ensure_utc(r.at))
            for r in rows
        ]
