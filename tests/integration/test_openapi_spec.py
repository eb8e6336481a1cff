"""The generated OpenAPI spec keeps its promises (docs/CONTRACT.md section 2): every operation
described, its error responses and Idempotency-Key documented, every list a cursor page, every
field typed (money a decimal string), one timestamp format, UTF-8 JSON, health documented."""

from __future__ import annotations

import re

import pytest

METHODS = ("get", "post", "put", "patch", "delete")
STATE_CHANGING = ("post", "put", "patch", "delete")
PUBLIC = {
    "/api/v1/auth/token",
    "/api/v1/auth/wx-login",
    "/api/v1/health",
    "/api/v1/health/live",
    # a clearing house's own HMAC signature instead of a token (miniapp_api/clearing.py)
    "/api/v1/clearing/instructions",
    "/api/v1/clearing/reconciliation-files",
}
# Fields that carry money wherever they appear (each a Money field: a decimal string).
MONEY_NAMES = {
    "amount",
    "price",
    "outstanding",
    "repaid",
    "margin",
    "deposit",
    "used",
    "total_amount",
    "posted_amount",
    "registered_capital",
}
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def resolve(spec, node):
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def test_every_operation_has_a_summary_and_a_description(spec):
    missing = [
        f"{method.upper()} {path}"
        for path, method, op, _ in operations(spec)
        if not op.get("summary") or len(op.get("description", "")) < 10
    ]
    assert not missing, missing


def test_every_operation_documents_its_error_responses_and_idempotency_key(spec):
    problems = []
    for path, method, op, shared in operations(spec):
        label = f"{method.upper()} {path}"
        if (op.get("security") == []) != (path in PUBLIC):
            problems.append(f"{label}: security does not say whether a token is needed")
        responses = op["responses"]
        params = [resolve(spec, p) for p in [*shared, *op.get("parameters", [])]]
        expected = set()
        if path not in PUBLIC:
            expected |= {"401", "403"}
        if any(p["in"] == "path" for p in params):
            expected.add("404")
        if "requestBody" in op or any(p["in"] in ("query", "path") for p in params):
            expected.add("400")
        if method in STATE_CHANGING:
            expected |= {"409", "422"}
            if not any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in params):
                problems.append(f"{label}: no Idempotency-Key header")
        if "default" in responses:
            problems.append(f"{label}: a catch-all default response")
        if not any(status.startswith("2") for status in responses):
            problems.append(f"{label}: no success response")
        if missing := expected - set(responses):
            problems.append(f"{label}: undocumented {sorted(missing)}")
        for status, response in responses.items():
            response = resolve(spec, response)
            if not response.get("description"):
                problems.append(f"{label} {status}: no description")
            if status >= "400":
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": "#/components/schemas/Error"}:
                    problems.append(f"{label} {status}: not the contract's error shape")
    assert not problems, "\n".join(problems)


def test_the_error_schema_is_the_contracts(spec):
    error = spec["components"]["schemas"]["Error"]
    body = resolve(spec, error["properties"]["error"])
    assert set(body["properties"]) == {"code", "message", "details"}
    assert spec["components"]["responses"]["RateLimited"]["headers"]["Retry-After"]


def test_every_list_is_a_cursor_page(spec):
    problems = []
    for path, method, op, _ in operations(spec):
        for status, response in op["responses"].items():
            content = resolve(spec, response).get("content", {}).get("application/json")
            if not status.startswith("2") or content is None:
                continue
            schema = resolve(spec, content["schema"])
            label = f"{method.upper()} {path} {status}"
            if schema.get("type") == "array":
                problems.append(f"{label}: a bare array")
            if "items" in schema.get("properties", {}):
                if set(schema["properties"]) != {"items", "next_cursor"}:
                    problems.append(f"{label}: items beside {sorted(schema['properties'])}")
                query = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                if method == "get" and not {"limit", "cursor"} <= query:
                    problems.append(f"{label}: a page without ?limit=&cursor=")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("admin", "/api/v1/admin/jobs"),
        ("admin", "/api/v1/floorplan/warehouses"),
        ("admin", "/api/v1/floorplan/programmes"),
        ("approver1", "/api/v1/risk/models"),
        ("admin", "/api/v1/fleet/templates"),
    ],
)
def test_lists_that_were_bare_arrays_are_pages(client, auth, user, path):
    response = client.get(f"{path}?limit=1", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    page = response.get_json()
    assert set(page) == {"items", "next_cursor"}
    assert len(page["items"]) <= 1


def walk_schema(spec, node, where, problems, seen):
    """Every property typed (or a reference); free-form objects may hold any values."""
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        if name not in seen:
            seen.add(name)
            walk_schema(spec, resolve(spec, node), name, problems, seen)
        return
    for combined in ("allOf", "oneOf", "anyOf"):
        for part in node.get(combined, []):
            walk_schema(spec, part, where, problems, seen)
        if combined in node:
            return
    if "type" not in node:
        problems.append(f"{where}: no type")
    for name, prop in node.get("properties", {}).items():
        walk_schema(spec, prop, f"{where}.{name}", problems, seen)
    if isinstance(node.get("items"), dict):
        walk_schema(spec, node["items"], f"{where}[]", problems, seen)


def test_every_field_has_a_type(spec):
    problems: list[str] = []
    seen: set[str] = set()
    for name in spec["components"]["schemas"]:
        walk_schema(spec, {"$ref": f"#/components/schemas/{name}"}, name, problems, seen)
    for path, method, op, shared in operations(spec):
        for param in [*shared, *op.get("parameters", [])]:
            param = resolve(spec, param)
            walk_schema(spec, param["schema"], f"{method} {path} {param['name']}", problems, seen)
    assert not problems, "\n".join(problems)


def test_money_is_a_decimal_string_with_a_pattern(spec):
    problems = []
    money_fields = 0
    for name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if prop.get("format") == "decimal":
                money_fields += 1
                if prop.get("type") != "string" or not prop.get("pattern"):
                    problems.append(f"{name}.{field}: {prop}")
                elif not re.match(prop["pattern"], prop.get("example", "1.00")):
                    problems.append(f"{name}.{field}: its example fails its pattern")
            elif field in MONEY_NAMES and "$ref" not in prop and prop.get("type") != "object":
                problems.append(f"{name}.{field}: money that is not a decimal string: {prop}")
            if prop.get("type") == "number" and field in MONEY_NAMES:
                problems.append(f"{name}.{field}: money as a float")
    assert money_fields > 50
    assert not problems, "\n".join(problems)


def test_every_time_is_one_rfc3339_format(spec):
    problems = [
        f"{name}.{field}: {prop}"
        for name, schema in spec["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if (field == "at" or field.endswith("_at")) and prop.get("format") != "date-time"
    ]
    assert not problems, "\n".join(problems)


def test_times_in_responses_end_in_z(client, auth):
    headers = auth("admin")
    response = client.post("/api/v1/admin/jobs/purge_idempotency_keys/run", headers=headers)
    assert response.status_code == 200, response.get_json()
    run = client.get("/api/v1/admin/jobs", headers=headers).get_json()["items"][0]
    assert RFC3339_Z.match(run["started_at"]), run
    assert RFC3339_Z.match(run["finished_at"]), run
    record = client.get("/api/v1/admin/audit?limit=1", headers=headers).get_json()["items"][0]
    assert RFC3339_Z.match(record["at"]), record


def test_chinese_text_is_utf8_not_escaped(client, auth):
    name = "上海浦东汽车经销有限公司"
    response = client.post(
        "/api/v1/orgs",
        json={"code": "SHPD", "name": name, "kind": "enterprise"},
        headers=auth("admin"),
    )
    assert response.status_code == 201, response.get_json()
    raw = response.get_data()
    assert name.encode() in raw and b"\\u" not in raw
    assert response.mimetype == "application/json"


def test_health_and_readiness_are_documented_and_public(client, spec):
    for path in ("/api/v1/health", "/api/v1/health/live"):
        op = spec["paths"][path]["get"]
        assert op["description"] and "200" in op["responses"]
        assert op["security"] == [], "a public operation says it needs no token"
        response = client.get(path)
        assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "503" in spec["paths"]["/api/v1/health"]["get"]["responses"]
