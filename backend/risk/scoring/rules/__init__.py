"""Versioned rule files of the risk early-warning engine (one YAML file per version).

A new version is a new file: older files stay, so that a signal raised under an old version
can still be explained.  The format is described in backend/risk/scoring/rulefile.py and
docs/risk.md."""

from pathlib import Path

RULES_DIR = Path(__file__).parent
