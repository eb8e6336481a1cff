"""Bad input is 400 with the contract's error shape on every route, never a 500.

Table-driven over the app itself (its URL map and OpenAPI document), so an endpoint added
later is covered without touching this file: every list endpoint with forged cursors, every
route with an ``<int:…>`` with 2**63 and 2**64, every integer query parameter beyond 64 bits,
every body-taking route with deep, duplicate-key, surrogate, NaN and oversized-number bodies.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.integration.test_app_errors import assert_error

PREFIX = "/api/v1"
USERS = (
    "admin",
    "supervisor1",
    "rm1",
    "approver1",
    "teller1",
    "oem1",
    "dealer1",
    "loader1",
    "mkt1",
    "ops1",
    "client1",
)
BODY_METHODS = ("POST", "PUT", "PATCH")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_CURSORS = {
    "object key": _cursor('{"k":{"a":1}}'),
    "list document": _cursor("[1,2]"),
    "10**30": _cursor(json.dumps({"k": 10**30})),
    "-10**30": _cursor(json.dumps({"k": -(10**30)})),
    "2**63": _cursor(json.dumps({"k": 2**63})),
    "null key": _cursor('{"k":null}'),
    "null document": _cursor("null"),
    "string key": _cursor('{"k":"abc"}'),
    "bool key": _cursor('{"k":true}'),
    "float key": _cursor('{"k":1.5}'),
    "list key": _cursor('{"k":[1]}'),
    "extra field": _cursor('{"k":1,"x":2}'),
    "duplicate key": _cursor('{"k":1,"k":2}'),
    "surrogate": _cursor('{"k":"\\ud800"}'),
    "NaN": _cursor('{"k":NaN}'),
    "not base64": "%%%",
    "not json": _cursor("{bad"),
    "not utf-8": base64.urlsafe_b64encode(b'{"k":"\xff"}').decode(),
    "too long": "A" * 5000,
    "deep": _cursor('{"k":' + "[" * 1000 + "]" * 1000 + "}"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One seeded app for the whole table (read-mostly; each probe is refused)."""
    from backend.app import create_app
    from backend.platform import migrate
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.platform.seeding import SeedOptions
    from backend.seed import seed

    path = tmp_path_factory.mktemp("bad-input") / "finedge.db"
    migrate.upgrade(f"sqlite:///{path}")
    config = Config.from_env(database_url=f"sqlite:///{path}")
    app = create_app(config)
    app.config["TESTING"] = True
    with session_scope(app.extensions["finedge"].session_factory) as session:
        seed(session, config, SeedOptions(enterprises=3, progress=False))
    client = app.test_client()
    tokens = {}
    for user in USERS:
        response = client.post(
            f"{PREFIX}/auth/token", json={"username": user, "password": f"{user}-demo"}
        )
        assert response.status_code == 200, response.get_json()
        tokens[user] = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    spec = client.get(f"{PREFIX}/openapi.json").get_json()
    yield app, client, tokens, spec
    app.extensions["finedge"].runtime.stop()


def _spec_operations(spec):
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            yield path, method.upper(), shared + op.get("parameters", [])


def _first_id(client, headers, url, key):
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        return None
    items = response.get_json()
    items = items.get("items", items) if isinstance(items, dict) else items
    return str(items[0][key]) if items else None


def _path_values(client, tokens):
    """Real values for the path parameters of list endpoints (a list behind an object needs
    one the caller may see before the cursor is read)."""
    admin = tokens["admin"]
    devices = client.get(f"{PREFIX}/devices?limit=200", headers=admin).get_json()["items"]
    locks = [d["device_id"] for d in devices if "lock" in d["device_type"]]
    return {
        "account_id": _first_id(client, admin, f"{PREFIX}/ledger/accounts", "id"),
        "device_id": devices[0]["device_id"] if devices else None,
        "lock_id": locks[0] if locks else None,
        "enterprise_id": _first_id(client, tokens["rm1"], f"{PREFIX}/risk/enterprises", "id"),
        "dealer_id": str(
            client.get(f"{PREFIX}/auth/me", headers=tokens["dealer1"]).get_json()["org_id"]
        ),
        "pool_id": _first_id(client, admin, f"{PREFIX}/assetpool/pools", "id"),
        "agreement_id": _first_id(client, admin, f"{PREFIX}/factoring/agreements", "id"),
        # a run of a built-in robot (its log list; the run need not have been worked)
        "run_id": str(
            client.post(
                f"{PREFIX}/rpa/robots/bill_reminders/runs", headers=admin, json={}
            ).get_json()["id"]
        ),
    }


def _fill(path: str, values: dict) -> str | None:
    def one(match):
        value = values.get(match.group(1))
        if value is None:
            raise LookupError(match.group(1))
        return value

    try:
        return re.sub(r"\{(\w+)\}", one, path)
    except LookupError:
        return None


def _list_endpoints(spec):
    return sorted(
        path
        for path, method, params in _spec_operations(spec)
        if method == "GET" and any(p["in"] == "query" and p["name"] == "cursor" for p in params)
    )


def test_every_list_endpoint_refuses_forged_cursors(world):
    _, client, tokens, spec = world
    values = _path_values(client, tokens)
    lists = _list_endpoints(spec)
    assert len(lists) >= 16
    unreachable, checked = [], 0
    for path in lists:
        url = _fill(path, values)
        user = next(
            (u for u in USERS if url and client.get(url, headers=tokens[u]).status_code == 200),
            None,
        )
        if user is None:
            unreachable.append(path)
            continue
        for name, cursor in BAD_CURSORS.items():
            response = client.get(url, query_string={"cursor": cursor}, headers=tokens[user])
            assert response.status_code == 400, (path, name, response.get_data(as_text=True))
            assert_error(response, 400, "invalid_cursor")
        checked += 1
    # An endpoint no demo user can list is a gap in this table: give it a path value above.
    assert not unreachable, unreachable
    assert checked == len(lists)


def test_a_real_next_cursor_still_pages(world):
    _, client, tokens, _ = world
    first = client.get(f"{PREFIX}/admin/users?limit=2", headers=tokens["admin"]).get_json()
    assert first["next_cursor"]
    second = client.get(
        f"{PREFIX}/admin/users",
        query_string={"limit": 2, "cursor": first["next_cursor"]},
        headers=tokens["admin"],
    )
    assert second.status_code == 200
    ids = [u["id"] for u in first["items"]] + [u["id"] for u in second.get_json()["items"]]
    assert ids == sorted(set(ids))


def _int_rules(app):
    from werkzeug.routing import IntegerConverter

    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if ints:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, ints


def _build(rule, overrides: dict) -> str:
    from werkzeug.routing import AnyConverter, IntegerConverter

    parts = []
    for is_dynamic, part in rule._trace:
        if not is_dynamic:
            parts.append(part)
        elif part in overrides:
            parts.append(overrides[part])
        else:
            converter = rule._converters[part]
            if isinstance(converter, IntegerConverter):
                parts.append("1")
            elif isinstance(converter, AnyConverter):
                parts.append(next(iter(converter.items)) if hasattr(converter, "items") else "x")
            else:
                parts.append("X1")
    return "".join(parts).split("|", 1)[1]


@pytest.mark.parametrize("number", [2**63, 2**64, 10**30])
def test_every_int_path_parameter_beyond_64_bits_is_400(world, number):
    app, client, tokens, _ = world
    rules = list(_int_rules(app))
    assert len(rules) >= 40
    for rule, method, ints in rules:
        for name in ints:
            url = _build(rule, {name: str(number)})
            response = client.open(url, method=method, headers=tokens["admin"], json={})
            assert response.status_code == 400, (method, url, response.get_data(as_text=True))
            assert_error(response, 400, "number_out_of_range")


def test_int_path_parameters_take_ascii_digits_only_and_the_largest_int64(world):
    app, client, tokens, _ = world
    for rule, method, ints in _int_rules(app):
        for value in (str(2**63 - 1), "0"):
            url = _build(rule, {ints[0]: value})
            response = client.open(url, method=method, headers=tokens["admin"], json={})
            assert response.status_code < 500, (method, url, response.get_data(as_text=True))
    # Arabic-Indic and fullwidth digits are no route (werkzeug's \\d+ would read them as 12)
    assert_error(client.get(f"{PREFIX}/orgs/١٢", headers=tokens["admin"]), 404, "not_found")
    assert_error(client.get(f"{PREFIX}/orgs/１２", headers=tokens["admin"]), 404, "not_found")


def test_every_integer_query_parameter_beyond_64_bits_is_400(world):
    _, client, tokens, spec = world
    values = _path_values(client, tokens)
    checked = 0
    for path, method, params in _spec_operations(spec):
        if method != "GET":
            continue
        url = _fill(path, values) or _fill(path, {k: "1" for k in re.findall(r"\{(\w+)\}", path)})
        for param in params:
            if param["in"] != "query" or param["schema"].get("type") != "integer":
                continue
            for raw, code in ((str(2**64), "number_out_of_range"), ("１２", "validation_error")):
                response = client.get(
                    url, query_string={param["name"]: raw}, headers=tokens["admin"]
                )
                assert response.status_code == 400, (path, param["name"], raw)
                err = assert_error(response, 400, code)
                assert param["name"] in err["details"]
            checked += 1
    assert checked >= 25


def _body_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        for method in sorted(rule.methods & set(BODY_METHODS)):
            yield rule, method


BAD_BODIES = {
    "deep array": ("[" * 1000 + "]" * 1000, "json_too_deep"),
    "deep object": ('{"a":' * 1000 + "1" + "}" * 1000, "json_too_deep"),
    "33 levels": ("[" * 33 + "]" * 33, "json_too_deep"),
    "very deep": ("[" * 100_000, "json_too_deep"),
    "duplicate key": ('{"amount":"1.00","amount":"2.00"}', "duplicate_json_key"),
    "lone surrogate value": ('{"name":"\\ud800"}', "invalid_unicode"),
    "lone surrogate key": ('{"\\udfff":"x"}', "invalid_unicode"),
    "surrogate in a list": ('{"a":["ok","\\ud800x"]}', "invalid_unicode"),
    "NUL": ('{"name":"a\\u0000b"}', "invalid_unicode"),
    "NaN": ('{"amount":NaN}', "non_finite_number"),
    "Infinity": ('{"amount":Infinity}', "non_finite_number"),
    "-Infinity": ('{"amount":-Infinity}', "non_finite_number"),
    "1e999": ('{"amount":1e999}', "non_finite_number"),
    "1e308": ('{"org_id":1e308}', "number_out_of_range"),
    "2**63": (f'{{"org_id":{2**63}}}', "number_out_of_range"),
    "-2**63-1": (f'{{"org_id":{-(2**63) - 1}}}', "number_out_of_range"),
    "5000 digits": ('{"org_id":' + "9" * 5000 + "}", "number_out_of_range"),
    "not utf-8": (b'{"name":"\xff"}', "malformed_json"),
    "syntax": ("{bad", "malformed_json"),
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_every_body_route_refuses_bad_json(world, kind):
    app, client, tokens, _ = world
    body, code = BAD_BODIES[kind]
    rules = list(_body_rules(app))
    assert len(rules) >= 60
    for rule, method in rules:
        url = _build(rule, {})
        for headers in (tokens["admin"], {}):  # before authentication too
            response = client.open(
                url, method=method, data=body, content_type="application/json", headers=headers
            )
            assert response.status_code == 400, (method, url, response.get_data(as_text=True))
            assert_error(response, 400, code)


def test_the_largest_numbers_allowed_still_parse(world):
    from backend.platform import strict_json

    assert strict_json.loads(f"[{2**63 - 1},{-(2**63)},1.5e18,-0.0]") == [
        2**63 - 1,
        -(2**63),
        1.5e18,
        -0.0,
    ]
    assert strict_json.loads('{"a":"\\ud83d\\ude00"}') == {"a": "\U0001f600"}  # a pair is fine
    assert strict_json.loads("[" * 32 + "]" * 32)


@pytest.mark.parametrize(
    "environ",
    [
        {"QUERY_STRING": "name=%ED%A0%80"},  # a surrogate, as CESU-8: not UTF-8
        {"QUERY_STRING": "name=%FF"},
        {"QUERY_STRING": "name=a%00b"},
        # as a WSGI server hands over a path: its raw bytes as latin-1
        {"PATH_INFO": "/api/v1/devices/\xed\xa0\x80"},
        {"PATH_INFO": "/api/v1/devices/\xff"},
        {"PATH_INFO": "/api/v1/devices/a\x00b"},
    ],
)
def test_urls_that_are_not_utf8_text_are_400(world, environ):
    _, client, tokens, _ = world
    response = client.get(f"{PREFIX}/orgs", headers=tokens["admin"], environ_overrides=environ)
    assert_error(response, 400, "invalid_unicode")


def test_oversized_body_is_413_everywhere(world):
    app, client, tokens, _ = world
    big = b'{"a":"' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    for rule, method in list(_body_rules(app))[:10]:
        response = client.open(
            _build(rule, {}),
            method=method,
            data=big,
            content_type="application/json",
            headers=tokens["admin"],
        )
        assert_error(response, 413, "payload_too_large")


def test_duplicate_amount_makes_no_bill(world):
    app, client, tokens, _ = world
    from sqlalchemy import func, select

    from backend.floorplan.models import Bill

    def bills():
        with app.extensions["finedge"].session_factory() as session:
            return session.scalar(select(func.count()).select_from(Bill))

    before = bills()
    response = client.post(
        f"{PREFIX}/floorplan/bills",
        data='{"amount":"1.00","amount":"2.00","term_months":3}',
        content_type="application/json",
        headers=tokens["dealer1"],
    )
    err = assert_error(response, 400, "duplicate_json_key")
    assert "amount" in err["message"]
    assert bills() == before


def test_every_blueprint_parses_with_the_strict_parser(world):
    import flask_smorest

    from miniapp_api.strict_input import Blueprint, StrictParser

    app = world[0]
    smorest = [b for b in app.blueprints.values() if isinstance(b, flask_smorest.Blueprint)]
    assert len(smorest) >= 10
    for blueprint in smorest:
        assert isinstance(blueprint, Blueprint), blueprint.name
        assert isinstance(blueprint.ARGUMENTS_PARSER, StrictParser)


def _json_argument_schemas(app):
    """(rule, method, schema) for every view that loads a JSON body through a schema."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods & set(BODY_METHODS)):
            func = getattr(view_class, method.lower(), None) if view_class else view
            apidoc = getattr(func, "_apidoc", {}) or {}
            for param in apidoc.get("arguments", {}).get("parameters", []):
                if param.get("in") == "json":
                    schema = param["schema"]
                    yield rule, method, schema() if isinstance(schema, type) else schema


def test_a_float_in_any_money_field_of_a_request_is_refused(world):
    from miniapp_api.common import Money

    app, client, tokens, _ = world
    checked = 0
    for rule, method, schema in _json_argument_schemas(app):
        for name, field in schema.fields.items():
            if not isinstance(field, Money) or field.dump_only:
                continue
            key = field.data_key or name
            response = client.open(
                _build(rule, {}), method=method, json={key: 1.5}, headers=tokens["admin"]
            )
            err = assert_error(response, 400, "validation_error")
            assert "not a float" in " ".join(err["details"][key]), (rule.rule, key, err)
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("amount", ["１００.００", "٣.٠٠", "1_000.00", "+1.00", " 1.00", "1e2"])
def test_money_in_other_scripts_or_forms_is_refused_by_the_api(world, amount):
    _, client, tokens, _ = world
    response = client.post(
        f"{PREFIX}/floorplan/bills",
        json={"amount": amount, "term_months": 3},
        headers=tokens["dealer1"],
    )
    err = assert_error(response, 400, "validation_error")
    assert "amount" in err["details"]
