"""Bank-side set-up of clearing: clearing houses (with their HMAC secret, shown once),
traders' agreements, trader accounts (sub-accounts) and the money paid into them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.clearing import accounts
from backend.clearing.models import Agreement, ClearingHouse, Funding, TraderAccount
from backend.clearing.rules import REF_RE
from backend.clearing.secretbox import SecretBox
from backend.clearing.signing import new_secret
from backend.identity.models import Org
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role, ensure_visible

STAFF = ("rm", "approver")  # admin always passes ensure_role
MAX_WINDOW_S = 3600


@dataclass(frozen=True)
class Registered:
    house: ClearingHouse
    secret: str  # shown once


def _org(session: Session, org_id: int, kind: str) -> Org:
    org = session.get(Org, org_id)
    if org is None or org.kind != kind:
        raise NotFound(f"{kind} org not found", code="org_not_found")
    return org


def _seconds(value: int, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            f"{field} must be {low}..{high} seconds", details={field: [f"{low}..{high}"]}
        )
    return value


def register_house(
    session: Session,
    actor: Actor,
    box: SecretBox,
    *,
    org_id: int,
    replay_window_s: int = 300,
    gap_alarm_s: int = 60,
    secret: str | None = None,
    now: datetime | None = None,
) -> Registered:
    """Admin: a clearing house org becomes a clearing house; its secret is returned once."""
    ensure_role(actor, "admin")
    now = now or utcnow()
    org = _org(session, org_id, "clearinghouse")
    _seconds(replay_window_s, "replay_window_s", 10, MAX_WINDOW_S)
    _seconds(gap_alarm_s, "gap_alarm_s", 1, 86400)
    if session.scalar(select(ClearingHouse.id).where(ClearingHouse.org_id == org.id)):
        raise Conflict("this org is already a clearing house", code="clearing_house_exists")
    secret = secret or new_secret()
    fee_account = accounts.open_main(session, actor, org.id, org.name, now=now)
    house = ClearingHouse(
        org_id=org.id,
        code=org.code,
        name=org.name,
        secret_token=box.encrypt(secret),
        replay_window_s=replay_window_s,
        gap_alarm_s=gap_alarm_s,
        fee_account_id=fee_account.id,
        status="active",
        created_at=now,
    )
    session.add(house)
    session.flush()
    audit.record(
        session,
        actor,
        "clearing.house.register",
        "clearing_house",
        house.id,
        None,
        {"code": house.code, "replay_window_s": replay_window_s, "gap_alarm_s": gap_alarm_s},
    )
    return Registered(house, secret)


def configure_house(
    session: Session,
    actor: Actor,
    house_id: int,
    *,
    replay_window_s: int | None = None,
    gap_alarm_s: int | None = None,
    status: str | None = None,
) -> ClearingHouse:
    """Admin: a clearing house's replay window, gap alarm limit, or status (a suspended house's
    requests are refused as unknown)."""
    ensure_role(actor, "admin")
    house = get_house(session, house_id)
    before = {
        "replay_window_s": house.replay_window_s,
        "gap_alarm_s": house.gap_alarm_s,
        "status": house.status,
    }
    if replay_window_s is not None:
        house.replay_window_s = _seconds(replay_window_s, "replay_window_s", 10, MAX_WINDOW_S)
    if gap_alarm_s is not None:
        house.gap_alarm_s = _seconds(gap_alarm_s, "gap_alarm_s", 1, 86400)
    if status is not None:
        if status not in ("active", "suspended"):
            raise ValidationFailed(
                "status: active | suspended",
                code="invalid_status",
                details={"status": ["active | suspended"]},
            )
        house.status = status
    after = {
        "replay_window_s": house.replay_window_s,
        "gap_alarm_s": house.gap_alarm_s,
        "status": house.status,
    }
    if after != before:
        audit.record(
            session, actor, "clearing.house.configure", "clearing_house", house.id, before, after
        )
    return house


def get_house(session: Session, house_id: int) -> ClearingHouse:
    house = session.get(ClearingHouse, house_id)
    if house is None:
        raise NotFound("clearing house not found", code="clearing_house_not_found")
    return house


def create_agreement(
    session: Session, actor: Actor, *, house_id: int, trader_org_id: int, now=None
) -> Agreement:
    """Bank staff (rm, approver, admin): a trader joins a clearing house."""
    ensure_role(actor, *STAFF)
    now = now or utcnow()
    house = get_house(session, house_id)
    org = _org(session, trader_org_id, "enterprise")
    existing = session.scalar(
        select(Agreement).where(
            Agreement.trader_org_id == org.id, Agreement.clearing_house_id == house.id
        )
    )
    if existing is not None:
        return existing
    main = accounts.open_main(session, actor, org.id, org.name, now=now)
    agreement = Agreement(
        trader_org_id=org.id,
        clearing_house_id=house.id,
        main_account_id=main.id,
        status="active",
        created_at=now,
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        actor,
        "clearing.agreement.create",
        "clearing_agreement",
        agreement.id,
        None,
        {"trader_org_id": org.id, "clearing_house_id": house.id},
    )
    return agreement


def set_agreement_status(session: Session, actor: Actor, agreement_id: int, status: str):
    ensure_role(actor, *STAFF)
    if status not in ("active", "suspended", "terminated"):
        raise ValidationFailed(
            "status: active | suspended | terminated",
            code="invalid_status",
            details={"status": ["active | suspended | terminated"]},
        )
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("agreement not found", code="agreement_not_found")
    before = agreement.status
    agreement.status = status
    audit.record(
        session,
        actor,
        "clearing.agreement.status",
        "clearing_agreement",
        agreement.id,
        {"status": before},
        {"status": status},
    )
    return agreement


def open_trader_account(
    session: Session, actor: Actor, *, agreement_id: int, account_no: str, label: str, now=None
) -> TraderAccount:
    """Bank staff: a sub-account (one per platform or commodity) under an agreement."""
    ensure_role(actor, *STAFF)
    now = now or utcnow()
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("agreement not found", code="agreement_not_found")
    if not isinstance(account_no, str) or not REF_RE.match(account_no):
        raise ValidationFailed(
            "account_no: 1-40 of letters, digits and ._-", code="invalid_account_no"
        )
    label = (label or account_no)[:80]
    existing = session.scalar(
        select(TraderAccount).where(
            TraderAccount.clearing_house_id == agreement.clearing_house_id,
            TraderAccount.account_no == account_no,
        )
    )
    if existing is not None:
        if existing.agreement_id != agreement.id:
            raise Conflict("account number taken at this clearing house", code="account_no_taken")
        return existing
    org = session.get(Org, agreement.trader_org_id)
    sub = accounts.open_sub(session, actor, org.id, org.name, account_no, now=now)
    account = TraderAccount(
        agreement_id=agreement.id,
        clearing_house_id=agreement.clearing_house_id,
        trader_org_id=org.id,
        account_no=account_no,
        label=label,
        ledger_account_id=sub.id,
        next_seq=1,
        status="active",
        created_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor,
        "clearing.account.open",
        "clearing_account",
        account.id,
        None,
        {"account_no": account_no, "label": label, "agreement_id": agreement.id},
    )
    return account


def pay_in(session: Session, actor: Actor, *, agreement_id: int, amount, reference: str, now=None):
    """Bank staff (teller, admin): cash paid into a trader's main deposit account."""
    ensure_role(actor, "teller")
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("agreement not found", code="agreement_not_found")
    amount = parse_money(amount, positive=True)
    cash = accounts.bank_accounts(session, actor, now=now)["cash"]
    return ledger.transfer(
        session,
        actor,
        transfer_id=f"clr:payin:{agreement.id}:{_reference(reference)}",
        debit_account_id=cash.id,
        credit_account_id=agreement.main_account_id,
        amount=amount,
        code="clr_pay_in",
        now=now,
    )


def _reference(reference: str) -> str:
    if not isinstance(reference, str) or not REF_RE.match(reference):
        raise ValidationFailed(
            "reference: 1-40 of letters, digits and ._-", code="invalid_reference"
        )
    return reference


def fund_account(
    session: Session, actor: Actor, *, account_id: int, amount, reference: str, now=None
) -> Funding:
    """The trader (its own account) or bank staff: main deposit -> trader account."""
    return _move(session, actor, account_id, amount, reference, withdrawal=False, now=now)


def withdraw_account(
    session: Session, actor: Actor, *, account_id: int, amount, reference: str, now=None
) -> Funding:
    """The trader (its own account) or bank staff: trader account -> main deposit, never more
    than the available balance (held funds stay). Stored as a ``Funding`` of minus the amount
    (the replay's starting point adds it up); once per reference (the same reference and amount
    again: the first answer; another amount: 409 ``transfer_id_reused``)."""
    return _move(session, actor, account_id, amount, reference, withdrawal=True, now=now)


def _move(session, actor, account_id, amount, reference, *, withdrawal: bool, now) -> Funding:
    now = now or utcnow()
    account = session.get(TraderAccount, account_id)
    ensure_visible(actor, account, [account.trader_org_id if account else None], "account")
    if not actor.is_bank_staff and actor.role != "enterprise":
        raise NotFound("account not found", code="account_not_found")
    amount = parse_money(amount, positive=True)
    reference = _reference(reference)
    transfer_id = (accounts.withdrawal_id if withdrawal else accounts.funding_id)(
        account.id, reference
    )
    existing = session.scalar(select(Funding).where(Funding.transfer_id == transfer_id))
    agreement = session.get(Agreement, account.agreement_id)
    if agreement.status != "active":
        raise BusinessRuleViolation("the agreement is not active", code="agreement_inactive")
    main, sub = agreement.main_account_id, account.ledger_account_id
    if withdrawal and existing is None:
        # the account's row lock orders this withdrawal with the instructions that hold funds
        session.scalar(
            select(TraderAccount.id).where(TraderAccount.id == account.id).with_for_update()
        )
        available = balance_of(session, account)[2]
        if amount > available:
            raise BusinessRuleViolation(
                f"more than the available balance {available}",
                code="insufficient_funds",
                details={"available": [str(available)]},
            )
    ledger.transfer(  # the same reference again: the ledger's 409 on another amount, else a no-op
        session,
        actor,
        transfer_id=transfer_id,
        debit_account_id=sub if withdrawal else main,
        credit_account_id=main if withdrawal else sub,
        amount=amount,
        code="clr_withdraw" if withdrawal else "clr_fund",
        now=now,
    )
    if existing is not None:
        return existing
    funding = Funding(
        account_id=account.id,
        amount=-amount if withdrawal else amount,
        transfer_id=transfer_id,
        created_at=now,
    )
    session.add(funding)
    session.flush()
    audit.record(
        session,
        actor,
        "clearing.account.withdraw" if withdrawal else "clearing.account.fund",
        "clearing_account",
        account.id,
        None,
        {"amount": amount, "transfer_id": transfer_id},
    )
    return funding


def balance_of(session: Session, account: TraderAccount) -> tuple[Decimal, Decimal, Decimal]:
    """(balance, held, available) of a trader account, from the ledger."""
    b = ledger.balance_of(session.get(ledger.Account, account.ledger_account_id))
    return b.posted, b.pending, b.available
