"""The page routes of both surfaces: ``/m/...`` and ``/console/...`` (web/pages.yaml), their
login pages, and the static files under ``/web/static``.

A page is the same for everyone: the template's words in the caller's language (the
``finedge_lang`` cookie, Chinese by default) and a script that asks the API for everything it
shows with the token of the session (kept in the tab's sessionStorage, never in a URL or a
cookie the server reads). The headers keep pages and scripts to this origin (CSP), out of frames,
and out of caches.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, abort, current_app, render_template, request

from web import i18n

HERE = Path(__file__).parent
STATIC = HERE / "static"
SURFACES = ("m", "console")
PAGE_PATH = re.compile(r"[a-z0-9-]+(/[a-z0-9-]+)*")

blp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web/static",
)

CSP = (
    "default-src 'self'; script-src 'self'{extra}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Page:
    surface: str
    path: str
    title: str
    roles: tuple[str, ...]
    nav: str | None = None

    @property
    def url(self) -> str:
        return f"/{self.surface}/{self.path}"

    @property
    def area(self) -> str:
        return self.path.split("/")[0]


@dataclass(frozen=True)
class Surface:
    name: str
    homes: dict[str, str]
    pages: dict[str, Page]


@lru_cache(maxsize=1)
def surfaces() -> dict[str, Surface]:
    raw = yaml.safe_load((HERE / "pages.yaml").read_text(encoding="utf-8"))
    out = {}
    for name in SURFACES:
        spec = raw[name]
        pages = {
            p["path"]: Page(name, p["path"], p["title"], tuple(p.get("roles", ())), p.get("nav"))
            for p in spec["pages"]
        }
        out[name] = Surface(name, dict(spec["homes"]), pages)
    return out


@lru_cache(maxsize=256)
def _asset_version(filename: str) -> str:
    return hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:10]


def static_url(filename: str) -> str:
    """The URL of a static file, with its content hash so a changed file is fetched anew."""
    return f"/web/static/{filename}?v={_asset_version(filename)}"


# The labels of API values a page's script may look up (``label(value, area)``): its own area's
# (``enum.<area>``, ``enum.<area>_*``), and for these areas another's as well.
ENUM_AREAS_OF = {"rm": ("risk", "marketing"), "supervisor": ("floorplan",), "oem": ("floorplan",)}


def page_prefixes(surface: str, page: Page) -> tuple[str, ...]:
    """The catalogue prefixes of a page's own area: its words and the labels it looks up."""
    areas = (page.area, *ENUM_AREAS_OF.get(page.area, ()))
    return (f"{surface}.{page.area}.", *(f"enum.{area}" for area in areas))


def string_prefixes(surface: str, own: tuple[str, ...]) -> tuple[str, ...]:
    """Every prefix of the strings a page receives: the shared ones and its own."""
    return ("common.", "enum.role.", "error.", f"{surface}.common.", *own)


@lru_cache(maxsize=1)
def import_map() -> tuple[str, str]:
    """The page's import map (its JSON and the CSP source that allows it): every script and
    vendored module maps from its plain URL, as the scripts import it, to its URL with the
    content hash. So a page's modules are cached for good and a changed file is fetched anew,
    with no build step and no rewriting of imports."""
    imports = {
        f"/web/static/{name}": static_url(name)
        for name in sorted(
            str(path.relative_to(STATIC))
            for folder in ("js", "vendor")
            for path in (STATIC / folder).rglob("*.js")
        )
    }
    text = json.dumps({"imports": imports}, separators=(",", ":"))
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return text, f"'sha256-{digest}'"


MODULE_IMPORT = re.compile(r"""(?:^|;|\n)\s*import\s[^"';]*?from\s*["'](/web/static/[^"']+)["']""")


@lru_cache(maxsize=256)
def static_imports(filename: str) -> tuple[str, ...]:
    """The modules a script imports statically, directly or not (what the browser would find
    one level at a time), to be preloaded beside it in one round."""
    found: list[str] = []
    todo = [filename]
    while todo:
        text = (STATIC / todo.pop()).read_text(encoding="utf-8")
        for url in MODULE_IMPORT.findall(text):
            name = url.removeprefix("/web/static/")
            if name not in found and name != filename:
                found.append(name)
                todo.append(name)
    return tuple(found)


def csp_for_pages() -> str:
    return CSP.format(extra=" " + import_map()[1])


def _language() -> str:
    return i18n.language_of(request.cookies.get(i18n.COOKIE))


def _render(
    surface: Surface, template: str, script: str, page: dict[str, Any], prefixes: tuple[str, ...]
):
    """The page ``template`` with its ``script`` (a file under static/) and its words."""
    language = _language()
    nav = [
        {"url": p.url, "label": i18n.translate(p.nav, language), "roles": list(p.roles)}
        for p in surface.pages.values()
        if p.nav
    ]
    config = current_app.extensions["finedge"].config
    info = {
        **page,
        "script": static_url(script),
        "surface": surface.name,
        "homes": surface.homes,
        "other_homes": surfaces()["console" if surface.name == "m" else "m"].homes,
        "nav": nav,
        "language": language,
        "wx_login": bool(config.wx_login),
        # the demo's stand-in for WeChat (codes "fake:<openid>"), never in production
        "wx_fake": bool(config.wx_login and config.fake_wx_login and not config.wx_appid),
    }
    strings = i18n.strings_for(language, string_prefixes(surface.name, prefixes))
    html = render_template(
        template,
        t=lambda key, **params: i18n.translate(key, language, **params),
        static=static_url,
        lang=language,
        surface=surface.name,
        page=info,
        strings=strings,
        nav=nav,
        import_map=import_map()[0],
        preloads=[
            static_url(name)
            for name in dict.fromkeys(
                (
                    "js/finedge.js",
                    "vendor/socket.io.esm.min.js",
                    *static_imports(script),
                )
            )
        ],
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = csp_for_pages()
    return response


def _requested_surface() -> Surface:
    """The surface the request's path is under (/m/... or /console/...)."""
    return surfaces()[request.path.strip("/").split("/")[0]]


@blp.get("/m/")
@blp.get("/console/")
def home():
    # The home page sends the signed-in user to their role's home (a script: only the tab
    # knows the session); without a session, to the login page.
    return _render(
        _requested_surface(),
        "home.html",
        "js/home.js",
        {"path": "", "title": "common.home_title"},
        (),
    )


@blp.get("/m/login")
@blp.get("/console/login")
def login():
    return _render(
        _requested_surface(),
        "login.html",
        "js/login.js",
        {"path": "login", "title": "common.login.title"},
        ("login.",),
    )


@blp.get("/m/<path:page_path>")
@blp.get("/console/<path:page_path>")
def page(page_path: str):
    surface = _requested_surface()
    name = surface.name
    if not PAGE_PATH.fullmatch(page_path) or page_path not in surface.pages:
        abort(404)
    p = surface.pages[page_path]
    template = f"{name}/{p.path}.html"
    script = f"js/{name}/{p.path}.js"
    if not (HERE / "templates" / template).is_file() or not (STATIC / script).is_file():
        abort(404)
    return _render(
        surface,
        template,
        script,
        {"path": p.path, "title": p.title, "roles": list(p.roles)},
        page_prefixes(name, p),
    )


def _is_current(path: str, version: str | None) -> bool:
    name = path.removeprefix("/web/static/")
    try:
        return bool(version) and version == _asset_version(name)
    except OSError:
        return False


@blp.after_app_request
def _page_headers(response: Response) -> Response:
    path = request.path
    if path.startswith(("/m/", "/console/", "/web/static/")) or path in ("/m", "/console"):
        response.headers.setdefault("Content-Security-Policy", CSP.format(extra=""))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not path.startswith("/web/static/"):
            response.headers["Cache-Control"] = "no-store"
        elif response.status_code == 200 and _is_current(path, request.args.get("v")):
            # a URL with the file's content hash never changes its content
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
