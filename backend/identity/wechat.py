"""Mini-program login: code2session providers.

``WeChatCode2Session`` calls WeChat's jscode2session over HTTPS when WX_APPID/WX_SECRET are
configured.  ``FakeCode2Session`` is the local provider for demo and tests: a code of the form
``fake:<openid>`` yields that openid, anything else is refused.  Never used in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import requests

from backend.platform.errors import NotAuthenticated

_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class WxSession:
    openid: str
    unionid: str | None = None


class Code2Session(Protocol):
    def exchange(self, code: str) -> WxSession: ...


class FakeCode2Session:
    PREFIX = "fake:"

    def exchange(self, code: str) -> WxSession:
        openid = code[len(self.PREFIX) :] if code.startswith(self.PREFIX) else ""
        if not _OPENID.fullmatch(openid):  # a real openid: 28 characters of this alphabet
            raise NotAuthenticated("login code is not valid", code="invalid_wx_code")
        return WxSession(openid=openid)


class WeChatCode2Session:
    def __init__(self, appid: str, secret: str, api_base: str, timeout_s: float = 5.0, http=None):
        self.appid = appid
        self.secret = secret
        self.api_base = api_base.rstrip("/")
        self.timeout_s = timeout_s
        self.http = http or requests.Session()

    def exchange(self, code: str) -> WxSession:
        try:
            response = self.http.get(
                f"{self.api_base}/sns/jscode2session",
                params={
                    "appid": self.appid,
                    "secret": self.secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
                timeout=self.timeout_s,
            )
            body = response.json()
        except (requests.RequestException, ValueError):
            raise NotAuthenticated("WeChat login is unavailable", code="wx_unavailable") from None
        if body.get("errcode") or not body.get("openid"):
            raise NotAuthenticated("login code is not valid", code="invalid_wx_code")
        return WxSession(openid=body["openid"], unionid=body.get("unionid"))
