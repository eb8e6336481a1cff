import pytest

from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied
from backend.platform.permissions import can_see, ensure_can_change, ensure_role, ensure_visible

DEALER_A = Actor(1, "dealer1", "dealer", org_id=10)
DEALER_B = Actor(2, "dealer2", "dealer", org_id=20)
RM = Actor(3, "rm1", "rm", org_id=1)


def test_own_org_visible_other_org_not():
    assert can_see(DEALER_A, [10, 99])
    assert not can_see(DEALER_B, [10, 99])
    assert can_see(RM, [10])


def test_invisible_object_is_not_found_not_forbidden():
    with pytest.raises(NotFound):
        ensure_visible(DEALER_B, object(), [10], "vehicle")
    with pytest.raises(NotFound):
        ensure_visible(DEALER_A, None, [10], "vehicle")
    ensure_visible(DEALER_A, object(), [10], "vehicle")


def test_role_checks():
    with pytest.raises(PermissionDenied):
        ensure_role(DEALER_A, "supervisor")
    ensure_role(Actor(4, "admin", "admin", 1), "supervisor")
    with pytest.raises(NotFound):
        ensure_can_change(DEALER_B, object(), [10], "vehicle", "dealer")
    with pytest.raises(PermissionDenied):
        ensure_can_change(DEALER_A, object(), [10], "vehicle", "supervisor")
