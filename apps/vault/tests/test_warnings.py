import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.projects.tests.factories import EnvironmentFactory, ProjectFactory
from apps.vault.models import KeyStatus, VendorKey
from apps.vault.services import visible_keys
from apps.vault.tasks import send_key_warnings
from apps.vault.tests.factories import make_key
from apps.vault.warnings import keys_needing_attention

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def environment(team):
    return EnvironmentFactory(project=ProjectFactory(team=team), name="production")


def aged(key, *, created_days_ago, rotated_days_ago=None):
    """Backdate a key's secret; created_at is set by the database on insert."""
    rotated_at = NOW - rotated_days_ago * DAY if rotated_days_ago is not None else None
    VendorKey.objects.filter(pk=key.pk).update(
        created_at=NOW - created_days_ago * DAY, rotated_at=rotated_at
    )


def summary(warnings):
    return [(w.key.name, w.reason, w.level, w.days_left) for w in warnings]


@pytest.mark.parametrize(
    ("due_in", "expected"),
    [
        (8 * DAY, None),
        (7 * DAY + timedelta(seconds=1), None),
        (7 * DAY, ("7 days", 7)),
        (3 * DAY + timedelta(hours=1), ("7 days", 4)),
        (3 * DAY, ("3 days", 3)),
        (DAY + timedelta(hours=1), ("3 days", 2)),
        (DAY, ("1 day", 1)),
        (timedelta(hours=5), ("1 day", 1)),
        (timedelta(0), ("1 day", 0)),
        (-timedelta(hours=1), ("overdue", -1)),
        (-3 * DAY, ("overdue", -3)),
    ],
)
def test_expiry_warning_level_at_each_step_boundary(
    admin, environment, due_in, expected
):
    make_key(admin, environment=environment, name="billing", expires_at=NOW + due_in)
    warnings = keys_needing_attention(now=NOW)
    if expected is None:
        assert warnings == []
    else:
        assert summary(warnings) == [("billing", "expires", *expected)]
        assert warnings[0].due_at == NOW + due_in


@pytest.mark.parametrize(
    ("created_days_ago", "expected"),
    [
        (22, None),
        (23, ("7 days", 7)),
        (27, ("3 days", 3)),
        (29, ("1 day", 1)),
        (30, ("1 day", 0)),
        (45, ("overdue", -15)),
    ],
)
def test_max_age_warning_counts_from_creation(
    admin, environment, created_days_ago, expected
):
    environment.max_key_age_days = 30
    environment.save()
    key, _ = make_key(admin, environment=environment, name="billing")
    aged(key, created_days_ago=created_days_ago)
    warnings = keys_needing_attention(now=NOW)
    if expected is None:
        assert warnings == []
    else:
        assert summary(warnings) == [("billing", "max_age", *expected)]
        assert warnings[0].due_at == NOW + (30 - created_days_ago) * DAY


def test_max_age_counts_from_the_last_rotation_not_creation(admin, environment):
    environment.max_key_age_days = 30
    environment.save()
    rotated, _ = make_key(admin, environment=environment, name="rotated")
    aged(rotated, created_days_ago=400, rotated_days_ago=25)
    stale, _ = make_key(admin, environment=environment, name="stale")
    aged(stale, created_days_ago=400)
    warnings = keys_needing_attention(now=NOW)
    assert summary(warnings) == [
        ("stale", "max_age", "overdue", -370),
        ("rotated", "max_age", "7 days", 5),
    ]


def test_environment_without_a_limit_never_warns_on_age(admin, environment):
    key, _ = make_key(admin, environment=environment)
    aged(key, created_days_ago=3000)
    assert keys_needing_attention(now=NOW) == []


@pytest.mark.parametrize("status", [KeyStatus.REVOKED, KeyStatus.EXPIRED])
def test_revoked_and_expired_keys_are_left_out(admin, environment, status):
    environment.max_key_age_days = 30
    environment.save()
    key, _ = make_key(admin, environment=environment, expires_at=NOW - DAY)
    aged(key, created_days_ago=90)
    VendorKey.objects.filter(pk=key.pk).update(status=status)
    assert keys_needing_attention(now=NOW) == []


def test_a_key_due_for_both_reasons_gets_two_entries_overdue_first(admin, environment):
    environment.max_key_age_days = 30
    environment.save()
    key, _ = make_key(admin, environment=environment, expires_at=NOW + 2 * DAY)
    aged(key, created_days_ago=31)
    warnings = keys_needing_attention(now=NOW)
    assert [(w.reason, w.level) for w in warnings] == [
        ("max_age", "overdue"),
        ("expires", "3 days"),
    ]


def test_horizon_can_be_widened(admin, environment):
    make_key(admin, environment=environment, expires_at=NOW + 20 * DAY)
    assert keys_needing_attention(now=NOW) == []
    assert len(keys_needing_attention(now=NOW, horizon_days=30)) == 1


def test_keys_argument_narrows_to_what_a_user_may_see(
    admin, engineer, outsider, environment
):
    make_key(admin, environment=environment, expires_at=NOW + DAY)
    assert len(keys_needing_attention(now=NOW, keys=visible_keys(engineer))) == 1
    assert keys_needing_attention(now=NOW, keys=visible_keys(outsider)) == []


def test_warnings_take_one_query_however_many_keys(
    admin, environment, django_assert_num_queries
):
    environment.max_key_age_days = 30
    environment.save()
    for _ in range(3):
        key, _ = make_key(admin, environment=environment, expires_at=NOW + DAY)
        aged(key, created_days_ago=40)
    with django_assert_num_queries(1):
        warnings = keys_needing_attention(now=NOW)
        # What the dashboard reads from each entry is already loaded.
        owners = {w.key.owner.username for w in warnings if w.key.project.team}
    assert len(warnings) == 6
    assert owners == {admin.username}


def warning_events():
    return list(
        AuditEvent.objects.filter(action="key.expiry_warning")
        .order_by("id")
        .values_list("target_id", "details")
    )


def test_task_records_each_warning_once(admin, environment):
    environment.max_key_age_days = 30
    environment.save()
    expiring, _ = make_key(admin, environment=environment, expires_at=NOW + 2 * DAY)
    old, _ = make_key(admin, environment=environment)
    aged(expiring, created_days_ago=1)
    aged(old, created_days_ago=31)

    first = send_key_warnings(now=NOW.isoformat())
    second = send_key_warnings(now=NOW.isoformat())

    assert first == {"due": 2, "overdue": 1, "sent": 2}
    assert second == {"due": 2, "overdue": 1, "sent": 0}
    assert warning_events() == [
        (
            str(old.pk),
            {
                "reason": "max_age",
                "level": "overdue",
                "due_at": (NOW - DAY).isoformat(),
            },
        ),
        (
            str(expiring.pk),
            {
                "reason": "expires",
                "level": "3 days",
                "due_at": (NOW + 2 * DAY).isoformat(),
            },
        ),
    ]


def test_task_warns_again_at_the_next_step_and_after_a_new_due_date(admin, environment):
    key, _ = make_key(admin, environment=environment, expires_at=NOW + 6 * DAY)
    send_key_warnings(now=NOW.isoformat())
    send_key_warnings(now=(NOW + 2 * DAY).isoformat())  # still the 7-day step
    send_key_warnings(now=(NOW + 4 * DAY).isoformat())  # 2 days left: 3-day step
    VendorKey.objects.filter(pk=key.pk).update(expires_at=NOW + 10 * DAY)
    send_key_warnings(now=(NOW + 4 * DAY).isoformat())  # extended: 6 days left
    levels = [(d["level"], d["due_at"][:10]) for _, d in warning_events()]
    assert levels == [
        ("7 days", "2026-03-16"),
        ("3 days", "2026-03-16"),
        ("7 days", "2026-03-20"),
    ]


def test_task_logs_a_summary_and_never_the_secret(admin, environment, caplog):
    key, secret = make_key(admin, environment=environment, expires_at=NOW - DAY)
    with caplog.at_level(logging.INFO, logger="apps.vault.tasks"):
        send_key_warnings(now=NOW.isoformat())
    assert "1 due within the horizon (1 overdue), 1 new" in caplog.text
    event = AuditEvent.objects.get(action="key.expiry_warning")
    assert event.actor is None and event.target_id == str(key.pk)
    assert secret not in caplog.text
    assert secret not in json.dumps(event.details) + event.target_repr


def test_task_with_nothing_due_records_nothing(admin, environment):
    make_key(admin, environment=environment, expires_at=NOW + 30 * DAY)
    assert send_key_warnings(now=NOW.isoformat()) == {
        "due": 0,
        "overdue": 0,
        "sent": 0,
    }
    assert warning_events() == []
