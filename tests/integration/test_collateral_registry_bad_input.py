"""Bad input to the registry is a clear 400 with details per field and changes nothing:
negative or zero area, a floor above the building, a build year in the future, a city the
valuation model does not cover, text where a number belongs, NaN, 1e308, integers past 2^63,
unknown vocabularies and fields."""

from __future__ import annotations

from datetime import date

from tests.integration import test_collateral_registry_support as support
from tests.integration.test_collateral_registry_support import FACTS, Api

pg_or_sqlite_api = support.pg_or_sqlite_api  # fixture

NEXT_YEAR = date.today().year + 1

CASES = [
    ({"area_m2": -5}, "area_m2"),
    ({"area_m2": 0}, "area_m2"),
    ({"area_m2": "12abc"}, "area_m2"),
    ({"area_m2": "1e308"}, "area_m2"),
    ({"floor": 19, "total_floors": 18}, "floor"),
    ({"city": "Atlantis"}, "city"),  # a city the champion does not cover
    ({"total_floors": None}, "total_floors"),
    ({"build_year": NEXT_YEAR}, "build_year"),
    ({"build_year": "2010"}, "build_year"),
    ({"rooms": -1}, "rooms"),
    ({"total_floors": 10**6}, "total_floors"),
    ({"orientation": "NE"}, "orientation"),
    ({"decoration": "gold"}, "decoration"),
    ({"property_type": "castle"}, "property_type"),
    ({"lat": 91.0}, "lat"),
    ({"city": ""}, "city"),
    ({"city": None}, "city"),
    ({"city": "  "}, "city"),  # blank once stripped: not a city the model covers
    ({"community": " "}, "community"),
    ({"owner_org_id": 2**62}, None),  # an unknown org: 404
    ({"surprise": 1}, "surprise"),
]


def test_bad_facts_are_400_with_details_and_nothing_changes(pg_or_sqlite_api: Api):
    api = pg_or_sqlite_api
    prop = api.register("rm1")
    before = api.counts()
    owner = api.org_id("DEALER1")
    for change, field in CASES:
        body = {**FACTS, "owner_org_id": owner, **change}
        r = api.post("rm1", "/properties", body)
        if field is None:
            assert api.error(r, 404) == "org_not_found"
            continue
        assert api.error(r, 400) == "validation_error", change
        assert field in r.get_json()["error"]["details"], (change, r.get_json())
        if field != "owner_org_id" and field != "surprise" and change.get(field, 0) is not None:
            r = api.patch("rm1", f"/properties/{prop['id']}", change)
            assert r.status_code == 400, (change, r.get_json())
    # several problems at once, each reported
    r = api.post(
        "rm1",
        "/properties",
        {**FACTS, "owner_org_id": owner, "area_m2": -1, "build_year": NEXT_YEAR, "floor": 30},
    )
    assert set(r.get_json()["error"]["details"]) >= {"area_m2", "build_year", "floor"}
    assert api.counts() == before
    _strict_json(api, prop)


STRICT = [
    (b'{"area_m2": NaN}', "non_finite_number"),
    (b'{"area_m2": 1e999}', "non_finite_number"),
    (b'{"floor": 9223372036854775808}', "number_out_of_range"),
    (b'{"owner_org_id": 1e308}', "number_out_of_range"),
    (b'{"floor": 1, "floor": 2}', "duplicate_json_key"),
]


def _strict_json(api: Api, prop: dict) -> None:
    """(test_bad_input.py walks every route; these are the registry's own fields.)"""
    before = api.counts()
    headers = {**api.headers("rm1"), "Content-Type": "application/json"}
    for raw, code in STRICT:
        for method, path in (("post", "/properties"), ("patch", f"/properties/{prop['id']}")):
            r = getattr(api.client, method)(f"{api.base}{path}", data=raw, headers=headers)
            assert api.error(r, 400) == code, (path, raw, r.get_json())
    r = api.get("rm1", "/properties/9223372036854775808")
    assert api.error(r, 400) == "number_out_of_range"
    assert api.counts() == before
