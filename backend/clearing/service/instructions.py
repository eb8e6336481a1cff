"""The clearing house's side: signed requests checked, instructions applied in sequence.

``authenticate`` checks a request's signature, timestamp and nonce (its own session, committed
by the caller before the work, so that a refused instruction still burns its nonce).
``submit`` takes one or more instructions; each is idempotent on its id (same id and body: the
stored answer; another body: 409 ``instruction_id_reused``) and numbered per trader account:

- ``seq`` = the account's next: applied at once (or refused with the reason, nothing changed);
  then every pending instruction that now follows applies, in order, in the same transaction;
- ``seq`` beyond the next: stored ``pending`` until the gap fills (202);
- ``seq`` already used: 409 ``seq_already_applied``.

A pending instruction that the rules refuse when its turn comes is stored ``rejected`` with the
reason and uses up its number (the clearing house was already told ``pending``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.clearing import accounts, rules
from backend.clearing.models import (
    Agreement,
    ClearingHouse,
    ClearingOrder,
    GapAlarm,
    Instruction,
    SeenNonce,
    TraderAccount,
)
from backend.clearing.secretbox import SecretBox
from backend.clearing.signing import NONCE_RE, check_signature
from backend.ledger import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    HTTP_STATUS,
    BusinessRuleViolation,
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)

MAX_BATCH = 500
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}", re.ASCII)


def _refused(code: str, message: str) -> NotAuthenticated:
    return NotAuthenticated(message, code=code)


def authenticate(
    session: Session,
    box: SecretBox,
    *,
    house_code: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    method: str,
    path: str,
    body: bytes,
    now: datetime | None = None,
) -> ClearingHouse:
    """The clearing house that signed this request, its nonce recorded; 401 otherwise
    (signature_required, unknown_clearing_house, stale_timestamp, bad_signature,
    nonce_reused)."""
    now = now or utcnow()
    if not (house_code and timestamp and nonce and signature):
        raise _refused(
            "signature_required",
            "X-Clearing-House, X-Timestamp, X-Nonce and X-Signature are required",
        )
    house = session.scalar(select(ClearingHouse).where(ClearingHouse.code == house_code[:40]))
    if house is None or house.status != "active":
        raise _refused("unknown_clearing_house", "unknown or inactive clearing house")
    if not TIMESTAMP_RE.fullmatch(timestamp):
        raise _refused("stale_timestamp", "X-Timestamp must be Unix seconds")
    if abs(now.timestamp() - int(timestamp)) > house.replay_window_s:
        raise _refused("stale_timestamp", "X-Timestamp is outside the replay window")
    if not NONCE_RE.match(nonce):
        raise _refused("bad_nonce", "X-Nonce: 8-64 of A-Za-z0-9_-")
    secret = box.decrypt(house.secret_token)
    if not check_signature(secret, method, path, timestamp, nonce, body, signature):
        raise _refused("bad_signature", "the signature does not match")
    seen = session.scalar(
        select(SeenNonce.id).where(
            SeenNonce.clearing_house_id == house.id, SeenNonce.nonce == nonce
        )
    )
    if seen is not None:
        raise _refused("nonce_reused", "this nonce was already used")
    session.add(SeenNonce(clearing_house_id=house.id, nonce=nonce, seen_at=now))
    return house


def house_actor(house: ClearingHouse) -> Actor:
    return Actor(
        user_id=None,
        username=f"clearinghouse:{house.code}",
        role="clearinghouse",
        org_id=house.org_id,
    )


@dataclass
class Answer:
    """The answer to one instruction (one entry of a batch's ``results``)."""

    id: str | None
    status: str  # applied | pending | rejected | refused
    http_status: int
    seq: int | None = None
    account: str | None = None
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    applied_after: list[str] = field(default_factory=list)  # pending ones it let through
    replayed: bool = False


def submit(
    session: Session, house: ClearingHouse, bodies: list, *, now: datetime | None = None
) -> list[Answer]:
    """Each instruction in its own SAVEPOINT: one refused never undoes another."""
    now = now or utcnow()
    if not isinstance(bodies, list) or not 1 <= len(bodies) <= MAX_BATCH:
        raise ValidationFailed(
            f"instructions: 1 to {MAX_BATCH}",
            code="invalid_batch",
            details={"instructions": [f"1 to {MAX_BATCH} instructions"]},
        )
    actor = house_actor(house)
    bank = accounts.bank_accounts(session, actor, now=now)
    answers = []
    for body in bodies:
        savepoint = session.begin_nested()
        try:
            answer = _submit_one(session, actor, house, bank, body, now)
        except DomainError as exc:
            savepoint.rollback()
            ident = body.get("id") if isinstance(body, dict) else None
            answers.append(
                Answer(
                    id=ident if isinstance(ident, str) else None,
                    status="refused",
                    http_status=HTTP_STATUS.get(exc.kind, 422),
                    code=exc.code,
                    message=exc.message,
                    details=exc.details,
                )
            )
            continue
        savepoint.commit()
        answers.append(answer)
    return answers


def _stored_answer(ins: Instruction, account_no: str) -> Answer:
    status = {"applied": 200, "pending": 202, "rejected": 200}[ins.status]
    code, _, message = (ins.reason or "").partition(": ")
    return Answer(
        id=ins.instruction_id,
        status=ins.status,
        http_status=status,
        seq=ins.seq,
        account=account_no,
        code=code or None,
        message=message or None,
        replayed=True,
    )


def _account(session: Session, house: ClearingHouse, number: str, lock: bool):
    stmt = select(TraderAccount).where(
        TraderAccount.clearing_house_id == house.id, TraderAccount.account_no == number
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _existing(session: Session, house: ClearingHouse, instruction_id: str):
    return session.scalar(
        select(Instruction).where(
            Instruction.clearing_house_id == house.id, Instruction.instruction_id == instruction_id
        )
    )


def _submit_one(session, actor, house, bank, body, now) -> Answer:
    p = rules.parse_instruction(body)
    existing = _existing(session, house, p.instruction_id)
    if existing is not None:
        if existing.body_hash != p.body_hash:
            raise Conflict(
                "this instruction id was used with another body", code="instruction_id_reused"
            )
        return _stored_answer(existing, p.account_no)
    account = _account(session, house, p.account_no, lock=True)
    if account is None:
        raise NotFound(
            "unknown trader account", code="unknown_account", details={"account": [p.account_no]}
        )
    agreement = session.get(Agreement, account.agreement_id)
    if account.status != "active" or agreement.status != "active":
        raise BusinessRuleViolation("the trader account is not active", code="account_inactive")
    counterparty = None
    if p.counterparty_no is not None:
        counterparty = _account(session, house, p.counterparty_no, lock=False)
        if counterparty is None:
            raise NotFound(
                "unknown counterparty account",
                code="unknown_counterparty",
                details={"counterparty": [p.counterparty_no]},
            )
        if counterparty.id == account.id:
            raise BusinessRuleViolation("a trader cannot deliver to itself", code="self_delivery")
    if p.seq < account.next_seq:
        # the same instruction may have applied in a concurrent request while this one waited
        # for the account's lock: then it gets the stored answer, not a conflict
        again = _existing(session, house, p.instruction_id)
        if again is not None and again.body_hash == p.body_hash:
            return _stored_answer(again, p.account_no)
        raise Conflict(
            f"seq {p.seq} was already used on this account (next {account.next_seq})",
            code="seq_already_applied",
            details={"next_seq": account.next_seq},
        )
    # a waiting instruction always has a number beyond the next (the next one applies at once)
    if p.seq > account.next_seq and session.scalar(
        select(Instruction.id).where(Instruction.account_id == account.id, Instruction.seq == p.seq)
    ):
        raise Conflict(f"seq {p.seq} is already waiting on this account", code="seq_taken")
    ins = Instruction(
        clearing_house_id=house.id,
        instruction_id=p.instruction_id,
        account_id=account.id,
        seq=p.seq,
        kind=p.kind,
        order_ref=p.order_ref,
        amount=p.amount,
        fee=p.fee,
        clearing_fee=p.clearing_fee,
        counterparty_account_id=counterparty.id if counterparty else None,
        trade_date=p.trade_date or now.date(),
        body_hash=p.body_hash,
        status="pending",
        received_at=now,
    )
    answer = Answer(
        id=p.instruction_id,
        status="pending",
        http_status=202,
        seq=p.seq,
        account=account.account_no,
    )
    if p.seq > account.next_seq:
        session.add(ins)
        session.flush()
        audit.record(
            session,
            actor,
            "clearing.instruction.pending",
            "clearing_instruction",
            ins.id,
            None,
            {"seq": p.seq, "next_seq": account.next_seq},
        )
        return answer
    _apply(session, actor, house, bank, account, ins, now)  # raises: nothing stored
    session.add(ins)
    _applied(session, actor, account, ins, now)
    answer.status, answer.http_status = "applied", 200
    answer.applied_after = _fill_gap(session, actor, house, bank, account, now)
    return answer


def _applied(session, actor, account, ins: Instruction, now) -> None:
    ins.status = "applied"
    ins.applied_at = now
    account.next_seq = ins.seq + 1
    session.flush()
    audit.record_now(  # one Core INSERT: the hot path
        session,
        actor,
        "clearing.instruction.applied",
        "clearing_instruction",
        ins.id,
        None,
        {"seq": ins.seq, "kind": ins.kind, "order": ins.order_ref, "amount": ins.amount},
    )


def _fill_gap(session, actor, house, bank, account, now) -> list[str]:
    """Apply the pending instructions that now follow, in order."""
    done = []
    while True:
        ins = session.scalar(
            select(Instruction).where(
                Instruction.account_id == account.id,
                Instruction.seq == account.next_seq,
                Instruction.status == "pending",
            )
        )
        if ins is None:
            break
        savepoint = session.begin_nested()
        try:
            _apply(session, actor, house, bank, account, ins, now)
        except DomainError as exc:
            savepoint.rollback()
            ins = session.get(Instruction, ins.id)
            ins.status = "rejected"
            ins.reason = f"{exc.code}: {exc.message}"[:200]
            ins.applied_at = now
            account.next_seq = ins.seq + 1
            audit.record(
                session,
                actor,
                "clearing.instruction.rejected",
                "clearing_instruction",
                ins.id,
                {"status": "pending"},
                {"status": "rejected", "reason": ins.reason},
            )
        else:
            savepoint.commit()
            _applied(session, actor, account, ins, now)
        done.append(ins.instruction_id)
    if done:
        for alarm in session.scalars(
            select(GapAlarm).where(
                GapAlarm.account_id == account.id,
                GapAlarm.status == "open",
                GapAlarm.missing_to < account.next_seq,
            )
        ):
            alarm.status, alarm.closed_at = "closed", now
    return done


def _apply(session, actor, house, bank, account, ins: Instruction, now) -> None:
    """Move the money of one instruction (one ledger batch) and update its order; raise with
    the reason (nothing changed) when the rules or the ledger refuse it."""
    order = session.scalar(
        select(ClearingOrder).where(
            ClearingOrder.clearing_house_id == house.id, ClearingOrder.order_ref == ins.order_ref
        )
    )
    if order is not None and order.account_id != account.id:
        if ins.kind == "order":
            raise BusinessRuleViolation("this order was already placed", code="order_exists")
        raise BusinessRuleViolation("no such order on this account", code="order_not_found")
    state = None
    if order is not None:
        state = rules.OrderState(
            order.status,
            order.open_amount,
            order.bargained_amount,
            order.fee_held,
            order.delivered_amount,
        )
    done = rules.step(state, ins.kind, ins.amount, ins.fee, ins.clearing_fee)
    old_total = state.hold_total if state else rules.ZERO
    new_total = done.state.hold_total
    specs = []
    hold_transfer_id = order.hold_transfer_id if order else None
    if new_total != old_total:
        if hold_transfer_id:
            specs.append(TransferSpec.void(hold_transfer_id))
            hold_transfer_id = None
        if new_total > 0:
            hold_transfer_id = accounts.hold_id(house.id, ins.instruction_id)
            specs.append(
                TransferSpec.hold(
                    hold_transfer_id,
                    account.ledger_account_id,
                    bank["settlement"].id,
                    new_total,
                    f"clr_{ins.kind}",
                    reference=ins.order_ref,
                )
            )
    if ins.kind == "delivery":
        seller = session.get(TraderAccount, ins.counterparty_account_id)
        buyer = account.ledger_account_id
        legs = [
            ("d", seller.ledger_account_id, ins.amount),
            ("f", bank["fees"].id, ins.fee),
            ("c", house.fee_account_id, ins.clearing_fee),
        ]
        for leg, credit, amount in legs:
            if amount > 0:
                specs.append(
                    TransferSpec.single(
                        accounts.leg_id(house.id, ins.instruction_id, leg),
                        buyer,
                        credit,
                        amount,
                        f"clr_delivery_{leg}",
                        reference=ins.order_ref,
                    )
                )
    if specs:
        ledger.execute_batch(session, actor, specs, now=now)
    if order is None:
        order = ClearingOrder(
            clearing_house_id=house.id,
            account_id=account.id,
            order_ref=ins.order_ref,
            delivered_amount=rules.ZERO,
            created_at=now,
        )
        session.add(order)
    order.status = done.state.status
    order.open_amount = done.state.open_amount
    order.bargained_amount = done.state.bargained
    order.fee_held = done.state.fee_held
    order.delivered_amount = done.state.delivered
    order.hold_transfer_id = hold_transfer_id
    order.updated_at = now
