"""Object-level permission through the HTTP edge with two orgs' users."""

from tests.integration.test_app_errors import assert_error


def _my_org(client, headers):
    return client.get("/api/v1/auth/me", headers=headers).get_json()["org_id"]


def test_dealer_sees_own_org_and_not_the_other(client, auth):
    org1 = _my_org(client, auth("dealer1"))
    org2 = _my_org(client, auth("dealer2"))
    assert org1 != org2
    assert client.get(f"/api/v1/orgs/{org1}", headers=auth("dealer1")).status_code == 200
    assert_error(client.get(f"/api/v1/orgs/{org2}", headers=auth("dealer1")), 404, "org_not_found")
    assert_error(client.get(f"/api/v1/orgs/{org1}", headers=auth("dealer2")), 404)
    listed = client.get("/api/v1/orgs", headers=auth("dealer1")).get_json()["items"]
    assert [o["id"] for o in listed] == [org1]


def test_bank_staff_see_every_org_with_pagination(client, auth):
    page1 = client.get("/api/v1/orgs?limit=3", headers=auth("rm1")).get_json()
    assert len(page1["items"]) == 3 and page1["next_cursor"]
    page2 = client.get(
        f"/api/v1/orgs?limit=3&cursor={page1['next_cursor']}", headers=auth("rm1")
    ).get_json()
    ids = [o["id"] for o in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 6


def test_admin_endpoints_refuse_other_roles(client, auth):
    assert_error(client.get("/api/v1/admin/audit", headers=auth("dealer1")), 403, "forbidden")
    assert client.get("/api/v1/admin/audit", headers=auth("admin")).status_code == 200
