"""The project explains itself: every relative link in README.md and docs/*.md (and the deploy
guide) resolves to a file of this repository, none leaves it (no ``../shared``), and the
contract the README points to is the repository's own docs/CONTRACT.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "deploy" / "README.md", *(ROOT / "docs").glob("*.md")])
# [text](target) and [text]: target; images too. Code blocks and spans are skipped.
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
# A document named in the text (`docs/hub.md`, deploy/README.md): it must exist as well.
NAMED_DOC = re.compile(r"(?<![\w/.-])((?:docs|deploy)/[\w./-]+\.md)\b")
EXTERNAL = ("http://", "https://", "mailto:", "#")


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (examples, not links)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def links(path: Path) -> list[str]:
    text = prose(path.read_text(encoding="utf-8"))
    return INLINE.findall(text) + REFERENCE.findall(text)


def test_the_docs_are_there():
    assert {p.name for p in DOCS} >= {"README.md", "CONTRACT.md", "ARCHITECTURE.md"}
    assert sum(len(links(p)) for p in DOCS) >= 8


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(doc):
    broken = []
    for target in links(doc):
        if target.startswith(EXTERNAL):
            continue
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (doc.parent / file_part).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_document_named_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = sorted({name for name in NAMED_DOC.findall(text) if not (ROOT / name).exists()})
    assert not missing, f"{doc.relative_to(ROOT)} names {missing}"
    assert "../shared" not in text


def test_the_readme_links_the_repositorys_own_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/CONTRACT.md)" in readme
    contract = (ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    for section in ("## 2. HTTP API", "## 3. MQTT", "## 4. Benchmarks"):
        assert section in contract
