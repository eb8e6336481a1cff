"""The browser tests' helpers: the live server, Chromium and the login of bench/live_site.py
(one implementation, shared with ``finedge bench pages``), and screenshots."""

from __future__ import annotations

from pathlib import Path

from bench.live_site import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    LiveServer,
    chromium_reason,
    launch_chromium,
    live_server,
    login,
)

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "SCREENSHOTS",
    "LiveServer",
    "chromium_reason",
    "launch_chromium",
    "live_server",
    "login",
    "screenshot",
]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


def screenshot(page, name: str) -> Path:
    """A screenshot under var/screenshots/ (git-ignored); a few are copied to docs/screens/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
