"""The one after-commit queue (backend/platform/after_commit.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.platform.after_commit import after_commit, pending, push_live
from backend.platform.live import RecordingEmitter


def test_actions_run_in_order_after_the_commit_and_never_before(session):
    ran: list[str] = []
    session.execute(select(1))
    after_commit(session, lambda: ran.append("a"))
    after_commit(session, lambda: ran.append("b"))
    session.flush()
    assert ran == [] and pending(session) == 2
    session.commit()
    assert ran == ["a", "b"] and pending(session) == 0
    session.execute(select(1))
    session.commit()
    assert ran == ["a", "b"]  # nothing runs twice


def test_a_rollback_drops_everything_queued(session):
    ran: list[str] = []
    session.execute(select(1))
    after_commit(session, lambda: ran.append("a"))
    session.rollback()
    session.execute(select(1))
    session.commit()
    assert ran == []


def test_close_without_commit_leaves_nothing_for_the_next_transaction(session_factory):
    ran: list[str] = []
    session = session_factory()
    session.execute(select(1))
    after_commit(session, lambda: ran.append("a"))
    session.close()
    session.execute(select(1))
    session.commit()
    session.close()
    assert ran == []


def test_a_rolled_back_savepoint_drops_its_own_actions_only(session):
    ran: list[str] = []
    session.execute(select(1))
    after_commit(session, lambda: ran.append("outer"))
    with pytest.raises(ValueError), session.begin_nested():
        after_commit(session, lambda: ran.append("inner, rolled back"))
        raise ValueError
    with session.begin_nested():
        after_commit(session, lambda: ran.append("inner, released"))
    assert ran == []  # a released savepoint is not a commit
    session.commit()
    assert ran == ["outer", "inner, released"]


def test_nested_savepoints_drop_with_their_parent(session):
    ran: list[str] = []
    session.execute(select(1))
    with pytest.raises(ValueError), session.begin_nested():
        with session.begin_nested():
            after_commit(session, lambda: ran.append("grandchild"))
        raise ValueError
    session.commit()
    assert ran == []


def test_of_one_key_only_the_last_surviving_action_runs(session):
    ran: list[str] = []
    session.execute(select(1))
    after_commit(session, lambda: ran.append("board 1"), key=("board", "BR1"))
    after_commit(session, lambda: ran.append("other"), key=("board", "BR2"))
    after_commit(session, lambda: ran.append("board 2"), key=("board", "BR1"))
    with pytest.raises(ValueError), session.begin_nested():
        after_commit(session, lambda: ran.append("board 3"), key=("board", "BR1"))
        raise ValueError
    session.commit()
    assert ran == ["other", "board 2"]


def test_a_failing_action_is_logged_and_the_rest_still_run(session, caplog):
    ran: list[str] = []
    session.execute(select(1))
    after_commit(session, lambda: 1 / 0)
    after_commit(session, lambda: ran.append("after"))
    session.commit()
    assert ran == ["after"]
    assert "after-commit action failed" in caplog.text


def test_push_live_renders_at_once_and_sends_after_the_commit(session):
    state = {"n": 1}
    live = RecordingEmitter({"thing.update": lambda obj: {"n": obj["n"]}})
    session.execute(select(1))
    push_live(session, live, "thing.update", state, ["user:1"])
    push_live(session, live, "thing.update", state, [])  # no audience: nothing
    state["n"] = 2  # what was rendered is what the transaction saw
    assert live.sent == []
    session.commit()
    assert live.sent == [("thing.update", {"n": 1}, ["user:1"])]


def test_an_event_without_a_renderer_needs_a_json_dict():
    live = RecordingEmitter()
    assert live.render("x.y", {"a": 1}) == {"a": 1}
    with pytest.raises(TypeError):
        live.render("x.y", object())
