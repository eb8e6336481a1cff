"""A test client for /api/v1 that logs demo users in once (password ``<username>-demo``)."""

from __future__ import annotations


class ApiClient:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self._tokens: dict[str, dict] = {}

    def headers(self, user: str) -> dict:
        if user not in self._tokens:
            r = self.client.post(
                "/api/v1/auth/token", json={"username": user, "password": f"{user}-demo"}
            )
            assert r.status_code == 200, r.get_json()
            self._tokens[user] = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
        return self._tokens[user]
