"""Entity resolution: which enterprise (or person) a feed record is about.

A record with a credit code resolves by the code (creating the enterprise when the code is
new, or attaching the code to an enterprise first met without one, e.g. a dealer known only
from floor-plan events).  A record with only a name resolves through the normalised name of a
known enterprise or one of its aliases; every differently spelled name that arrives together
with a code is kept as an alias for later records that carry only that spelling.  A name that
matches no enterprise, or more than one, is not guessed: the record is rejected
(``unresolved_enterprise``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.risk.creditcode import normalize_name
from backend.risk.intake.records import EnterpriseRef, PersonRef
from backend.risk.models import Enterprise, EnterpriseAlias, Person


class Resolver:
    """Resolves references within one ingestion (with caches: a feed names the same
    enterprise many times)."""

    def __init__(self, session: Session, source: str, now: datetime):
        self.session, self.source, self.now = session, source, now
        self.by_code: dict[str, Enterprise] = {}
        self.by_name: dict[str, Enterprise | None] = {}
        self.persons: dict[str, Person] = {}
        self.created = 0

    def prefetch(self, refs: Iterable[EnterpriseRef]) -> None:
        """Load (and create, in one flush) the enterprises of every credit code named in a
        batch: one query per 500 codes instead of one per record."""
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
        missing = [c for c in codes if c not in self.by_code]
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

    def enterprise(self, ref: EnterpriseRef, *, create: bool = True) -> Enterprise | None:
        if ref.credit_code:
            ent = self._by_code(ref.credit_code, ref.name, create)
            if ent is not None and ref.name:
                self._remember_alias(ent, ref.name)
            return ent
        return self._by_name(ref.name or "")

    def _by_code(self, code: str, name: str | None, create: bool) -> Enterprise | None:
        ent = self.by_code.get(code)
        if ent is not None:
            return ent
        ent = self.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
        if ent is None and name:
            # first met without a code (e.g. from the bank's own events): attach the code
            candidate = self._by_name(name)
            if candidate is not None and candidate.credit_code is None:
                candidate.credit_code = code
                candidate.updated_at = self.now
                ent = candidate
        if ent is None and create:
            ent = self._create(code, name or code)
        if ent is not None:
            self.by_code[code] = ent
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
        self.by_name.pop(ent.normalized_name, None)
        return ent

    def _by_name(self, name: str) -> Enterprise | None:
        key = normalize_name(name)
        if not key:
            return None
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
        ent = self.session.get(Enterprise, ids.pop()) if len(ids) == 1 else None
        self.by_name[key] = ent
        return ent

    def _remember_alias(self, ent: Enterprise, name: str) -> None:
        key = normalize_name(name)[:200]
        if not key or key == ent.normalized_name or self.by_name.get(key) is ent:
            return
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
        self.by_name[key] = ent if owner in (None, ent.id) else None

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
