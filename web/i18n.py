"""Message catalogues: every word on a screen, in Chinese (the default) and English.

One YAML file per screen area under web/catalogues/, each ``key: {zh: ..., en: ...}``; a key
may be defined once over all files. Templates call ``t("key", name=value)``; a page's script
gets the strings of its prefixes (``common.``, the surface's ``common`` and its own area) as
JSON and calls the same ``t`` (web/static/js/finedge.js). ``{name}`` in a string is replaced.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "finedge_lang"
CATALOGUES = Path(__file__).with_name("catalogues")


class CatalogueError(ValueError):
    pass


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All strings: ``{key: {"zh": ..., "en": ...}}``, from every file (a key twice is refused)."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(CATALOGUES.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(entries, dict):
            raise CatalogueError(f"{path.name}: a mapping of keys is expected")
        for key, texts in entries.items():
            if key in merged:
                raise CatalogueError(f"{path.name}: {key} is already defined in {origin[key]}")
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise CatalogueError(f"{path.name}: {key} needs exactly {', '.join(LANGUAGES)}")
            if not all(isinstance(v, str) and v for v in texts.values()):
                raise CatalogueError(f"{path.name}: {key} has an empty or non-text string")
            merged[key] = texts
            origin[key] = path.name
    return merged


def language_of(cookie_value: str | None) -> str:
    return cookie_value if cookie_value in LANGUAGES else DEFAULT_LANGUAGE


def translate(key: str, language: str, **params: object) -> str:
    """The string of ``key`` in ``language``; an unknown key shows itself (and fails the
    catalogue test, which looks for every key the templates and scripts use)."""
    texts = catalogue().get(key)
    text = texts[language] if texts else key
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def strings_for(language: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The strings a page's script needs: every key under one of ``prefixes``."""
    return {
        key: texts[language]
        for key, texts in catalogue().items()
        if any(key.startswith(prefix) for prefix in prefixes)
    }
