"""Demo hall of branch BR001: its opening hours (published for the clients' branch list), its
services, three counters at the callers' windows and a VIP counter, client1 as a VIP of rm1, a
vault with cash for loading, and a queue with a few tickets. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.cash import booking
from backend.branch.halls import get_hall, local_day
from backend.branch.models import ClientProfile, HallCounter, HallService, Ticket
from backend.branch.queue.service.tickets import next_number
from backend.branch.queue.serving import open_shift
from backend.identity import service as identity
from backend.identity.models import Branch, User
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM

BRANCH = "BR001"
# counter id, name, skills, caller device
DEMO_COUNTERS = (
    ("1", "Window 1", ["cash", "account"], f"{BRANCH}-CALL-01"),
    ("2", "Window 2", ["cash", "loan", "wealth"], f"{BRANCH}-CALL-02"),
    ("3", "Window 3", ["account", "corporate", "loan"], f"{BRANCH}-CALL-03"),
    ("9", "VIP room", ["wealth", "cash"], None),
)
DEMO_TICKETS = (
    ("cash", "normal"),
    ("cash", "elderly"),
    ("account", "normal"),
    ("loan", "normal"),
    ("wealth", "vip"),
    ("cash", "normal"),
)
VAULT_FUNDING = "2000000.00"
# local times of the hall's time zone (Asia/Shanghai): weekdays with a lunch break, Saturday
DEMO_HOURS = {
    **{d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [["10:00", "15:00"]],
}


def seed_branch_hall(session: Session, _options: object) -> dict:
    if session.scalar(select(Branch.id).where(Branch.code == BRANCH)) is None:
        return {}
    now = utcnow()
    hall = get_hall(session, BRANCH)
    created: dict[str, int] = {"services": 0, "counters": 0, "tickets": 0, "hours": 0}
    if session.scalar(select(Branch.opening_hours).where(Branch.code == BRANCH)) is None:
        identity.update_branch(session, SYSTEM, BRANCH, opening_hours=DEMO_HOURS)  # audited
        created["hours"] = 1
    existing = {
        s.code for s in session.scalars(select(HallService).where(HallService.branch_id == BRANCH))
    }
    for code, (name, letter, default_s) in rules.SERVICES.items():
        if code not in existing:
            session.add(
                HallService(
                    branch_id=BRANCH,
                    code=code,
                    name=name,
                    prefix=letter,
                    default_service_s=default_s,
                    active=True,
                )
            )
            created["services"] += 1
    session.flush()
    have = {
        c.counter_id
        for c in session.scalars(select(HallCounter).where(HallCounter.branch_id == BRANCH))
    }
    for counter_id, name, skills, device in DEMO_COUNTERS:
        if counter_id in have:
            continue
        counter = HallCounter(
            branch_id=BRANCH,
            counter_id=counter_id,
            name=name,
            skills=skills,
            borrowed_skills=[],
            status="open",
            device_id=device,
            updated_at=now,
        )
        session.add(counter)
        session.flush()
        open_shift(session, counter, now)
        created["counters"] += 1
    users = {
        u.username: u
        for u in session.scalars(select(User).where(User.username.in_(("client1", "rm1"))))
    }
    if (
        "client1" in users
        and session.scalar(
            select(ClientProfile.id).where(ClientProfile.user_id == users["client1"].id)
        )
        is None
    ):
        session.add(
            ClientProfile(
                user_id=users["client1"].id,
                segment="vip",
                elderly=False,
                rm_user_id=users["rm1"].id if "rm1" in users else None,
                display_name="Client One",
            )
        )
    if session.scalar(select(Ticket.id).where(Ticket.branch_id == BRANCH).limit(1)) is None:
        day = local_day(hall, now)
        for i, (service, category) in enumerate(DEMO_TICKETS):
            at = now - timedelta(minutes=3 * (len(DEMO_TICKETS) - i))
            prefix = rules.ticket_prefix(service, "staff")
            session.add(
                Ticket(
                    branch_id=BRANCH,
                    day=day,
                    ticket_no=rules.format_ticket_no(
                        prefix, next_number(session, BRANCH, day, prefix)
                    ),
                    service=service,
                    original_service=service,
                    channel="staff",
                    category=category,
                    boost_s=0,
                    status="waiting",
                    source="seed",
                    issued_at=at,
                    queued_at=at,
                    arrived_at=at,
                    updated_at=at,
                )
            )
            created["tickets"] += 1
    booking.fund_vault(session, SYSTEM, BRANCH, VAULT_FUNDING, f"cash:{BRANCH}:seed-funding")
    session.flush()
    return {f"hall_{k}_created": v for k, v in created.items()}
