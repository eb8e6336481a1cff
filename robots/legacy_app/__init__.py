"""The legacy stand-in application the screen robot (``robots.screen_pledge_entry``) drives in a
browser: an old-style collateral pledge registration system that is NOT part of FinEdge
(docs/rpa-screen.md). ``create_app`` builds one with its own in-memory state; ``LegacyServer``
serves it from a thread (tests); ``finedge rpa legacy-app`` serves it for the demo."""

from robots.legacy_app.app import MAX_AMOUNT, WAREHOUSES, LegacyState, Pledge, create_app
from robots.legacy_app.server import LegacyServer

__all__ = ["MAX_AMOUNT", "WAREHOUSES", "LegacyServer", "LegacyState", "Pledge", "create_app"]
