"""The screens' static parts: every page listed has its template and script, every word a
template or script asks for is in both languages, and the vendored libraries are the files
web/static/vendor/VENDOR.md names (by SHA-256)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from web import i18n, shell

WEB = Path(shell.__file__).parent
TEMPLATE_KEYS = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""")
SCRIPT_KEYS = re.compile(r"""\bt\(\s*['"`]([a-z0-9_.]+)['"`]""")
DYNAMIC_PREFIXES = ("enum.", "error.")  # looked up by value (label(), errorText())


def test_catalogue_loads_with_both_languages():
    entries = i18n.catalogue()
    assert len(entries) > 100
    assert all(set(texts) == {"zh", "en"} for texts in entries.values())


def test_a_key_defined_twice_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text("x.y: {zh: 甲, en: A}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x.y: {zh: 乙, en: B}\n", encoding="utf-8")
    monkeypatch.setattr(i18n, "CATALOGUES", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        with pytest.raises(i18n.CatalogueError, match="already defined"):
            i18n.catalogue()
    finally:
        i18n.catalogue.cache_clear()


def test_every_listed_page_has_its_template_script_and_words():
    for name, surface in shell.surfaces().items():
        for page in surface.pages.values():
            assert (WEB / "templates" / name / f"{page.path}.html").is_file(), page.url
            assert (WEB / "static" / "js" / name / f"{page.path}.js").is_file(), page.url
            assert page.title in i18n.catalogue(), page.title
            assert page.nav is None or page.nav in i18n.catalogue(), page.nav
        for role, home in surface.homes.items():
            assert home in surface.pages, f"{name}: home of {role}"


def test_every_word_used_is_in_the_catalogue():
    known = i18n.catalogue()
    missing = []
    for path in (WEB / "templates").rglob("*.html"):
        missing += [(path.name, k) for k in TEMPLATE_KEYS.findall(path.read_text("utf-8"))]
    for path in (WEB / "static" / "js").rglob("*.js"):
        missing += [(path.name, k) for k in SCRIPT_KEYS.findall(path.read_text("utf-8"))]
    missing = [(f, k) for f, k in missing if k not in known and not k.startswith(DYNAMIC_PREFIXES)]
    assert not missing, missing


def test_no_chinese_or_english_sentence_is_hard_coded_in_scripts():
    # words belong in the catalogues: a CJK character in a script is a string that escaped them
    cjk = re.compile(r"[\u4e00-\u9fff]")
    offenders = [
        str(p.relative_to(WEB))
        for p in (WEB / "static" / "js").rglob("*.js")
        if cjk.search(p.read_text("utf-8"))
    ]
    assert not offenders


def test_vendored_files_are_the_ones_recorded():
    vendor = WEB / "static" / "vendor"
    rows = re.findall(
        r"^\| (\S+) \|.*\| ([0-9a-f]{64}) \|$", (vendor / "VENDOR.md").read_text(), re.M
    )
    assert rows
    for name, digest in rows:
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    recorded = {name for name, _ in rows}
    shipped = {p.name for p in vendor.glob("*.js")}
    assert shipped == recorded


IMPORTS = re.compile(r"""(?:from|import)\s*\(?\s*["'](/web/static/js/[^"']+)["']""")


def _script_and_imports(name: str) -> list[Path]:
    seen: list[Path] = []
    todo = [WEB / "static" / name]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        todo += [WEB / url.removeprefix("/web/") for url in IMPORTS.findall(path.read_text())]
    return seen


def test_each_page_receives_every_word_its_scripts_ask_for():
    """A page gets only its area's strings (web/shell.py): a word of another area that a page
    (or a module it imports) asks for would show as its key."""
    missing = []
    for name, surface in shell.surfaces().items():
        for page in surface.pages.values():
            prefixes = shell.string_prefixes(name, shell.page_prefixes(name, page))
            given = i18n.strings_for("zh", prefixes)
            for path in _script_and_imports(f"js/{name}/{page.path}.js"):
                for key in SCRIPT_KEYS.findall(path.read_text("utf-8")):
                    if key not in given and not key.startswith(DYNAMIC_PREFIXES):
                        missing.append((page.url, path.name, key))
    assert not missing, missing


def test_docs_screens_lists_every_page():
    text = (WEB.parent / "docs" / "screens.md").read_text("utf-8")
    listed = set(re.findall(r"^\| `(/(?:m|console)/[a-z/-]+)", text, re.M))
    pages = {p.url for s in shell.surfaces().values() for p in s.pages.values()}
    assert listed == pages
