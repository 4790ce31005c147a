import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.services import SYSTEM, Actor, record


@pytest.fixture
def log(admin, finance, team):
    """A small log over three days, by two people and the system."""
    by_ada = Actor(user=admin, ip="10.0.0.1")
    by_fay = Actor(user=finance, ip="2001:db8::7")
    return [
        record_at("2026-03-01 09:00", by_ada, "team.created", team, name="Payments"),
        record_at(
            "2026-03-02 10:00",
            by_ada,
            "team.updated",
            team,
            changes={"name": ["Payments", "Pay"]},
        ),
        record_at("2026-03-02 23:59", by_fay, "user.password_changed", finance),
        record_at("2026-03-03 00:00", SYSTEM, "auth.login_failed", username="mallory"),
    ]


def record_at(when, actor, action, target=None, **details):
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        return record(actor, action, target, **details)
