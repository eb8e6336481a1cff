"""Pure identity rules: which roles a person may hold in which kind of org, what an org or
branch code looks like, passwords, and a branch's opening hours.

No database here: the use cases (``service``) apply these to rows and raise the errors.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, fields
from typing import Any

from backend.platform.errors import ValidationFailed

ORG_KINDS = ("bank", "oem", "dealer", "supervisor", "enterprise", "branch", "clearinghouse")

# The roles a person may hold (``device`` is the role the centre gives a device acting on its
# own behalf, never a login) and the kinds of org each may belong to.
ROLE_ORG_KINDS: dict[str, tuple[str, ...]] = {
    "admin": ("bank",),
    "rm": ("bank", "branch"),
    "approver": ("bank", "branch"),
    "teller": ("bank", "branch"),
    "loader": ("bank", "branch"),
    # the head office's marketing team: segments, campaigns, uplift and KPIs of every client
    "marketing": ("bank",),
    # back-office staff of a department (operations, finance, risk, retail): the robot
    # factory's runs, work items and review queue of their department's robots
    "operator": ("bank",),
    "oem": ("oem",),
    "dealer": ("dealer",),
    "supervisor": ("supervisor",),
    "client": ("enterprise",),
    # an enterprise's finance staff: its asset pool, its payables and factoring (as core
    # enterprise or supplier), its commodity trading accounts
    "enterprise": ("enterprise",),
}
USER_ROLES = tuple(ROLE_ORG_KINDS)
BANK_ORG_KINDS = ("bank", "branch")  # staff (with or without a branch) work in these
BRANCH_ROLES = ("rm", "approver", "teller", "loader")  # staff who may have a branch

# Roles an admin may give a person (``device`` is the centre's own role for devices, never a
# login; any role not listed here is refused with ``role_not_assignable``).
ASSIGNABLE_ROLES = USER_ROLES


@dataclass(frozen=True)
class LoginLimits:
    """Login back-off (OWASP ASVS 2.2.1: soft lock-outs with increasing delays, per-address
    limits; never a permanent lock). Failures older than ``window_s`` are forgotten.

    - one account from one address: ``max_failures`` free, then each further failure makes the
      next attempt wait ``backoff_base_s`` doubled per failure, at most ``backoff_max_s``;
    - one account from every address: the same past ``max_failures_per_account``, except from
      an address the account logged in from before (failures sent from elsewhere do not lock a
      user out of their usual address);
    - one address over every account: the same past ``max_failures_per_address``.

    An attempt during a back-off is answered 429 with Retry-After without checking the
    password and is not counted (hammering does not lengthen it)."""

    max_failures: int = 5
    max_failures_per_account: int = 10
    max_failures_per_address: int = 20
    window_s: int = 3600
    backoff_base_s: int = 30
    backoff_max_s: int = 900

    @classmethod
    def of(cls, config: Any) -> LoginLimits:
        """The limits of a ``Config`` (its ``login_<field>`` settings)."""
        return cls(**{f.name: getattr(config, f"login_{f.name}") for f in fields(cls)})

    def backoff_s(self, failures: int, free: int) -> int | None:
        """Seconds to wait after the last of ``failures`` (None: no back-off yet)."""
        if failures < free:
            return None
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** min(failures - free, 20))


MIN_PASSWORD = 8
MAX_PASSWORD = 200

# Codes name orgs in the CLI and branches in MQTT topics and broker logins: letters, digits,
# "_" and "-", starting with a letter or digit. "STATE" is the central host's topic level.
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
RESERVED_BRANCH_CODES = frozenset({"STATE"})

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")


def check_role(role: str) -> None:
    """A role an admin may give a person, else 400 ``role_not_assignable`` (``device``, or a
    role that does not exist)."""
    if role not in ASSIGNABLE_ROLES:
        raise ValidationFailed(
            f"role {role!r} cannot be given to a user",
            code="role_not_assignable",
            details={"role": [f"one of {', '.join(ASSIGNABLE_ROLES)}"]},
        )


def check_role_in_org(role: str, org_kind: str) -> None:
    """A teller in a dealer org, or a dealer in the bank, is refused."""
    check_role(role)
    kinds = ROLE_ORG_KINDS[role]
    if org_kind not in kinds:
        raise ValidationFailed(
            f"a {role} cannot belong to a {org_kind} org",
            code="role_not_allowed_in_org",
            details={"role": [f"a {role} belongs to an org of kind {' or '.join(kinds)}"]},
        )


def check_password(password: str, field: str = "password") -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationFailed(
            "password too short" if len(password or "") < MIN_PASSWORD else "password too long",
            details={field: [f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"]},
        )


def check_code(code: str, field: str, max_length: int) -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code) or len(code) > max_length:
        raise ValidationFailed(
            f"{field} {code!r} is not a valid code",
            details={field: [f"1 to {max_length} letters, digits, '_' or '-'"]},
        )
    return code


def check_branch_code(code: str) -> str:
    check_code(code, "code", 20)
    if code.upper() in RESERVED_BRANCH_CODES:
        raise ValidationFailed(f"{code!r} is reserved", details={"code": ["reserved"]})
    return code


def check_name(name: str, field: str = "name", max_length: int = 200) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > max_length:
        raise ValidationFailed(
            f"{field} is required", details={field: [f"1 to {max_length} characters"]}
        )
    return name.strip()


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def normalise_opening_hours(hours: Any) -> dict[str, list[list[str]]]:
    """``{"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}``: weekdays from ``WEEKDAYS``,
    each a list of [open, close] local times (HH:MM, close after open, "24:00" allowed),
    sorted and not overlapping. A day left out or with an empty list is closed."""

    def bad(message: str) -> ValidationFailed:
        return ValidationFailed(f"opening hours: {message}", details={"opening_hours": [message]})

    if not isinstance(hours, dict):
        raise bad('an object of weekdays, e.g. {"mon": [["09:00", "17:00"]]}')
    result: dict[str, list[list[str]]] = {}
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise bad(f"unknown day {day!r}; days are {', '.join(WEEKDAYS)}")
        if not isinstance(spans, list) or len(spans) > 6:
            raise bad(f"{day}: a list of at most 6 [open, close] pairs")
        parsed = []
        for span in spans:
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and _TIME_RE.fullmatch(t) for t in span)
            ):
                raise bad(f"{day}: each span is [open, close] as HH:MM")
            start, end = _minutes(span[0]), _minutes(span[1])
            if end <= start:
                raise bad(f"{day}: {span[0]}-{span[1]} closes before it opens")
            parsed.append((start, end, [span[0], span[1]]))
        parsed.sort()
        for (_s1, e1, a), (s2, _e2, b) in itertools.pairwise(parsed):
            if s2 < e1:
                raise bad(f"{day}: {a[0]}-{a[1]} overlaps {b[0]}-{b[1]}")
        if parsed:
            result[day] = [span for _s, _e, span in parsed]
    return {day: result[day] for day in WEEKDAYS if day in result}


def parse_opening_hours(text: str) -> dict[str, list[list[str]]]:
    """The CLI's form: ``"mon-fri 09:00-17:00; sat 10:00-12:00,13:00-15:00"``."""
    hours: dict[str, list[list[str]]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        days, _, spans = part.partition(" ")
        first, _, last = days.lower().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValidationFailed(
                f"opening hours: bad days {days!r}",
                details={"opening_hours": ["days like mon, mon-fri"]},
            )
        i, j = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        pairs = [s.strip().split("-") for s in spans.split(",") if s.strip()]
        for day in WEEKDAYS[i : j + 1]:
            hours.setdefault(day, []).extend([list(p) for p in pairs])
    return normalise_opening_hours(hours)
