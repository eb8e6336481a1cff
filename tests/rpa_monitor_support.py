"""Rows for the robot factory's monitoring tests, inserted directly (fast, no worker)."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.rpa import models as m


def clear_factory(session_factory) -> None:
    """Remove every factory row (the seed's built-in robots and demo runs among them), so that
    a test's figures are its own rows' only."""
    from sqlalchemy import delete, update

    from backend.platform.db import session_scope

    with session_scope(session_factory) as s:
        for model in (m.Alarm, m.Review, m.Artefact, m.RunLog):
            s.execute(delete(model))
        s.execute(update(m.WorkItem).values(parent_item_id=None))
        s.execute(delete(m.WorkItem))
        s.execute(delete(m.Run))
        s.execute(update(m.RobotRecord).values(active_version_id=None))
        s.execute(delete(m.RobotVersion))
        s.execute(delete(m.RobotRecord))


def robot(s, name: str, department: str, manual_minutes: str, at: datetime, **manifest):
    record = m.RobotRecord(name=name, department=department, title=name, created_at=at)
    s.add(record)
    s.flush()
    version = m.RobotVersion(
        robot_id=record.id,
        version="1.0.0",
        entry_point=f"robots.{name}:ROBOT",
        # as manifests.to_json writes it: the review use cases read it back
        manifest={
            "name": name,
            "version": "1.0.0",
            "department": department,
            "title": name,
            "input_schema": {"n": "int"},
            "schedule": {},
            "manual_minutes": manual_minutes,
            **manifest,
        },
        deployed_by="admin",
        deployed_at=at,
    )
    s.add(version)
    s.flush()
    record.active_version_id = version.id
    return record, version


def run(s, record, version, at: datetime, status: str = "running", **kw):
    row = m.Run(
        robot_id=record.id,
        version_id=version.id,
        department=record.department,
        trigger="hand",
        requested_by="ops1",
        params={},
        status=status,
        produced=True,
        created_at=at,
        started_at=at,
        finished_at=None if status == "running" else at + timedelta(minutes=1),
        **kw,
    )
    s.add(row)
    s.flush()
    return row


def item(s, run_row, state: str, at: datetime, *, kind=None, code=None, heartbeat=None, **kw):
    finished = at if state in ("DONE", "FAILED") else None
    row = m.WorkItem(
        run_id=run_row.id,
        robot_id=run_row.robot_id,
        version_id=run_row.version_id,
        department=run_row.department,
        payload=kw.pop("payload", {"n": 1}),
        state=state,
        attempts=1 if state != "NEW" else 0,
        max_attempts=3,
        not_before=at,
        started_at=at if state != "NEW" else None,
        finished_at=finished,
        heartbeat_at=heartbeat,
        failure_kind=kind,
        failure_code=code,
        failure_message=f"{code} happened" if code else None,
        created_at=at,
        **kw,
    )
    s.add(row)
    s.flush()
    return row


def build_app(url: str):
    """A seeded web runtime on ``url`` (a migrated database) with the factory emptied: the
    demo operators keep their departments (ops1, ops2: operations; fin1: finance)."""
    from backend.bootstrap import bootstrap
    from backend.platform.config import Config
    from backend.platform.db import session_scope
    from backend.seed import seed

    runtime = bootstrap(Config.from_env(database_url=url), "web")
    runtime.app.config["TESTING"] = True
    with session_scope(runtime.session_factory) as s:
        seed(s, runtime.config, areas=runtime.areas)
    clear_factory(runtime.session_factory)
    return runtime


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def two_departments(session_factory, now: datetime) -> dict[str, int]:
    """Operations' recon_lines (a partial run: one DONE item with a log line and an artefact,
    one BUSINESS failure under review) and finance's fin_close (a running run with a BUSINESS
    failure under review, an artefact and an open alarm). Returns the rows' ids."""
    import hashlib

    from backend.platform.db import session_scope

    with session_scope(session_factory) as s:
        ops, v_ops = robot(s, "recon_lines", "operations", "10", now - timedelta(days=2))
        fin, v_fin = robot(s, "fin_close", "finance", "30", now - timedelta(days=2))
        r_ops = run(s, ops, v_ops, now - timedelta(hours=2), status="partial")
        done = item(s, r_ops, "DONE", now - timedelta(minutes=90), result={"ok": True})
        bad = item(s, r_ops, "FAILED", now - timedelta(minutes=80), kind="BUSINESS", code="x")
        review = m.Review(item_id=bad.id, department="operations", status="open", created_at=now)
        r_fin = run(s, fin, v_fin, now - timedelta(hours=3))
        fin_item = item(s, r_fin, "FAILED", now - timedelta(hours=2), kind="BUSINESS", code="y")
        fin_review = m.Review(
            item_id=fin_item.id, department="finance", status="open", created_at=now
        )
        s.add_all([review, fin_review])
        s.add_all(
            [
                m.RunLog(run_id=r_ops.id, item_id=None, at=now, level="info", message="produced 2"),
                m.RunLog(run_id=r_ops.id, item_id=done.id, at=now, level="info", message="line ok"),
                m.RunLog(run_id=r_fin.id, item_id=None, at=now, level="info", message="finance"),
            ]
        )
        arts = []
        for dept, run_row, item_row, name in (
            ("operations", r_ops, done, "recon report.png"),
            ("finance", r_fin, fin_item, "close.png"),
        ):
            art = m.Artefact(
                department=dept,
                run_id=run_row.id,
                item_id=item_row.id,
                name=name,
                content_type="image/png",
                size=len(PNG),
                sha256=hashlib.sha256(PNG).hexdigest(),
                data=PNG,
                created_by="robot",
                created_at=now,
            )
            s.add(art)
            arts.append(art)
        s.add(
            m.Alarm(
                kind="stuck_run",
                subject=f"run:{r_fin.id}",
                department="finance",
                robot_id=fin.id,
                message="quiet",
                opened_on=now.date().isoformat(),
                raised_at=now,
            )
        )
        s.flush()
        return {
            "r_ops": r_ops.id,
            "r_fin": r_fin.id,
            "done": done.id,
            "bad": bad.id,
            "fin_item": fin_item.id,
            "art_ops": arts[0].id,
            "art_fin": arts[1].id,
            "review": review.id,
            "fin_review": fin_review.id,
        }
