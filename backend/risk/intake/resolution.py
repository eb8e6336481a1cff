"""Entity resolution: which enterprise (or person) a feed record is about.

A record with a credit code resolves by the code.  Only a record that may create an
enterprise (a ``registry`` profile: the registry is the master of who exists; or a load that
says so explicitly) creates the enterprise of a new code, or attaches the code to an
enterprise first met without one (e.g. a dealer known only from floor-plan events).  Any other
record naming an unknown code is ``Unresolved`` (``unknown_credit_code``), unless a person
already resolved that code to an enterprise (a resolved ``ResolutionItem``): the ingestion
holds it in the review queue instead of creating a phantom enterprise.  A record with only a
name resolves through the normalised name of a known enterprise or one of its aliases; every
differently spelled name that arrives together with a code is kept as an alias for later
records that carry only that spelling (never a name that is another enterprise's own name).
A name that matches no enterprise (``unresolved_enterprise``), or more than one
(``ambiguous_name``), is not guessed either."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.risk.creditcode import normalize_name
from backend.risk.intake.records import EnterpriseRef, PersonRef
from backend.risk.models import Enterprise, EnterpriseAlias, Person, ResolutionItem


@dataclass(frozen=True)
class Unresolved:
    """Why a reference names no single known enterprise (the record goes to the review
    queue): ``unknown_credit_code``, ``unresolved_enterprise`` (a name matching nobody) or
    ``ambiguous_name`` (a name matching several)."""

    reason: str
    ref: EnterpriseRef
    message: str


def pin_key(credit_code: str | None, name: str | None) -> str:
    """How a reference a reviewer resolved is pinned: by its code, else its normalised name."""
    return f"code:{credit_code}" if credit_code else f"name:{normalize_name(name or '')}"


class Resolver:
    """Resolves references within one ingestion (with caches: a feed names the same
    enterprise many times).  ``pins``: references a person resolved (the review queue), by
    ``pin_key``, each to its enterprise."""

    def __init__(
        self,
        session: Session,
        source: str,
        now: datetime,
        *,
        pins: Mapping[str, Enterprise] | None = None,
    ):
        self.session, self.source, self.now = session, source, now
        self.by_code: dict[str, Enterprise] = {}
        self.by_name: dict[str, tuple[Enterprise | None, int]] = {}
        self.persons: dict[str, Person] = {}
        self.pins = dict(pins or {})
        self.unknown: set[str] = set()  # codes looked up and not found
        self.created = 0
        self.new_codes: list[str] = []  # codes that became known here (created or attached)
        self.alias_checked: set[tuple[int, str]] = set()

    def prefetch(self, refs: Iterable[EnterpriseRef], creating: Iterable[str] = ()) -> None:
        """Load the enterprises of every credit code named in a batch (one query per 500 codes
        instead of one per record) and create, in one flush, those of the new codes in
        ``creating`` (the codes of records that may create their enterprise)."""
        names: dict[str, str | None] = {}
        for ref in refs:
            if ref.credit_code and (ref.credit_code not in names or not names[ref.credit_code]):
                names[ref.credit_code] = ref.name
        codes = [c for c in names if c not in self.by_code]
        for start in range(0, len(codes), 500):
            for ent in self.session.scalars(
                select(Enterprise).where(Enterprise.credit_code.in_(codes[start : start + 500]))
            ):
                self.by_code[ent.credit_code] = ent
        creating = set(creating)
        missing = [c for c in codes if c not in self.by_code and c in creating]
        placeholders = self.session.scalar(
            select(Enterprise.id).where(Enterprise.credit_code.is_(None)).limit(1)
        )
        if not missing or placeholders is not None:
            return  # enterprises without a code exist: let _by_code try to attach codes
        fresh = [self._new(code, names[code] or code) for code in missing]
        try:
            with self.session.begin_nested():
                self.session.add_all(fresh)
                self.session.flush()
        except IntegrityError:  # someone created some of them meanwhile: one by one
            return
        for ent in fresh:
            self.by_code[ent.credit_code] = ent
        self.created += len(fresh)
        self.new_codes.extend(ent.credit_code for ent in fresh)

    def enterprise(self, ref: EnterpriseRef, *, create: bool = False) -> Enterprise | Unresolved:
        """The enterprise ``ref`` names, or why there is none.  ``create``: the record may
        create the enterprise of a new credit code (a registry profile)."""
        pinned = self.pins.get(pin_key(ref.credit_code, ref.name)) if self.pins else None
        if pinned is not None:
            return pinned
        if ref.credit_code:
            ent = self._by_code(ref.credit_code, ref.name, create)
            if ent is None:
                return Unresolved(
                    "unknown_credit_code",
                    ref,
                    f"credit code {ref.credit_code} is not a known enterprise "
                    "(held for review; only the registry creates enterprises)",
                )
            if ref.name:
                self._remember_alias(ent, ref.name)
            return ent
        ent, matches = self._by_name(ref.name or "")
        if ent is not None:
            return ent
        if matches > 1:
            return Unresolved(
                "ambiguous_name",
                ref,
                f"{matches} known enterprises are named {ref.name!r}; send the credit code",
            )
        return Unresolved(
            "unresolved_enterprise",
            ref,
            f"no known enterprise is named {ref.name!r}; send the credit code",
        )

    def _by_code(self, code: str, name: str | None, create: bool) -> Enterprise | None:
        ent = self.by_code.get(code)
        if ent is not None:
            return ent
        if code in self.unknown and not create:
            return None
        ent = self.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
        if ent is None:
            ent = self._learned(code)
        if ent is None and name and create:
            # first met without a code (e.g. from the bank's own events): attach the code
            candidate, _n = self._by_name(name)
            if candidate is not None and candidate.credit_code is None:
                candidate.credit_code = code
                candidate.updated_at = self.now
                ent = candidate
                self.new_codes.append(code)
        if ent is None and create:
            ent = self._create(code, name or code)
        if ent is not None:
            self.by_code[code] = ent
            self.unknown.discard(code)
        else:
            self.unknown.add(code)
        return ent

    def _new(self, code: str | None, name: str) -> Enterprise:
        return Enterprise(
            credit_code=code,
            name=name.strip()[:200],
            normalized_name=normalize_name(name)[:200],
            status="in_business",
            attributes={},
            created_at=self.now,
            updated_at=self.now,
        )

    def _create(self, code: str | None, name: str) -> Enterprise:
        ent = self._new(code, name)
        try:
            with self.session.begin_nested():
                self.session.add(ent)
                self.session.flush()
        except IntegrityError:  # created concurrently by another feed
            ent = self.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
            if ent is None:
                raise
        else:
            self.created += 1
            self.new_codes.append(code)
        self.by_name.pop(ent.normalized_name, None)
        return ent

    def _learned(self, code: str) -> Enterprise | None:
        """The enterprise a person resolved an unknown ``code`` to (the review queue)."""
        ent_id = self.session.scalar(
            select(ResolutionItem.enterprise_id)
            .where(
                ResolutionItem.credit_code == code,
                ResolutionItem.status == "resolved",
                ResolutionItem.enterprise_id.is_not(None),
            )
            .order_by(ResolutionItem.decided_at.desc(), ResolutionItem.id.desc())
            .limit(1)
        )
        return self.session.get(Enterprise, ent_id) if ent_id is not None else None

    def _by_name(self, name: str) -> tuple[Enterprise | None, int]:
        """The one enterprise with this (normalised) name or alias, and how many match."""
        key = normalize_name(name)
        if not key:
            return None, 0
        if key in self.by_name:
            return self.by_name[key]
        ids = set(
            self.session.scalars(select(Enterprise.id).where(Enterprise.normalized_name == key))
        )
        ids |= set(
            self.session.scalars(
                select(EnterpriseAlias.enterprise_id).where(EnterpriseAlias.normalized_name == key)
            )
        )
        ent = self.session.get(Enterprise, next(iter(ids))) if len(ids) == 1 else None
        self.by_name[key] = (ent, len(ids))
        return ent, len(ids)

    def _remember_alias(self, ent: Enterprise, name: str) -> None:
        key = normalize_name(name)[:200]
        if not key or key == ent.normalized_name or self.by_name.get(key, (None, 0))[0] is ent:
            return
        if (ent.id, key) in self.alias_checked:
            return
        self.alias_checked.add((ent.id, key))
        other = self.session.scalar(
            select(Enterprise.id)
            .where(Enterprise.normalized_name == key, Enterprise.id != ent.id)
            .limit(1)
        )
        if other is not None:
            return  # another enterprise's own name: never an alias of this one
        owner = self.session.scalar(
            select(EnterpriseAlias.enterprise_id).where(EnterpriseAlias.normalized_name == key)
        )
        if owner is None:
            try:
                with self.session.begin_nested():
                    self.session.add(
                        EnterpriseAlias(
                            enterprise_id=ent.id,
                            normalized_name=key,
                            name=name.strip()[:200],
                            source=self.source,
                            created_at=self.now,
                        )
                    )
                    self.session.flush()
            except IntegrityError:
                return
        self.by_name[key] = (ent, 1) if owner in (None, ent.id) else (None, 2)

    def person(self, ref: PersonRef) -> Person:
        person = self.persons.get(ref.person_key)
        if person is None:
            person = self.session.scalar(select(Person).where(Person.person_key == ref.person_key))
        if person is None:
            person = Person(
                person_key=ref.person_key,
                name=(ref.name or ref.person_key)[:120],
                created_at=self.now,
            )
            try:
                with self.session.begin_nested():
                    self.session.add(person)
                    self.session.flush()
            except IntegrityError:
                person = self.session.scalar(
                    select(Person).where(Person.person_key == ref.person_key)
                )
        elif ref.name and person.name != ref.name:
            person.name = ref.name[:120]
        self.persons[ref.person_key] = person
        return person
