"""`make demo` seeds every area: the Makefile's own seed command (``finedge seed
$(DEMO_SEED_ARGS)``), run as a process on a temporary SQLite database, leaves data in each of
them: the demo users and orgs, dealers with financed cars, branch BR001 with its hall and
devices, the ledger's accounts, and 200 enterprises with risk histories, trained models (a
champion) and a first scan. The risk area was empty before (``--enterprises 0``) while the
README promised 200 with a trained model."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.platform.config import project_root

FINEDGE = str(Path(sys.executable).with_name("finedge"))
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def demo_seed_args() -> list[str]:
    """The options `make demo` gives `finedge seed` (read from the Makefile itself)."""
    makefile = (project_root() / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "finedge seed $(DEMO_SEED_ARGS)" in recipe, recipe
    found = re.search(r"^DEMO_SEED_ARGS\s*:?=\s*(.*)$", makefile, re.MULTILINE)
    assert found, "DEMO_SEED_ARGS is not set in the Makefile"
    return shlex.split(found.group(1))


def test_the_demo_seed_fills_every_area(tmp_path):
    args = demo_seed_args()
    assert args == ["--enterprises", "200"]  # what the README promises
    env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}
    env.update(
        FINEDGE_ENV="demo",
        FINEDGE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.db",
        NO_COLOR="1",
    )
    upgrade = subprocess.run(
        [FINEDGE, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    started = time.monotonic()
    seeded = subprocess.run(
        [FINEDGE, "seed", *args], env=env, capture_output=True, text=True, timeout=150
    )
    seconds = time.monotonic() - started
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    print(f"demo seed ({' '.join(args)}) took {seconds:.1f} s")
    # progress is shown (on stderr), the risk seed's slow steps included
    assert "risk seed" in seeded.stderr and "floor-plan seed" in seeded.stderr
    assert "Traceback" not in seeded.stderr
    report = json.loads(seeded.stdout.splitlines()[0])
    risk = report["risk"]
    assert risk["enterprises"] == 200 and risk["records_rejected"] == 0
    assert {m["status"] for m in risk["models"]} >= {"champion"}, risk["models"]
    assert "admin" in seeded.stdout and "dealer1-demo" in seeded.stdout  # the logins

    with sqlite3.connect(tmp_path / "demo.db") as db:

        def count(sql: str) -> int:
            return db.execute(sql).fetchone()[0]

        areas = {
            "users": count("SELECT count(*) FROM users"),
            "dealers": count("SELECT count(*) FROM orgs WHERE code LIKE 'DEALER%'"),
            "credit lines": count("SELECT count(*) FROM fp_credit_lines"),
            "financed cars": count("SELECT count(*) FROM fp_vehicles"),
            "ledger accounts": count("SELECT count(*) FROM ledger_accounts"),
            "branches": count("SELECT count(*) FROM branches"),
            "hall services": count("SELECT count(*) FROM branch_services"),
            "counters": count("SELECT count(*) FROM branch_counters"),
            "tickets": count("SELECT count(*) FROM branch_tickets"),
            "devices": count("SELECT count(*) FROM devices WHERE branch_id = 'BR001'"),
            "enterprises": count("SELECT count(*) FROM risk_enterprises"),
            "risk events": count("SELECT count(*) FROM risk_events"),
            "risk signals": count("SELECT count(*) FROM risk_signals"),
            "champion models": count("SELECT count(*) FROM risk_models WHERE status = 'champion'"),
            "scans": count("SELECT count(*) FROM risk_scan_runs"),
            "AVM champion": count("SELECT count(*) FROM col_models WHERE status = 'champion'"),
        }
    empty = [area for area, n in areas.items() if n == 0]
    assert empty == [], areas
    assert areas["enterprises"] == 200 and areas["dealers"] >= 2 and areas["devices"] >= 13

    # run again (`make demo` twice): nothing new, no error
    again = subprocess.run(
        [FINEDGE, "seed", "--quiet", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.splitlines()[0])["risk"] == {"already_seeded": 200}
