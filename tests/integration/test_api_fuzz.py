"""Schemathesis against the generated OpenAPI spec, in process (WSGI, no server), once per role.

Every operation gets schemathesis' deterministic coverage cases (as the admin and a client) and
a fixed, small number of generated requests (valid and invalid ones) with each demo user's
token, and each response must pass schemathesis' ``not_a_server_error``,
``response_schema_conformance`` and ``status_code_conformance`` (the spec documents no
``default`` response, so every status a response carries must be documented for its
operation). Generation is derandomized: the same code makes the same requests on every run.

Each role fuzzes its own freshly seeded database, so what one role's requests change (an admin
disabling a user, say) never hides another role's findings. Failures are collected, not raised
at the first, and reported together: one line per operation, role and check.
"""

from __future__ import annotations

import itertools
import shutil
from collections import defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import login

# The demo users (docs/CONTRACT.md section 1), one per role the seed creates.
ROLES = {
    "admin": "admin",
    "oem": "oem1",
    "dealer": "dealer1",
    "supervisor": "supervisor1",
    "rm": "rm1",
    "approver": "approver1",
    "teller": "teller1",
    "loader": "loader1",
    "marketing": "mkt1",
    "operator": "ops1",
    "client": "client1",
    "anonymous": None,  # no token: every operation but the public ones answers 401
}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Generated requests per operation: valid (positive) and invalid (negative) ones, more for the
# admin, whom fewer checks stop before the view's own logic.
EXAMPLES = {
    True: {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2},
    False: {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1},
}
# Roles that also get schemathesis' coverage phase (each parameter's boundaries and invalid
# values): the admin, who reaches every view.
COVERAGE_ROLES = {"admin"}
# The first of them per operation (the phase yields each parameter's cases in turn): about 3,900
# requests in all instead of 6,100; the whole file sends about 8,800 requests in about 60 s of CPU.
COVERAGE_CASES = 30

# Bad input that the platform refuses centrally (backend/platform/{pagination,money,errors}.py,
# the JSON parsing and URL converters: issue 13 item 7, another branch). Until that branch is
# merged, a 500 whose request carries one of these is listed but not failed; at the merge set
# this to True, and every 500 fails.
CENTRAL_BAD_INPUT_FIXED = True
BIG = 2**63


def central_class(case) -> str | None:
    """Which centrally fixed class of bad input a request carries, if any."""

    def walk(value, depth=0):
        if isinstance(value, bool):
            return
        if isinstance(value, int) and not -BIG <= value < BIG:
            yield "integer_out_of_range"
        elif isinstance(value, str):
            if value.lstrip("-").isdigit() and not -BIG <= int(value) < BIG:
                yield "integer_out_of_range"
            if any("\ud800" <= ch <= "\udfff" for ch in value):
                yield "lone_surrogate"
            if any(ch.isdigit() and not ch.isascii() for ch in value):
                yield "non_ascii_digits"
        elif isinstance(value, dict):
            if depth > 50:
                yield "deep_json"
            for item in value.values():
                yield from walk(item, depth + 1)
        elif isinstance(value, list):
            if depth > 50:
                yield "deep_json"
            for item in value:
                yield from walk(item, depth + 1)

    query = case.query or {}
    if query.get("cursor") not in (None, ""):
        return "forged_cursor"
    body = case.body if isinstance(case.body, dict | list) else None
    for part in (case.path_parameters, query, body):
        for found in walk(part or {}):
            return found
    return None


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory, sqlite_template):
    """One seeded SQLite file; each role's test runs on a copy of it."""
    from backend.app import create_app
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.platform.seeding import SeedOptions
    from backend.seed import seed

    path = tmp_path_factory.mktemp("fuzz") / "seeded.db"
    shutil.copy(sqlite_template, path)
    config = Config.from_env(database_url=f"sqlite:///{path}")
    app = create_app(config)
    try:
        with session_scope(app.extensions["finedge"].session_factory) as session:
            seed(session, config, SeedOptions(progress=False))
    finally:
        app.extensions["finedge"].runtime.stop()
    return path


class Fuzzer:
    """Sends cases with one role's token and collects what the checks refuse."""

    def __init__(self, headers: dict) -> None:
        self.headers = headers
        self.failures: dict[str, set[str]] = defaultdict(set)
        self.sent = 0
        self.unsatisfiable: set[str] = set()

    def send(self, case) -> None:
        # A fresh Idempotency-Key per request: generated keys repeat ("0", "" ...), and a
        # reused key answers 409 before the view runs, which would hide the view from the fuzzer.
        if case.headers and "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = f"fuzz-{self.sent}"
        self.sent += 1
        response = case.call(headers=self.headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=self.headers)
        except FailureGroup as exc:  # one entry per failed check
            excused = None
            if response.status_code >= 500 and not CENTRAL_BAD_INPUT_FIXED:
                excused = central_class(case)
            for failure in exc.exceptions:
                title = getattr(failure, "title", type(failure).__name__)
                where = f"{title} ({response.status_code})"
                if excused:
                    where = f"[central fix: {excused}] {where}"
                self.failures[where].add(f"{case.operation.method.upper()} {case.operation.path}")

    def generated(self, operation, mode, count: int) -> None:
        """``count`` cases drawn by Hypothesis, derandomized (the same on every run)."""

        @settings(
            max_examples=count,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            self.send(case)

        try:
            run()
        except Unsatisfiable:  # nothing invalid to send: no parameters, no body
            self.unsatisfiable.add(f"{operation.method.upper()} {operation.path} {mode.value}")

    def coverage(self, schema, operation) -> None:
        """Schemathesis' coverage phase: deterministic boundary and invalid values of every
        parameter and body field (missing, wrong type, out of range, unexpected method ...).
        CoverageGenerator is schemathesis' own driver of that phase (pinned version)."""
        from schemathesis.generation.drivers import CoverageGenerator
        from schemathesis.generation.hypothesis.builder import FeedbackSources
        from schemathesis.generation.overrides import Override

        generator = CoverageGenerator(
            operation=operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
            auth_storage=None,
            override=Override(),
            feedback=FeedbackSources(),
        )
        for case in itertools.islice(generator, COVERAGE_CASES):
            self.send(case)


def fuzz(app, headers: dict, examples: dict, coverage: bool) -> Fuzzer:
    """Every operation of the app's spec with one role's token."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    fuzzer = Fuzzer(headers)
    for result in schema.get_all_operations():
        operation = result.ok()
        if coverage:
            fuzzer.coverage(schema, operation)
        for mode, count in examples.items():
            fuzzer.generated(operation, mode, count)
    return fuzzer


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_operation_conforms_for_each_role(role, make_app, seeded_db, tmp_path):
    path = tmp_path / "fuzz.db"
    shutil.copy(seeded_db, path)
    app = make_app(f"sqlite:///{path}", seeded=False)
    headers = login(app.test_client(), ROLES[role]) if ROLES[role] else {}
    fuzzer = fuzz(app, headers, EXAMPLES[role == "admin"], coverage=role in COVERAGE_ROLES)
    failures = fuzzer.failures
    report = "\n".join(
        f"{title}: {', '.join(sorted(ops))}" for title, ops in sorted(failures.items())
    )
    print(f"schemathesis as {role}: {fuzzer.sent} requests\n{report or 'no failures'}")
    print(f"nothing to generate: {sorted(fuzzer.unsatisfiable)}")
    failed = [title for title in failures if not title.startswith("[central fix")]
    assert not failed, f"schemathesis failures as {role}:\n{report}"
